"""Orders and payments: create/fetch/list orders, pay an order (Checkout), fetch and list payments.

A payment's `fee` (Razorpay's fee, GST included) and `tax` (the GST part) are set when it is captured.
By default the merchant bears the fee (`fee_bearer: "platform"`): the payer pays the order amount. With
a payer-borne convenience fee (`fee_bearer: "customer"`) the payment's `amount` is the order amount plus
that fee, as Razorpay's customer-fee-bearer model does.
"""
from __future__ import annotations

from typing import Any

from sandbox.razorpay_server.common import (NOT_FOUND, ORDER_CREATE_FIELDS, ApiError, check_amount, check_currency,
                                           check_fields, check_method, check_notes, check_str, new_id)
from sandbox.razorpay_server.core import page

FAILURE = {"error_code": "BAD_REQUEST_ERROR",
           "error_description": "Payment failed because the customer declined it (sandbox).",
           "error_source": "customer", "error_step": "payment_authentication", "error_reason": "payment_failed"}
NO_ERROR = {k: None for k in FAILURE}


def platform_fee(amount: int) -> tuple[int, int]:
    """(fee incl. GST, GST): 2% MDR plus 18% GST on it, integer paise like the real thing."""
    fee = amount * 2 // 100
    tax = fee * 18 // 100
    return fee + tax, tax


class PaymentsMixin:

    # -- orders

    def _new_order(self, amount: int, currency: str, receipt: str | None, notes: Any) -> dict:
        order = {"id": new_id("order_"), "entity": "order", "amount": amount, "amount_paid": 0, "amount_due": amount,
                 "currency": currency, "receipt": receipt, "offer_id": None, "status": "created", "attempts": 0,
                 "notes": notes, "created_at": self.now()}
        self.orders[order["id"]] = order
        return order

    def _order_paid(self, order: dict, amount: int) -> None:
        order["amount_paid"] += amount
        order["amount_due"] = order["amount"] - order["amount_paid"]
        order["attempts"] += 1
        order["status"] = "paid" if order["amount_due"] == 0 else "attempted"

    def _order_attempted(self, order: dict) -> None:
        order["attempts"] += 1
        if order["status"] == "created":
            order["status"] = "attempted"

    def _order_capture(self, order: dict, payment: dict) -> None:
        self._order_paid(order, payment["amount"])
        self._emit([("payment.captured", {"payment": dict(payment)}),
                    ("order.paid", {"payment": dict(payment), "order": dict(order)})], shuffle=True)
        self._save()

    def create_order(self, body: dict) -> dict:
        check_fields(body, ORDER_CREATE_FIELDS)
        amount = check_amount(body.get("amount"))
        currency = check_currency(body.get("currency"))
        notes = check_notes(body.get("notes"))
        receipt = body.get("receipt")
        with self.lock:
            if receipt is not None:  # Razorpay accepts a receipt used before: it is no idempotency key
                receipt = check_str(receipt, "receipt", 40)
            order = self._new_order(amount, currency, receipt, notes)
            self._save()
            return dict(order)

    def _order(self, order_id: str) -> dict:
        if order_id not in self.orders:
            raise ApiError(NOT_FOUND, "id", reason="NA")
        return self.orders[order_id]

    def get_order(self, order_id: str) -> dict:
        with self.lock:
            return dict(self._order(order_id))

    def list_orders(self, receipt: str | None = None) -> dict:
        with self.lock:
            items = [dict(o) for o in sorted(self.orders.values(), key=lambda o: o["created_at"], reverse=True)
                     if receipt is None or o["receipt"] == receipt]
        return {"entity": "collection", "count": len(items), "items": items}

    def order_payments(self, order_id: str) -> dict:
        with self.lock:
            self._order(order_id)
            items = [dict(p) for p in self.payments.values() if p["order_id"] == order_id]
        return {"entity": "collection", "count": len(items), "items": items}

    def pay_order(self, order_id: str, method: Any = "upi", fail: bool = False) -> dict:
        method = check_method(method)
        with self.lock:
            order = self._order(order_id)
            if order["status"] == "paid":
                raise ApiError("order is already paid", "id")
            payment = self._new_payment(order["amount_due"], order_id, method, "failed" if fail else "captured")
            if fail:
                self._order_attempted(order)
                self._emit([("payment.failed", {"payment": dict(payment)})])
                self._save()
            else:
                self._order_capture(order, payment)
            return dict(payment)

    # -- payments

    def _new_payment(self, amount: int, order_id: str, method: str, status: str, link: dict | None = None,
                     payer_fee: int = 0) -> dict:
        customer = (link or {}).get("customer") or {}
        payment = {
            "id": new_id("pay_"), "entity": "payment", "amount": amount, "currency": "INR", "status": status,
            "order_id": order_id, "invoice_id": None, "international": False, "method": method,
            "amount_refunded": 0, "refund_status": None, "captured": False,
            # A link's payment is described "#<link id without plink_>", as Razorpay's are.
            "description": "#" + link["id"][len("plink_"):] if link else "", "card_id": None, "bank": None,
            "wallet": None,
            "vpa": ("failure@razorpay" if status == "failed" else "success@razorpay") if method == "upi" else None,
            "email": customer.get("email", "void@razorpay.com"), "contact": customer.get("contact", "+919999999999"),
            "notes": (link or {}).get("notes") or (self.orders.get(order_id) or {}).get("notes") or [],
            "fee": None, "tax": None, "fee_bearer": "platform", **(FAILURE if status == "failed" else NO_ERROR),
            "acquirer_data": {}, "created_at": self.now(),
        }
        if status == "captured":
            self._mark_captured(payment, amount, payer_fee)
        self.payments[payment["id"]] = payment
        return payment

    def _mark_captured(self, payment: dict, base: int, payer_fee: int = 0) -> None:
        if payer_fee > 0:
            tax = payer_fee * 18 // 118  # the GST inside the fee
            payment.update(amount=base + payer_fee, fee=payer_fee, tax=tax, fee_bearer="customer")
        else:
            fee, tax = platform_fee(base)
            payment.update(amount=base, fee=fee, tax=tax, fee_bearer="platform")
        payment.update(status="captured", captured=True, **NO_ERROR)
        if payment["method"] == "upi":
            payment["vpa"] = "success@razorpay"

    def _payment(self, payment_id: str) -> dict:
        if payment_id not in self.payments:
            raise ApiError(NOT_FOUND, "id", reason="NA")
        return self.payments[payment_id]

    def get_payment(self, payment_id: str) -> dict:
        with self.lock:
            return dict(self._payment(payment_id))

    def list_payments(self, query) -> dict:
        """GET /v1/payments?from=&to=&count=&skip= (newest first, at most 100 a page)."""
        with self.lock:
            return page(list(self.payments.values()), query)
