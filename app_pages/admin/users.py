"""Admin users: every account with its balance (searched and sorted), and password resets."""
import streamlit as st

import app_ui as ui
from services import reports, users
from services.errors import WalletError

me = ui.admin_page("Users")["username"]
db = ui.get_db()

a, b, c = st.columns([3, 2, 1], vertical_alignment="bottom")
q = a.text_input("Search by name, username, e-mail or phone", key="adm_search")
sort = b.selectbox("Sort by", list(reports.USER_SORTS), key="adm_sort",
                   format_func=lambda k: k.replace("_", " ").capitalize())
desc = c.toggle("Highest / latest first", value=True, key="adm_desc")
try:
    rows = reports.user_balances(db, search=q, sort=sort, descending=desc)
except WalletError as exc:
    ui.show_error(exc)
    rows = []
st.caption(f"{ui.plural(len(rows), 'account')}" + (f" matching {q.strip()!r}" if q.strip() else ""))
ui.money_table([dict(r, role=ui.ROLE_LABELS.get(r["role"], r["role"]), last=ui.when(r["last_activity"]) or "never")
                for r in rows],
               {"username": "Username", "name": "Name", "balance_paise": "Balance", "available_paise": "Available",
                "last": "Last activity", "role": "Role", "email": "E-mail", "phone": "Phone",
                "held_paise": "Held"}, pinned=("Username", "Balance"))

st.subheader("Reset a password")
with st.form("reset_pw", clear_on_submit=True):
    who = st.text_input("Username")
    pw = st.text_input("New password (at least 8 characters)", type="password")
    if st.form_submit_button("Set password", icon=":material/key:"):
        try:
            users.set_password(db, who.strip().lower(), pw, by=me)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            ui.invalidate("users")
            st.success(f"Password for {who.strip().lower()} changed. Tell them through a channel you trust.")
