"""Refunds: `POST /v1/payments/{id}/refund`, `GET /v1/refunds/{id}`, `GET /v1/payments/{id}/refunds[/{rid}]`,
`GET /v1/refunds`, and Razorpay's auto-refund of payments never captured.

`X-Refund-Idempotency` (Razorpay's "idempotent refund request"): a key of at least 10 letters, digits,
'-' or '_'; a retry with the same key and the same body answers the refund the first request made (never
a second refund); the same key with another body is refused, as Razorpay does.

Rules as Razorpay's Refunds API states them: only captured payments are refunded; several partial
refunds while their sum stays within the captured amount; the payment carries `amount_refunded`,
`refund_status` (null | partial | full) and becomes `status: "refunded"` when fully refunded. A refund
is `pending` until it is `processed` or `failed` (decided by /sandbox/refunds/{id}/process|fail, or at
once with the `refund_mode` setting); a failed refund gives the amount back to the payment. Every
change emits `refund.created|processed|failed` with `payload.refund.entity` and `payload.payment.entity`.
"""
from __future__ import annotations

import json
import re
import secrets

from sandbox.razorpay_server.common import (NOT_FOUND, ApiError, check_amount, check_fields, check_notes, check_str,
                                           new_id)
from sandbox.razorpay_server.core import page

REFUND_FIELDS = {"amount", "speed", "notes", "receipt"}
SPEEDS = ("normal", "optimum")
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{10,100}$")


class RefundsMixin:

    def create_refund(self, payment_id: str, body: dict, idempotency_key: str | None = None) -> dict:
        check_fields(body, REFUND_FIELDS)
        if idempotency_key is not None:
            with self.lock:
                first = self._repeated_request(payment_id, body, idempotency_key)
                if first is not None:
                    return first
                refund = self._create_refund(payment_id, body)
                self.refund_keys[idempotency_key] = {"refund": refund["id"], "payment_id": payment_id,
                                                     "body": _canonical(body)}
                self._save()
                return refund
        return self._create_refund(payment_id, body)

    def _repeated_request(self, payment_id: str, body: dict, key: str) -> dict | None:
        if not _IDEMPOTENCY_KEY.match(key):
            raise ApiError("The idempotency key must be at least 10 characters long and contain only alphabets, "
                           "numbers, hyphens and underscores.", "X-Refund-Idempotency")
        seen = self.refund_keys.get(key)
        if seen is None:
            return None
        if seen["payment_id"] != payment_id or seen["body"] != _canonical(body):
            raise ApiError("Different request with the same idempotency key has already been processed.",
                           reason="NA")
        return dict(self.refunds[seen["refund"]])

    def _create_refund(self, payment_id: str, body: dict) -> dict:
        speed = body.get("speed") or "normal"
        if speed not in SPEEDS:
            raise ApiError("The selected speed is invalid.", "speed")
        notes = check_notes(body.get("notes"))
        receipt = check_str(body["receipt"], "receipt", 40) if body.get("receipt") is not None else None
        with self.lock:
            payment = self._payment(payment_id)
            amount = _refundable(payment, body.get("amount"))
            refund = self._new_refund(payment, amount, speed, notes, receipt)
            self._emit([("refund.created", {"refund": dict(refund), "payment": dict(payment)})])
            if self.refund_mode != "pending":
                self._decide(refund, self.refund_mode)
            self._save()
            return dict(refund)

    def _new_refund(self, payment: dict, amount: int, speed: str, notes, receipt) -> dict:
        refund = {"id": new_id("rfnd_"), "entity": "refund", "amount": amount, "currency": payment["currency"],
                  "payment_id": payment["id"], "notes": notes, "receipt": receipt, "acquirer_data": {"arn": None},
                  "created_at": self.now(), "batch_id": None, "status": "pending", "speed_processed": None,
                  "speed_requested": speed}
        self.refunds[refund["id"]] = refund
        payment["amount_refunded"] += amount
        _follow_refunds(payment)
        return refund

    def decide_refund(self, refund_id: str, outcome: str) -> dict:
        """The bank's answer to a pending refund: "processed" or "failed"."""
        if outcome not in ("processed", "failed"):
            raise ApiError("outcome must be processed or failed", "outcome")
        with self.lock:
            refund = self._refund(refund_id)
            if refund["status"] != "pending":
                raise ApiError(f"refund is already {refund['status']}", "id")
            self._decide(refund, outcome)
            self._save()
            return dict(refund)

    def _decide(self, refund: dict, outcome: str) -> None:
        payment = self.payments[refund["payment_id"]]
        refund["status"] = outcome
        if outcome == "processed":
            refund.update(speed_processed="normal", acquirer_data={"arn": "".join(secrets.choice("0123456789")
                                                                                  for _ in range(12))})
        else:  # the money goes back to the merchant: the payment is refundable again
            payment["amount_refunded"] -= refund["amount"]
            _follow_refunds(payment)
        self._emit([(f"refund.{outcome}", {"refund": dict(refund), "payment": dict(payment)})])

    def auto_refund(self, payment_id: str) -> dict:
        """Razorpay refunds a payment left `authorized` (never captured): its refund webhooks carry
        `payload.payment.entity.captured == false`."""
        with self.lock:
            payment = self._payment(payment_id)
            if payment["status"] != "authorized":
                raise ApiError(f"only an authorized payment is auto-refunded, this one is {payment['status']}")
            refund = self._new_refund(payment, payment["amount"], "normal", [], None)
            self._emit([("refund.created", {"refund": dict(refund), "payment": dict(payment)})])
            self._decide(refund, "processed")
            self._save()
            return dict(refund)

    def _refund(self, refund_id: str) -> dict:
        if refund_id not in self.refunds:
            raise ApiError(NOT_FOUND, "id", reason="NA")
        return self.refunds[refund_id]

    def get_refund(self, refund_id: str) -> dict:
        with self.lock:
            return dict(self._refund(refund_id))

    def payment_refunds(self, payment_id: str, query) -> dict:
        with self.lock:
            self._payment(payment_id)
            return page([r for r in self.refunds.values() if r["payment_id"] == payment_id], query)

    def payment_refund(self, payment_id: str, refund_id: str) -> dict:
        with self.lock:
            refund = self._refund(refund_id)
            if refund["payment_id"] != payment_id:
                raise ApiError(NOT_FOUND, "id", reason="NA")
            return dict(refund)

    def list_refunds(self, query) -> dict:
        with self.lock:
            return page(list(self.refunds.values()), query)


def _canonical(body: dict) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _refundable(payment: dict, amount) -> int:
    """The amount to refund (default: all that is left), checked against what is left."""
    if payment["status"] == "refunded" and payment["captured"]:
        raise ApiError("The payment has been fully refunded already.", "id")
    if payment["status"] != "captured":
        raise ApiError(f"Only captured payments can be refunded; this payment is {payment['status']}.", "id")
    left = payment["amount"] - payment["amount_refunded"]
    amount = left if amount is None else check_amount(amount)
    if amount > payment["amount"]:
        raise ApiError("The refund amount provided is greater than amount captured.", "amount")
    if amount > left:
        raise ApiError("The refund amount provided is greater than the unrefunded amount.", "amount")
    return amount


def _follow_refunds(payment: dict) -> None:
    refunded = payment["amount_refunded"]
    full = refunded >= payment["amount"]
    payment["refund_status"] = None if refunded == 0 else ("full" if full else "partial")
    if full:
        payment["status"] = "refunded"
    elif payment["status"] == "refunded":  # a failed refund made it refundable again
        payment["status"] = "captured" if payment["captured"] else "authorized"
