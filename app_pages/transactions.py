"""Transactions: every rupee in and out, newest first, filtered and paged (never the whole ledger at once),
with a CSV of the filtered set."""
from datetime import timedelta

import pandas as pd
import streamlit as st

import app_ui as ui
from services import ledger, names, reports
from services.errors import WalletError

PAGE_SIZE = 25
CATEGORY_LABELS = ui.CATEGORY_LABELS

acct = ui.customer_page("transactions")
uid = acct.account
db = ui.get_db()

st.title("Transactions")
ui.times_note()

today = reports.today()
f1, f2, f3 = st.columns([1, 1, 2])
kind = f1.selectbox("Type", ["All", "Credits (money in)", "Debits (money out)"], key="tx_type")
cat = f2.selectbox("Category", ["All"] + list(ledger.CATEGORIES), key="tx_cat",
                   format_func=lambda c: CATEGORY_LABELS.get(c, c))
picked = f3.date_input("Dates", value=(today - timedelta(days=29), today), max_value=today,
                       key="tx_dates", format=ui.DATE_INPUT)
if not isinstance(picked, (tuple, list)) or len(picked) != 2:
    st.info("Pick an end date to see the transactions.")
    st.stop()

type_ = {"Credits (money in)": "credit", "Debits (money out)": "debit"}.get(kind)
category = None if cat == "All" else cat
try:
    start, end = reports.day_range(picked[0], picked[1])
except WalletError as exc:
    ui.show_error(exc)
    st.stop()

# Cursor paging: a stack of the `before_seq` of each page seen, reset whenever a filter changes.
sig = (type_, category, start, end)
if st.session_state.get("tx_sig") != sig:
    st.session_state.tx_sig = sig
    st.session_state.tx_cursors = [None]
cursors = st.session_state.tx_cursors
try:
    rows, next_cursor = ledger.entries(db, uid, type=type_, category=category, start=start, end=end,
                                       before_seq=cursors[-1], limit=PAGE_SIZE)
except WalletError as exc:
    ui.show_error(exc)
    st.stop()

if not rows and next_cursor is not None:
    st.info("Nothing matched in the stretch of history searched so far: press Older to keep looking.")
elif not rows:
    st.info("No transactions match these filters." if len(cursors) == 1 else "No more transactions.")
else:
    df = pd.DataFrame([{
        "When": ui.when(e["created_at"]),
        "Type": "Credit" if e["type"] == "credit" else "Debit",
        "Category": CATEGORY_LABELS.get(e["category"], e["category"]),
        "Amount": ("+ " if e["type"] == "credit" else "− ") + ui.rupees(e["amount"]),
        "Balance after": ui.rupees(e["balance_after"]),
        "Details": e.get("note") or names.usage_detail(e) or e.get("source") or "",
    } for e in rows])
    ui.table(df, pinned=("When", "Amount"), wrap=("Details",),
             column_config={"Amount": st.column_config.TextColumn(help="+ money in, − money out", pinned=True)})

p1, p2, p3 = st.columns([1, 1, 4], vertical_alignment="center")
if p1.button("Newer", icon=":material/chevron_left:", disabled=len(cursors) == 1):
    cursors.pop()
    st.rerun()
if p2.button("Older", icon=":material/chevron_right:", disabled=next_cursor is None):
    cursors.append(next_cursor)
    st.rerun()
p3.caption(f"Page {len(cursors)} · {PAGE_SIZE} per page · newest first")


def _csv() -> str:
    # Built when clicked, from the same filters, streamed from the ledger in chunks.
    return "".join(reports.export_csv(db, user_id=uid, type=type_, category=category, start=start, end=end))


st.download_button("Download CSV of these filters", data=_csv,
                   file_name=ui.csv_name("transactions", uid, type_ and type_ + "s", category, first=picked[0],
                                         last=picked[1]),
                   mime="text/csv", on_click="ignore", icon=":material/download:")
