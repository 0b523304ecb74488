"""Cancelling an unpaid payment link through Razorpay's cancel API, by its owner or an admin.

Razorpay is asked first; our record follows Razorpay's answer (the same settle as every other path), so
a link that was paid meanwhile is credited, not shown as cancelled. A link cancelled or expired on
Razorpay's side reaches our record through its webhook or reconciliation, not through here.
"""
from __future__ import annotations

from services.errors import Conflict, InvalidInput, NotFound, PaymentUnavailable
from services.payments import crediting, gateway, links, records
from services.payments.outcomes import CHECK_LATER
from services.payments.reconciliation import reconcile
from services.payments.records import OPEN, valid_id


def cancel_link(db, link_id: str, *, user_id: str | None = None, by: str | None = None) -> dict:
    """Cancel one of our unpaid links (by reference_id or plink id). `user_id`: only that user's own (else
    NotFound); `by`: the admin doing it. Returns the record's public shape, status "cancelled" (also when
    it already was). Raises Conflict when Razorpay says it is paid, expired or still being created (the
    record then shows what it is), PaymentUnavailable when Razorpay cannot be asked."""
    rec = records.lookup(db, link_id, ("payment_link_id", "order_id")) if valid_id(link_id) else None
    if rec is None or (user_id is not None and rec["user_id"] != user_id):
        raise NotFound("No such payment link.")
    if rec["kind"] != "link":
        raise InvalidInput("Only payment links can be cancelled.")
    if rec["status"] == "cancelled":
        return records.public(rec)
    if rec["status"] not in OPEN:
        raise Conflict(f"This payment link is {rec['status']}; it cannot be cancelled.")
    cfg = gateway.required()
    try:
        link = _cancel_at_razorpay(db, cfg, rec)
    except gateway.FAILURES:
        raise PaymentUnavailable(CHECK_LATER) from None
    if link is not None:
        crediting.settle_link(db, records.fresh(db, rec["_id"]), link, source="cancel")
    now = records.fresh(db, rec["_id"])
    if now["status"] == "not_created":  # it never reached Razorpay: nothing to cancel
        return records.public(now)
    if now["status"] != "cancelled":
        raise Conflict(f"This payment link is {now['status']} at Razorpay; it was not cancelled.")
    records.update(db, rec["_id"], {"cancelled_by": by or user_id or "system"})
    return records.public(records.fresh(db, rec["_id"]))


def _cancel_at_razorpay(db, cfg, rec: dict) -> dict | None:
    """Razorpay's link after asking it to cancel: cancelled, or as it is when it refuses (paid, expired).
    None: the link never reached Razorpay (our record is closed as not created)."""
    if rec.get("payment_link_id") is None:  # the create's answer was lost: find it first
        reconcile(db, cfg, rec)
        rec = records.fresh(db, rec["_id"])
        if rec["status"] not in OPEN:
            return None
        if rec.get("payment_link_id") is None:
            raise Conflict("This payment link is still being created at Razorpay; try again in a minute.")
    try:
        return gateway.cancel_payment_link(cfg, rec["payment_link_id"])
    except gateway.RazorpayRefused:
        return links.fetch_link(cfg, rec, rec["payment_link_id"])
