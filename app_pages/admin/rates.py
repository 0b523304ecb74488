"""Admin call rates: the global per-minute rate, a user's own rate, and the history of both."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import settings
from services.errors import WalletError

me = ui.admin_page("Call rates")["username"]
db = ui.get_db()

cfg = settings.get(db)  # fresh, not the cached copy: this page is where it changes
st.metric("Global call rate", f"{ui.rupees(cfg['call_rate_paise'])} / minute", border=True)
a, b = st.columns(2)
with a, st.form("rate_global", clear_on_submit=True):
    st.markdown("**Change the global rate**")
    r = st.text_input("Rupees per minute", placeholder="e.g. 12 or 9.50")
    if st.form_submit_button("Set global rate"):
        try:
            settings.set_call_rate(db, r, by=me)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            ui.invalidate("settings")
            ui.flash("Global rate changed; the next call is priced at it.")
            st.rerun()
with b, st.form("rate_user", clear_on_submit=True):
    st.markdown("**A user's own rate**")
    who = st.text_input("Username")
    r = st.text_input("Rupees per minute (empty = back to the global rate)")
    if st.form_submit_button("Set user rate"):
        try:
            settings.set_call_rate(db, r.strip() or None, by=me, user_id=who.strip().lower())
        except WalletError as exc:
            ui.show_error(exc)
        else:
            ui.flash(f"Rate for {who.strip().lower()} updated.")
            st.rerun()


def _val(name: str, v) -> str:
    return "—" if v is None else (ui.rupees(v) if name.endswith("_paise") else str(v))


st.subheader("Change history")
ui.times_note()
COLUMNS = ["When", "Scope", "Setting", "Old", "New", "By"]
st.dataframe(pd.DataFrame([{"When": ui.when(h["at"]),
                            "Scope": "Global" if h["scope"] == "global" else h["scope"].removeprefix("user:"),
                            "Setting": h["name"], "Old": _val(h["name"], h["old"]),
                            "New": _val(h["name"], h["new"]), "By": h["by"]} for h in settings.history(db)],
                          columns=COLUMNS), hide_index=True, width="stretch")
