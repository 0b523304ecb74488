"""Admin payments: failed and suspicious payments, refund requests waiting for approval (and whether they
must), wallets with an amount due, recent refunds, and the daily reconciliation with Razorpay."""
from functools import partial

import pandas as pd
import streamlit as st

import app_ui as ui
from services import clock, payments, settings

me = ui.admin_page("Payments")["username"]
ui.times_note()
db = ui.get_db()
KIND = {"failed": "Failed", "suspicious": "Suspicious", "unmatched": "Unmatched webhook",
        "rejected": "Rejected webhook"}

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
        "When": ui.when(f.get("at")), "Amount": ui.rupees(f.get("amount_paise")), "User": f.get("user_id") or "",
        "Kind": KIND.get(f["kind"], f["kind"]), "Reason": f.get("reason", ""), "Times": f.get("count", 1),
        "Reference": f.get("payment_id") or f.get("payment_link_id") or f.get("reference_id") or ""}
        for f in view.failed]), pinned=("When", "Amount"), wrap=("Reason",), key="failed_payments")

# --- Refund requests waiting for a decision
st.subheader("Refund approvals")
need = st.toggle("Self-serve refunds wait for an admin's approval", value=view.approval_required,
                 key="refund_approval")
if need != view.approval_required:
    settings.set_value(db, "refund_approval_required", int(need), by=me)
    ui.invalidate("settings")
    ui.flash("Refund requests " + ("now wait for approval." if need else "now go to Razorpay at once."))
    st.rerun()
if not view.waiting:
    st.caption("No refund request is waiting.")
for r in view.waiting:
    with st.container(border=True):
        a, b, c = st.columns([3, 1, 1], vertical_alignment="center")
        a.markdown(f"**{r['user_id']}** asks for **{ui.rupees(r['amount_paise'])}** "
                   f"({ui.plural(len(r['parts']), 'payment')}) · {ui.when(r['created_at'])}")
        decision = None
        if b.button("Approve", key=f"ok_{r['request_id']}", type="primary"):
            decision = partial(payments.approve_refund_request, db, r["request_id"], by=me)
        if c.button("Reject", key=f"no_{r['request_id']}"):
            decision = partial(payments.reject_refund_request, db, r["request_id"], by=me)
        if decision:
            try:
                done = decision()
            except Exception as exc:
                ui.show_error(exc)
            else:
                ui.flash(f"Refund request of {r['user_id']}: {done['status']}.")
                st.rerun()

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
    ui.money_table([dict(r, at=ui.when(r["created_at"]), note=r.get("reason") or "") for r in view.requests],
                   {"at": "Asked", "user_id": "User", "amount_paise": "Amount", "refunded_paise": "Refunded",
                    "status": "Status", "decided_by": "Decided by", "note": "Note"})
if view.refunds:
    ui.money_table([dict(r, at=ui.when(r["created_at"]), outcome=r.get("outcome") or "") for r in view.refunds],
                   {"at": "When", "user_id": "User", "payment_id": "Payment", "amount_paise": "Refund",
                    "debited_paise": "Debited", "amount_due_paise": "Became due", "status": "Status",
                    "outcome": "Outcome"})
if not view.requests and not view.refunds:
    st.caption("No refunds yet.")

# --- Daily reconciliation
st.subheader("Daily reconciliation with Razorpay")
if not view.reports:
    st.caption(f"No day reconciled yet: the worker reconciles each day an hour after it ends ({clock.abbr()}).")
else:
    st.dataframe(pd.DataFrame([{
        "Day": r.get("day"), "Status": r.get("status"), "Payments": r.get("payments_checked"),
        "Matched": r.get("matched"), "Credits": r.get("credits_checked"), "Refunds": r.get("refunds_checked"),
        "Unmatched payments": r.get("unmatched_payments_count"),
        "Unmatched credits": r.get("unmatched_credits_count")} for r in view.reports]),
        hide_index=True, width="stretch")
    rows = [{"day": r.get("day"), "what": what, "user_id": u.get("user_id") or "", "payment_id": u.get("payment_id"),
             "amount_paise": u.get("amount_paise"), "reason": u.get("reason") or ""}
            for r in view.reports for what in ("payment", "credit") for u in r.get(f"unmatched_{what}s") or []]
    if rows:
        ui.money_table(rows, {"day": "Day", "what": "Unmatched", "user_id": "User", "payment_id": "Payment",
                              "amount_paise": "Amount", "reason": "Why"})
    else:
        st.success("Every captured payment matches exactly one wallet credit.", icon=":material/verified:")
