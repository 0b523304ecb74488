"""Admin payments: failed and suspicious payments, wallets with an amount due, recent refund requests and
refunds, and the daily reconciliation with Razorpay. (Refund approvals are on Credits & refunds.)"""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import clock, names, payments

me = ui.admin_page("Payments")["username"]
ui.times_note()
db = ui.get_db()

try:
    view = payments.admin_page(db)
except Exception as exc:  # shown with a reference, the page stays up
    ui.show_error(exc)
    st.stop()


st.subheader("Failed and suspicious payments")
if not view.failed:
    st.success("No failed or suspicious payments.", icon=":material/verified:")
else:
    ui.table(pd.DataFrame([{
        "When": ui.when(f.get("at")), "Amount": ui.rupees(f.get("amount_paise")), "User": f.get("user_id") or "—",
        "Kind": names.label(names.PAYMENT_EVENT, f["kind"]), "Reason": f.get("reason", ""), "Times": f.get("count", 1),
        "Reference": f.get("payment_id") or f.get("payment_link_id") or f.get("reference_id") or "—"}
        for f in view.failed]), pinned=("When", "Amount"), wrap=("Reason",), key="failed_payments")
st.page_link("app_pages/admin/credits.py", label="Refund requests waiting for approval: Credits & refunds",
             icon=":material/undo:")

# --- Amounts due
st.subheader("Amounts due")
if not view.amounts_due:
    st.caption("No wallet owes an amount due.")
else:
    ui.money_table([{"user": d.user_id, "due_paise": d.due, "balance_paise": d.balance} for d in view.amounts_due],
                   {"user": "User", "due_paise": "Amount due", "balance_paise": "Balance"})

# --- Refunds
st.subheader("Refunds")
if view.requests:
    ui.money_table([dict(r, at=ui.when(r["created_at"]), note=r.get("reason") or "",
                         state=names.label(names.REFUND_REQUEST, r["status"]), by=r.get("decided_by") or "—")
                    for r in view.requests],
                   {"at": "Asked", "user_id": "User", "amount_paise": "Amount", "refunded_paise": "Sent to Razorpay",
                    "state": "Status", "by": "Decided by", "note": "Note"}, pinned=("Asked", "User"))
if view.refunds:
    ui.money_table([dict(r, at=ui.when(r["created_at"]), state=names.label(names.REFUND_STATUS, r["status"]),
                         outcome=names.label(names.REFUND_OUTCOME, r.get("outcome")) or "—") for r in view.refunds],
                   {"at": "When", "user_id": "User", "payment_id": "Payment", "amount_paise": "Refund",
                    "debited_paise": "Taken from wallet", "amount_due_paise": "Became due", "state": "Status",
                    "outcome": "In the wallet"}, pinned=("When", "User"))
if not view.requests and not view.refunds:
    st.caption("No refunds yet.")

# --- Daily reconciliation
st.subheader("Daily reconciliation with Razorpay")
if not view.reports:
    st.caption(f"No day reconciled yet: the worker reconciles each day an hour after it ends ({clock.abbr()}).")
else:
    st.dataframe(pd.DataFrame([{
        "Day": ui.day(r["day"]) if r.get("day") else "—", "Status": names.label(names.RECONCILIATION, r.get("status")),
        "Payments": r.get("payments_checked"),
        "Matched": r.get("matched"), "Credits": r.get("credits_checked"), "Refunds": r.get("refunds_checked"),
        "Unmatched payments": r.get("unmatched_payments_count"),
        "Unmatched credits": r.get("unmatched_credits_count")} for r in view.reports]),
        hide_index=True, width="stretch")
    what_ = {"payment": "Payment", "credit": "Wallet credit"}
    rows = [{"day": ui.day(r["day"]) if r.get("day") else "—", "what": what_[what], "user_id": u.get("user_id") or "",
             "payment_id": u.get("payment_id"),
             "amount_paise": u.get("amount_paise"), "reason": u.get("reason") or ""}
            for r in view.reports for what in ("payment", "credit") for u in r.get(f"unmatched_{what}s") or []]
    if rows:
        ui.money_table(rows, {"day": "Day", "what": "Unmatched", "user_id": "User", "payment_id": "Payment",
                              "amount_paise": "Amount", "reason": "Why"})
    else:
        st.success("Every captured payment matches exactly one wallet credit.", icon=":material/verified:")
