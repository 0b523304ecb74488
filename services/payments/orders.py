"""The older Checkout flow: a Razorpay order, then Checkout's signed answer verified and credited.

Same record (`kind: "order"`, `_id` = the order's receipt), same crediting key (`razorpay:<pay_id>`) as
payment links, so `payment.captured`/`order.paid` webhooks and reconciliation can never double it.
"""
from __future__ import annotations

from services.errors import InvalidPayment, PaymentUnavailable
from services.payments import charge, crediting, gateway, records, webhooks
from services.payments.admin import Refusal
from services.payments.outcomes import ALREADY_CREDITED, CONFIRM_LATER, CREDITED, DOWN_MESSAGE, PENDING
from services.payments.records import to_int, valid_id

_INVALID = "The payment confirmation is not valid."


def create_order(db, user_id: str, amount) -> dict:
    """A Razorpay order for `amount` rupees. dict(order_id, amount_paise, currency)."""
    cfg = gateway.required()
    user, rec = records.create(db, "order", user_id, amount, cfg.mode)
    ref, paise = rec["_id"], rec["amount_paise"]
    try:
        order = gateway.create_order(cfg, {"amount": charge.charged(rec), "currency": "INR", "receipt": ref,
                                           "notes": {"user_id": user["username"], "reference_id": ref}})
        _check_order(order, rec)
    except gateway.FAILURES as exc:
        records.update(db, ref, {"last_error": str(exc)[:300]}, status="error_creating")
        raise PaymentUnavailable(DOWN_MESSAGE) from None
    records.update(db, ref, {"order_id": order["id"], "last_error": None}, status="created")
    webhooks.adopt_events(db, ref)
    return {"order_id": order["id"], "amount_paise": paise, "charged_paise": charge.charged(rec), "currency": "INR"}


def _check_order(order: dict, rec: dict) -> None:
    """The order Razorpay returned must be the one we asked for; otherwise treat the answer as garbage."""
    if not (isinstance(order.get("id"), str) and order["id"].startswith("order_")
            and to_int(order.get("amount")) == charge.charged(rec) and order.get("receipt") == rec["_id"]):
        raise gateway.RazorpayDown("order answer does not match the request")


def verify_order_payment(db, user_id: str, order_id: str, payment_id: str, signature: str) -> dict:
    """Checkout's answer: check `order_id|payment_id` is signed with our key secret, the order is ours and
    this user's, then credit what Razorpay captured (fetched). dict(outcome, amount_paise, balance_paise),
    outcome credited | already_credited | pending."""
    cfg = gateway.required()
    details = {"order_id": str(order_id)[:64], "payment_id": str(payment_id)[:64]}
    check = Refusal(db, "order", user_id=user_id, payment_id=details["payment_id"], details=details)
    rec = _our_order(check, cfg, user_id, order_id, payment_id, signature)
    pay = _fetch_payment(check, cfg, order_id, payment_id)
    if pay.get("status") == "authorized":  # captured shortly; webhook or reconcile credit it then
        return _answer(db, user_id, PENDING)
    _require_captured(db, rec, pay)
    result = crediting.settle_payment(db, rec, pay, source="order")
    if result.flagged:
        raise InvalidPayment("This payment could not be credited; it has been flagged for review.")
    if not result.credited:  # another path is mid-way through this very credit
        return _answer(db, user_id, PENDING)
    return _answer(db, user_id, CREDITED if result.new else ALREADY_CREDITED, result.amount)


def _our_order(check: Refusal, cfg, user_id: str, order_id, payment_id, signature) -> dict:
    if not (valid_id(order_id) and valid_id(payment_id) and isinstance(signature, str)):
        check.refuse("order payment with malformed ids", "The payment details are not valid.")
    if not gateway.verify_order_signature(cfg, order_id, payment_id, signature):
        check.refuse("order payment signature does not match", _INVALID)
    rec = records.find(check.db, {"order_id": order_id})
    if rec is None or rec.get("kind") != "order":
        check.refuse("payment for an unknown order", "This order is not known here.")
    if rec["user_id"] != user_id:
        check.refuse(f"order payment replayed by another user (order belongs to {rec['user_id']})",
                     "This payment belongs to a different account.")
    return rec


def _fetch_payment(check: Refusal, cfg, order_id: str, payment_id: str) -> dict:
    try:
        pay = gateway.fetch_payment(cfg, payment_id)
    except gateway.FAILURES:
        raise PaymentUnavailable(CONFIRM_LATER) from None
    if pay.get("id") != payment_id or pay.get("order_id") != order_id:
        check.refuse("payment is not on this order", _INVALID)
    return pay


def _require_captured(db, rec: dict, pay: dict) -> None:
    if crediting.is_captured(pay):
        return
    status = pay.get("status")
    if status == "failed":
        crediting.note_failed(db, rec, pay, source="order")
    raise InvalidPayment(f"The payment is {status or 'not complete'}; nothing was credited.")


def _answer(db, user_id: str, outcome: str, amount: int = 0) -> dict:
    return {"outcome": outcome, "amount_paise": amount if outcome != PENDING else 0,
            "balance_paise": crediting.balance(db, user_id)}
