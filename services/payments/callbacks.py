"""The redirect back to the wallet page after a payment on Razorpay's hosted page.

Steps: verify the signature -> identify our record (known, the caller's) -> fetch the link from Razorpay
-> settle it -> describe the outcome. No amount is ever taken from the query string.
"""
from __future__ import annotations

from services.errors import InvalidInput
from services.payments import charge, crediting, gateway, links, records
from services.payments.admin import Refusal
from services.payments.crediting import Credit
from services.payments.outcomes import ALREADY_CREDITED, CREDITED, PENDING, REVIEW, callback_result
from services.payments.records import valid_id

FIELDS = ("razorpay_payment_id", "razorpay_payment_link_id", "razorpay_payment_link_reference_id",
          "razorpay_payment_link_status", "razorpay_signature")
# Amounts a tampered redirect might carry; only ever compared with what Razorpay captured, never used.
_AMOUNT_KEYS = ("amount", "razorpay_amount", "amount_paise")
_INVALID = "The payment confirmation is not valid."


class _Callback(Refusal):
    """The redirect's parameters, and a Refusal that records who sent them."""

    def __init__(self, db, user_id: str, params: dict):
        self.params, self.user_id = params, user_id
        self.p = {k: (params.get(k) if isinstance(params.get(k), str) else None) for k in FIELDS}
        self.ref = self.p["razorpay_payment_link_reference_id"]
        self.plink, self.pay_id = self.p["razorpay_payment_link_id"], self.p["razorpay_payment_id"]
        shown = {k: str(v)[:100] for k, v in params.items() if k != "razorpay_signature"}
        super().__init__(db, "callback", user_id=user_id, details=shown, payment_id=self.pay_id,
                         payment_link_id=self.plink, reference_id=self.ref)


def handle_callback(db, user_id: str, params: dict) -> dict:
    """Returns dict(outcome, message, amount_paise), outcome credited | already_credited | pending | review
    (credited only when a ledger entry holds the payment).
    Raises InvalidPayment (forged, unknown, another user's, closed link; recorded for admins) or
    PaymentUnavailable (payments off). Razorpay unreachable -> "pending" with a message saying it will be
    credited automatically (nothing is credited from the unverified redirect meanwhile)."""
    cfg = gateway.required()
    if not isinstance(params, dict):
        raise InvalidInput("Payment details are missing.")
    cb = _Callback(db, user_id, params)
    _verify(cb, cfg)
    rec = _our_record(cb)
    link = _fetch(cb, cfg, rec)
    if link is None:
        return callback_result(PENDING)
    mine = crediting.settle_link(db, rec, link, source="callback")["payments"].get(cb.pay_id)
    _note_amounts(cb, mine)
    return _describe(cb, link, mine, charge.gst_of(rec))


def _verify(cb: _Callback, cfg) -> None:
    if any(v is None for v in cb.p.values()):
        cb.refuse("callback with missing parameters", "The payment details are incomplete.")
    if not gateway.verify_link_callback(cfg, cb.p):
        cb.refuse("callback signature does not match", _INVALID)


def _our_record(cb: _Callback) -> dict:
    rec = records.get(cb.db, cb.ref) if valid_id(cb.ref) else None
    if rec is None or rec.get("kind") != "link":
        cb.refuse("callback for an unknown payment link", "This payment link is not known here.")
    if rec.get("payment_link_id") not in (None, cb.plink):
        cb.refuse("callback link id does not match our record", _INVALID)
    if rec["user_id"] != cb.user_id:
        cb.refuse("callback replayed by another user (link belongs to %s)" % rec["user_id"],
                  "This payment belongs to a different account.")
    return rec


def _fetch(cb: _Callback, cfg, rec: dict) -> dict | None:
    """Razorpay's own view of the link; None when it cannot be asked (the customer HAS paid: webhook or
    reconcile will credit it)."""
    assert cb.plink is not None and cb.ref is not None  # _verify refused a callback without them
    try:
        link = links.fetch_link(cfg, rec, cb.plink)
    except gateway.FAILURES as exc:
        records.note_error(cb.db, cb.ref, "callback fetch: ", exc)
        return None
    if link.get("id") != cb.plink or link.get("reference_id") != cb.ref:
        cb.refuse("Razorpay's link does not match the callback", _INVALID)
    return link


def _note_amounts(cb: _Callback, mine: Credit | None) -> None:
    captured = str(mine.amount) if mine else ""
    for k in _AMOUNT_KEYS:
        if k in cb.params and str(cb.params[k]) != captured:
            cb.note(f"callback carried an amount ({str(cb.params[k])[:20]}) that Razorpay did not capture; ignored")


def _describe(cb: _Callback, link: dict, mine: Credit | None, gst: int) -> dict:
    if mine is not None and mine.flagged:
        return callback_result(REVIEW)
    if mine is not None and mine.credited:  # the payer paid the credit plus any GST charged on top
        return callback_result(CREDITED if mine.new else ALREADY_CREDITED, mine.amount, mine.amount + gst)
    if mine is not None:  # another path is finishing this very credit
        return callback_result(PENDING)
    if link.get("status") in ("expired", "cancelled"):
        cb.refuse(f"callback for a link that is {link['status']}, with no such payment",
                  f"This payment link is {link['status']}; nothing was credited.")
    cb.note("callback payment not captured on the link (yet)")
    return callback_result(PENDING)
