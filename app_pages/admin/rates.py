"""Admin call rates: the global rate, rate plans, each customer's plan, own rate and limits, the changes
still ahead and the history. Every change takes effect now or at a chosen time and is audited."""
from datetime import datetime

import pandas as pd
import streamlit as st

import app_ui as ui
from services import audit, clock, pricing, rates, settings
from services.errors import WalletError

me = ui.admin_page("Call rates")["username"]
db = ui.get_db()


def when_input(key: str) -> datetime | None:
    """'Takes effect' inputs in a form: no date = now."""
    d, t = st.columns(2)
    day = d.date_input(f"Takes effect on ({clock.abbr()}; empty = now)", value=None, key=f"{key}_day",
                       format=ui.DATE_INPUT)
    at = t.time_input(f"at ({clock.abbr()})", value=None, key=f"{key}_time")
    return None if day is None else clock.at_local(day, at)


def done(message: str, when: datetime | None) -> None:
    ui.invalidate("settings")
    ui.flash(message if when is None else f"{message.split(';')[0]} from {ui.when(when, '%H:%M on %d %b %Y')} "
                                          f"{clock.abbr()}; customers see it ahead on their wallet page.")
    st.rerun()


cfg = settings.get(db)  # fresh, not the cached copy: this page is where it changes
st.metric("Global call rate", f"{ui.rupees(cfg['call_rate_paise'])} / minute", border=True)
a, b = st.columns(2)
with a, st.form("rate_global", clear_on_submit=True):
    st.markdown("**Change the global rate** (the standard plan)")
    r = st.text_input("Rupees per minute", placeholder="e.g. 12 or 9.50")
    when = when_input("g")
    if st.form_submit_button("Set global rate"):
        try:
            rates.set_call_rate(db, r, by=me, at=when)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            done("Global rate changed; the next call is priced at it.", when)
with b, st.form("rate_user", clear_on_submit=True):
    st.markdown("**A user's own rate**")
    who = st.text_input("Username")
    r = st.text_input("Rupees per minute (empty = back to their plan's rate)")
    when = when_input("u")
    if st.form_submit_button("Set user rate"):
        try:
            rates.set_call_rate(db, r.strip() or None, by=me, user_id=who.strip().lower(), at=when)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            done(f"Rate for {who.strip().lower()} updated.", when)

st.subheader("Rate plans")
plans = rates.list_plans(db)
st.markdown("\n".join(f"- **{p['name']}**: {p['description']}" + (f" ({len(p['ahead'])} change(s) ahead)"
                                                                  if p["ahead"] else "") for p in plans))
RULES = {f"{a}/{b}": (a, b) for a, b in pricing.INCREMENT_RULES}
with st.form("plan", clear_on_submit=True):
    st.markdown("**Create or change a plan** (calls already started keep their terms)")
    c1, c2, c3, c4, c5 = st.columns(5)
    name = c1.text_input("Plan name", placeholder="business")
    rate = c2.text_input("Rupees per minute", placeholder="8.50")
    rule = c3.selectbox("Increments (first/then, s)", list(RULES))
    minimum = c4.number_input("Minimum billed (s)", min_value=0, max_value=pricing.MAX_MIN_BILLABLE, value=0)
    fee = c5.text_input("Unanswered attempt fee (Rs.)", value="0")
    when = when_input("p")
    if st.form_submit_button("Save plan"):
        try:
            rates.define_plan(db, name, rate=rate, initial_seconds=RULES[rule][0], subsequent_seconds=RULES[rule][1],
                              min_billable_seconds=int(minimum), attempt_fee=fee, by=me, at=when)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            done(f"Plan {name.strip().lower()} saved.", when)

st.subheader("A customer's terms")
with st.form("customer", clear_on_submit=True):
    st.markdown("**Plan and limits** (empty fields stay as they are)")
    c1, c2, c3, c4 = st.columns(4)
    who = c1.text_input("Customer username")
    plan = c2.selectbox("Plan", ["(no change)"] + [p["name"] for p in plans])
    cap = c3.text_input("Daily spend limit, Rs. ('none' removes it)")
    most = c4.number_input("Simultaneous calls (0 = the default)", min_value=0, max_value=1000, value=None,
                           help=f"The default is {cfg['max_concurrent_calls']}.")
    when = when_input("c")
    if st.form_submit_button("Save customer terms"):
        changes = {}
        if plan != "(no change)":
            changes["plan"] = plan
        if cap.strip():
            changes["daily_cap"] = None if cap.strip().lower() == "none" else cap
        if most is not None:
            changes["max_concurrent_calls"] = int(most) or None
        try:
            rates.set_customer_terms(db, who.strip().lower(), changes, by=me, at=when)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            done(f"Terms for {who.strip().lower()} saved.", when)
look = st.text_input("Show a customer's terms", placeholder="username", key="look")
if look.strip():
    try:
        t = rates.customer_terms(db, look.strip().lower())
    except WalletError as exc:
        ui.show_error(exc)
    else:
        cap_text = ui.rupees(t["daily_cap_paise"]) if t["daily_cap_paise"] else "none"
        st.info(f"**{t['plan']}**: {t['description']}. Daily spend limit: {cap_text}; up to "
                f"{t['max_concurrent_calls']} calls at once." +
                "".join(f"\n\nFrom {ui.when(u['effective_at'], '%H:%M on %d %b %Y')}: {u['description']}."
                        for u in t["upcoming"]), icon=":material/person:")


st.subheader("Changes ahead")
ahead = settings.changes_ahead(db)
if not ahead:
    st.caption("None scheduled.")
for ch in ahead:
    row = audit.setting_row({"scope": ch["scope"], "name": ch["name"], "old": None, "new": ch["value"],
                             "at": ch["at"], "effective_at": ch["at"]})
    x, y = st.columns([6, 1], vertical_alignment="center")
    x.markdown(f"**{ui.when(ch['at'], '%H:%M on %d %b %Y')}** · {row['scope']} · {row['setting']} → {row['new']}")
    if y.button("Withdraw", key=f"cancel_{ch['id']}"):
        try:
            settings.cancel(db, ch["id"], by=me)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            done("Change withdrawn.", None)

st.subheader("Change history")
ui.times_note()
st.caption("Every change with who made it; the Audit log page has all of them, filtered and as CSV.")
# Who and what first, "Takes effect" (mostly the same as When) last: at 1280 px every column up to New is in
# view (New and By were cut off behind a wide Old).
COLUMNS = ["When", "Setting", "Scope", "By", "Old", "New", "Takes effect"]
hist = [(h, audit.setting_row(h)) for h in settings.history(db)]
ui.table(pd.DataFrame([{"When": ui.when(h["at"]), "Takes effect": ui.when(h["effective_at"]), "Scope": r["scope"],
                        "Setting": r["setting"] + (" (withdrawn)" if h.get("cancels") else ""),
                        "Old": r["old"] or "—", "New": r["new"] or "—", "By": h["by"] or "—"} for h, r in hist],
                      columns=COLUMNS),
         pinned=("When", "Setting"), column_config={"Old": st.column_config.TextColumn(width=180),
                                                    "New": st.column_config.TextColumn(width=180),
                                                    "Scope": st.column_config.TextColumn(width=110),
                                                    "By": st.column_config.TextColumn(width=70)})
