"""UPI QR codes: `POST /v1/payments/qr_codes`, `GET /v1/payments/qr_codes[/{id}]`,
`POST /v1/payments/qr_codes/{id}/close`, `GET /v1/payments/qr_codes/{id}/payments`; and the payer's side,
`POST /sandbox/qr_codes/{id}/pay`.

Rules and shapes as Razorpay publishes them (../shared/razorpay-rails.md section 2): `type: "upi_qr"` and
`usage` are mandatory; `single_use` needs `fixed_amount: true` and a `payment_amount`; `close_by` only for
single use, 2 minutes to 2 hours ahead (none, or more: 2 hours). A payment is a captured `upi` payment
announced by `qr_code.credited` (`contains ["payment", "qr_code"]`, `acquirer_data.rrn`); a single-use QR
closes once paid (`close_reason: "paid"`). `qr_code.closed` fires on a manual close only.
"""
from __future__ import annotations

import secrets

from sandbox.razorpay_server.common import (NOT_FOUND, ApiError, check_amount, check_bool, check_fields, check_notes,
                                           check_str, new_id)
from sandbox.razorpay_server.core import page
from sandbox.razorpay_server.payments import platform_fee

QR_FIELDS = {"type", "name", "usage", "fixed_amount", "payment_amount", "description", "customer_id", "close_by",
             "notes"}
TWO_HOURS = 2 * 3600


class QrCodesMixin:

    def __init__(self, *args, **kwargs):
        self.qr_codes: dict[str, dict] = {}
        self.qr_paid: dict[str, str] = {}  # payment id -> the QR code it paid
        super().__init__(*args, **kwargs)

    def create_qr(self, body: dict, base_url: str) -> dict:
        check_fields(body, QR_FIELDS)
        if body.get("type") != "upi_qr":
            raise ApiError("The type field is required and must be upi_qr.", "type")
        usage = body.get("usage")
        if usage not in ("single_use", "multiple_use"):
            raise ApiError("The usage field is required.", "usage")
        fixed = check_bool(body.get("fixed_amount", False), "fixed_amount")
        amount = check_amount(body.get("payment_amount"), "payment_amount") if fixed else None
        if usage == "single_use" and not fixed:
            raise ApiError("A single use QR code must have a fixed amount.", "fixed_amount")
        notes = check_notes(body.get("notes"))
        with self.lock:
            now = self.now()
            close_by = body.get("close_by")
            if usage == "single_use":
                if close_by is not None and (not isinstance(close_by, int) or close_by < now + 120):
                    raise ApiError("close_by should be at least 2 minutes after current time", "close_by")
                close_by = min(close_by or now + TWO_HOURS, now + TWO_HOURS)
            else:
                close_by = None
            qr_id = new_id("qr_")
            qr = {"id": qr_id, "entity": "qr_code", "created_at": now,
                  "name": check_str(body.get("name") or "", "name", 100), "usage": usage, "type": "upi_qr",
                  "image_url": f"{self.public_url or base_url}/qr/{qr_id}.png", "payment_amount": amount,
                  "status": "active", "description": body.get("description"), "fixed_amount": fixed,
                  "payments_amount_received": 0, "payments_count_received": 0, "notes": notes,
                  "customer_id": body.get("customer_id"), "close_by": close_by, "closed_at": None,
                  "close_reason": None}
            self.qr_codes[qr_id] = qr
            self._emit([("qr_code.created", {"qr_code": dict(qr)})])
            self._save()
            return dict(qr)

    def _qr(self, qr_id: str) -> dict:
        if qr_id not in self.qr_codes:
            raise ApiError(NOT_FOUND, "id", reason="NA")
        qr = self.qr_codes[qr_id]
        if qr["status"] == "active" and qr["close_by"] and self.now() >= qr["close_by"]:
            qr.update(status="closed", closed_at=qr["close_by"], close_reason=None)  # no webhook on expiry
        return qr

    def get_qr(self, qr_id: str) -> dict:
        with self.lock:
            return dict(self._qr(qr_id))

    def list_qrs(self, query) -> dict:
        with self.lock:
            return page([self._qr(q) for q in list(self.qr_codes)], query)

    def close_qr(self, qr_id: str) -> dict:
        with self.lock:
            qr = self._qr(qr_id)
            if qr["status"] != "active":
                raise ApiError("QR code is already closed", "id")
            qr.update(status="closed", closed_at=self.now(), close_reason="on_demand")
            self._emit([("qr_code.closed", {"qr_code": dict(qr)})])
            self._save()
            return dict(qr)

    def qr_payments(self, qr_id: str, query) -> dict:
        with self.lock:
            self._qr(qr_id)
            return page([self.payments[p] for p, q in self.qr_paid.items() if q == qr_id], query)

    def pay_qr(self, qr_id: str, body: dict) -> dict:
        """A payer scans and pays: `amount` only for a QR without a fixed amount."""
        check_fields(body, {"amount", "vpa"})
        with self.lock:
            qr = self._qr(qr_id)
            if qr["status"] != "active":
                raise ApiError("The QR code is closed.", "id")
            amount = qr["payment_amount"] if qr["fixed_amount"] else check_amount(body.get("amount"))
            fee, tax = platform_fee(amount)
            pay = {"id": new_id("pay_"), "entity": "payment", "amount": amount, "currency": "INR",
                   "status": "captured", "order_id": None, "invoice_id": None, "international": False,
                   "method": "upi", "amount_refunded": 0, "refund_status": None, "captured": True,
                   "description": "QRv2 Payment", "vpa": body.get("vpa") or "success@razorpay",
                   "email": "void@razorpay.com", "contact": "+919999999999", "customer_id": qr["customer_id"],
                   "notes": [], "fee": fee, "tax": tax, "error_code": None, "error_description": None,
                   "acquirer_data": {"rrn": "".join(secrets.choice("0123456789") for _ in range(12))},
                   "created_at": self.now()}
            self.payments[pay["id"]] = pay
            self.qr_paid[pay["id"]] = qr_id
            qr["payments_amount_received"] += amount
            qr["payments_count_received"] += 1
            if qr["usage"] == "single_use":
                qr.update(status="closed", closed_at=self.now(), close_reason="paid")
            self._emit([("qr_code.credited", {"payment": dict(pay), "qr_code": dict(qr)})])
            self._save()
            return {"payment_id": pay["id"], "qr_code": dict(qr)}
