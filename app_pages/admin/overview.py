"""Admin overview: money held, today's totals, who spends most, who holds most, who is running low,
and today's transactions."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import reports

ui.admin_page("Overview")
ui.times_note()
db = ui.get_db()
TODAY_ROWS = 200

period = st.segmented_control("Top spenders over", [1, 7, 30, 90], default=30, key="adm_period",
                              format_func=lambda d: "Today" if d == 1 else f"{d} days") or 30
s = ui.admin_summary(top=10, period_days=period)
m = st.columns(3) + st.columns(3)
m[0].metric("Total balance held", ui.rupees(s["total_balance_paise"]), border=True)
m[1].metric("Reserved for live calls", ui.rupees(s["total_held_paise"]), border=True)
m[2].metric("Users", f"{s['users']:,}", border=True)
m[3].metric("Credits today", ui.rupees(s["today_credits_paise"]), border=True)
m[4].metric("Debits today", ui.rupees(s["today_debits_paise"]), border=True)
m[5].metric("Transactions today", f"{s['today_count']:,}", border=True)
c1, c2, c3 = st.columns(3)
with c1:
    st.subheader("Top spenders")
    ui.money_table(s["top_spenders"], {"username": "User", "spent_paise": "Spent"})
with c2:
    st.subheader("Largest balances")
    ui.money_table(s["top_balances"], {"username": "User", "balance_paise": "Balance"})
with c3:
    st.subheader(f"Low balance ({s['low_balance_count']})")
    st.caption(f"Customers with less than {ui.rupees(s['low_balance_paise'])} available")
    ui.money_table(s["low_balance_users"], {"username": "User", "available_paise": "Available"})

st.subheader("Today's transactions")
today_rows = reports.today_transactions(db, limit=TODAY_ROWS)
if not today_rows:
    st.caption("None yet today.")
else:
    if len(today_rows) == TODAY_ROWS:
        st.caption(f"Showing the latest {TODAY_ROWS}; the Analytics page exports all of them.")
    st.dataframe(pd.DataFrame([{
        "Time": ui.when(e["created_at"], "%H:%M:%S"), "User": e["user_id"], "Type": e["type"],
        "Category": e["category"], "Amount": ui.rupees(e["amount"]), "Note": e.get("note", "")}
        for e in today_rows]), hide_index=True, width="stretch")
if st.button("Refresh", icon=":material/refresh:"):
    ui.invalidate("summary")
    st.rerun()
