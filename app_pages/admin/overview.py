"""Admin overview: what needs doing first (business details a receipt lacks, failed payments), money held,
today's totals (what paid recharges put in wallets apart from credits given), who spends most (over a period
picked right there), who holds most, who is running low, and today's transactions.
Customers only in the counts and lists: staff wallets sit at zero by design."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import documents, names, reports

ui.admin_page("Overview")
ui.times_note()
db = ui.get_db()
TODAY_ROWS = 200
FAILED_SHOWN = 5

lacking = documents.business.missing(db)
LACKING = {"legal_name": "legal name", "address": "address", "state": "state", "gstin": "GSTIN", "pan": "PAN",
           "sac": "SAC code", "signatory": "authorised signatory"}
if lacking:  # a default install issues receipts that name no business: said here until it is fixed
    st.warning("Receipts and invoices do not name your business in full yet: "
               f"{', '.join(LACKING[k] for k in lacking)} {'is' if len(lacking) == 1 else 'are'} missing. "
               "Customers' receipts show only \"Voice AI Wallet\" until you fill them in.",
               icon=":material/storefront:")
    st.page_link("app_pages/admin/business.py", label="Complete the business details", icon=":material/edit:")

period = st.session_state.get("adm_period") or 30
s = ui.admin_summary(top=10, period_days=period)
if s["as_of"] is None:
    st.info("The staff views are being built for this database (once, at its first start): figures appear "
            "when that is done.", icon=":material/hourglass_top:")
m = st.columns(3) + st.columns(4)
m[0].metric("Total balance held", ui.rupees(s["total_balance_paise"]), border=True)
m[1].metric("Reserved for live calls", ui.rupees(s["total_held_paise"]), border=True)
m[2].metric("Customers", f"{s['users']:,}", border=True, help=f"Not counting {ui.plural(s['staff'], 'staff account')}")
m[3].metric("Recharges to wallets", ui.rupees(s["today_recharges_paise"]), border=True,
            help="What customers' paid recharges put in their wallets today. GST charged on top of a recharge is "
                 "tax, not wallet money: payers paid that much more.")
m[4].metric("Credits given today", ui.rupees(s["today_free_credits_paise"]), border=True,
            help="Free: manual and promotional credits, refunds back to wallets")
m[5].metric("Money out today", ui.rupees(s["today_debits_paise"]), border=True,
            help="Calls and campaign calls, and refunds to customers' banks")
m[6].metric("Transactions today", f"{s['today_count']:,}", border=True)
st.caption("Today: recharges count what reached customers' wallets (GST charged on top is tax, not in it); money "
           "out is calls and refunds to banks.")

failed = [f for f in s["failed_payments"] if f["kind"] == "failed"]
st.subheader(f"Failed payments ({len(failed) if len(failed) < 100 else '100+'})")
if not failed:
    st.caption("No failed payments lately.")
else:
    ui.table(pd.DataFrame([{
        "When": ui.when(f["at"]), "Customer": f.get("user_id") or "—", "Amount": ui.rupees(f.get("amount_paise")),
        "Reason": f.get("reason") or ""} for f in failed[:FAILED_SHOWN]]),
        pinned=("When", "Customer"), wrap=("Reason",))
    st.page_link("app_pages/admin/payments.py", label="Every failed and suspicious payment: Payments",
                 icon=":material/credit_card_off:")

c1, c2, c3 = st.columns(3)
with c1:
    st.subheader("Top spenders")
    st.selectbox("Over", [1, 7, 30, 90], index=2, key="adm_period",  # fits a third of the page, unlike pills
                 format_func=lambda d: "Today" if d == 1 else f"The last {d} days")
    ui.money_table(s["top_spenders"], {"username": "Customer", "spent_paise": "Spent (calls and services)"})
with c2:
    st.subheader("Largest balances")
    ui.money_table(s["top_balances"], {"username": "Customer", "balance_paise": "Balance"})
with c3:
    st.subheader(f"Low balance ({s['low_balance_count']})")
    st.caption(f"Customers with less than {ui.rupees(s['low_balance_paise'])} available")
    ui.money_table(s["low_balance_users"], {"username": "Customer", "available_paise": "Available"})

st.subheader("Today's transactions")
today_rows = reports.today_transactions(db, limit=TODAY_ROWS)
if not today_rows:
    st.caption("None yet today.")
else:
    if len(today_rows) == TODAY_ROWS:
        st.caption(f"Showing the latest {TODAY_ROWS}; the Analytics page exports all of them.")
    ui.table(pd.DataFrame([{
        "Time": ui.when(e["created_at"], "%H:%M:%S"), "User": e["user_id"],
        "Amount": ("+ " if e["type"] == "credit" else "− ") + ui.rupees(e["amount"]),
        "Category": names.label(names.CATEGORY, e["category"]), "Note": e.get("note", "")}
        for e in today_rows]), pinned=("Time", "User", "Amount"), wrap=("Note",))
if st.button("Refresh", icon=":material/refresh:"):
    ui.invalidate("summary")
    st.rerun()
