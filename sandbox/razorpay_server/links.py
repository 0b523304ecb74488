"""Payment Links: create, fetch, list, edit, cancel, expire, and pay / fail / authorize on the hosted page.

A link pays through an order created on the first attempt (receipt = the link's reference_id, notes =
the link's notes), like the real one. Webhooks carry the link entity WITHOUT its `payments` list (the
real payload has none); the API's answer has it.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sandbox.razorpay_server.common import (EXPIRE_MAX_AHEAD, EXPIRE_MIN_AHEAD, LINK_CREATE_FIELDS, LINK_PATCH_FIELDS,
                                           NOT_FOUND, PAYABLE, ApiError, check_amount, check_bool, check_currency,
                                           check_fields, check_method, check_notes, check_str, hmac_hex, new_id,
                                           require_int)


def link_entity(link: dict) -> dict:
    """The link as a webhook carries it: no `payments` key."""
    return {k: v for k, v in link.items() if k != "payments"}


class LinksMixin:

    def _link(self, link_id: str) -> dict:
        link = self.links.get(link_id)
        if link is None:
            raise ApiError(NOT_FOUND, "id", reason="NA")
        self._refresh(link)
        return link

    def _refresh(self, link: dict) -> None:
        # Expiry is noticed lazily, when a link is read -- good enough for a fake.
        if link["status"] in PAYABLE and link["expire_by"] and self.now() >= link["expire_by"]:
            self._expire(link)

    def _expire(self, link: dict) -> None:
        link.update(status="expired", expired_at=self.now(), updated_at=self.now())
        self._emit([("payment_link.expired", {"payment_link": link_entity(link)})])
        self._save()

    def _check_expire_by(self, value: Any) -> int:
        value = require_int(value, "expire_by")
        now = self.now()
        if value <= now + EXPIRE_MIN_AHEAD:
            raise ApiError("timestamp must be atleast 15 minutes in future", "expire_by")
        if value > now + EXPIRE_MAX_AHEAD:
            raise ApiError("timestamp must not be more than 6 months in future", "expire_by")
        return value

    def _check_reference(self, reference_id: Any, exclude: str | None = None) -> str:
        reference_id = check_str(reference_id, "reference_id", 40)
        # Unique per account for ever, cancelled/expired links included: Razorpay's idempotency handle.
        if reference_id and any(x["reference_id"] == reference_id and x["id"] != exclude for x in self.links.values()):
            raise ApiError("payment link creation with reference ID already attempted", "reference_id")
        return reference_id

    def create_link(self, body: dict, base_url: str) -> dict:
        fields = _link_fields(body, self.key_id)
        with self.lock:
            expire_by = self._check_expire_by(body["expire_by"]) if body.get("expire_by") is not None else 0
            reference_id = self._check_reference(body.get("reference_id") or "")
            now, link_id = self.now(), new_id("plink_")
            link = {
                "id": link_id, "entity": "payment_link", **fields, "amount_paid": 0, "reference_id": reference_id,
                "reminders": [], "expire_by": expire_by, "expired_at": 0, "cancelled_at": 0, "user_id": "",
                "order_id": "", "payments": None, "status": "created",
                "short_url": f"{self.public_url or base_url.rstrip('/')}/pay/{link_id}",
                "created_at": now, "updated_at": now,
            }
            self.links[link_id] = link
            self._save()
            return dict(link)

    def get_link(self, link_id: str) -> dict:
        with self.lock:
            return dict(self._link(link_id))

    def list_links(self, reference_id: str | None = None, payment_id: str | None = None) -> list[dict]:
        with self.lock:
            found = []
            for link in sorted(self.links.values(), key=lambda x: x["created_at"], reverse=True):
                if reference_id is not None and link["reference_id"] != reference_id:
                    continue
                if payment_id is not None and not any(p["payment_id"] == payment_id for p in link["payments"] or []):
                    continue
                self._refresh(link)
                found.append(dict(link))
            return found

    def edit_link(self, link_id: str, body: dict) -> dict:
        check_fields(body, LINK_PATCH_FIELDS)
        with self.lock:
            link = self._link(link_id)
            if link["status"] not in PAYABLE:
                raise ApiError(f"update can only be made in created or partially paid state, link is {link['status']}")
            changes: dict = {}
            if "reference_id" in body:
                changes["reference_id"] = self._check_reference(body["reference_id"], exclude=link_id)
            if "expire_by" in body:
                changes["expire_by"] = self._check_expire_by(body["expire_by"])
            if "notes" in body:
                changes["notes"] = check_notes(body["notes"])
            for flag in ("accept_partial", "reminder_enable"):
                if flag in body:
                    changes[flag] = check_bool(body[flag], flag)
            link.update(changes, updated_at=self.now())
            self._save()
            return dict(link)

    def _closable(self, link: dict) -> None:
        if link["status"] in ("paid", "partially_paid"):
            raise ApiError("cannot cancel or expire an already paid/partially paid link")
        if link["status"] == "expired":
            raise ApiError("cannot cancel or expire an expired link")
        if link["status"] == "cancelled":
            raise ApiError("cannot cancel or expire an already cancelled link")

    def cancel_link(self, link_id: str) -> dict:
        with self.lock:
            link = self._link(link_id)
            self._closable(link)
            link.update(status="cancelled", cancelled_at=self.now(), updated_at=self.now())
            self._emit([("payment_link.cancelled", {"payment_link": link_entity(link)})])
            self._save()
            return dict(link)

    def force_expire(self, link_id: str) -> dict:
        with self.lock:
            link = self._link(link_id)
            self._closable(link)
            self._expire(link)
            return dict(link)

    def _link_order(self, link: dict) -> dict:
        # Real payment links pay through an order, created on the first attempt, receipt = reference_id.
        if not link["order_id"]:
            order = self._new_order(link["amount"], link["currency"], link["reference_id"] or None, link["notes"])
            link["order_id"] = order["id"]
        return self.orders[link["order_id"]]

    def _payable(self, link_id: str) -> dict:
        link = self._link(link_id)
        if link["status"] not in PAYABLE:
            raise ApiError(f"payment link is not payable, its status is {link['status']}", "id")
        return link

    def pay_link(self, link_id: str, amount: Any = None, method: Any = "upi", fee: Any = None) -> tuple[dict, dict]:
        """Capture a payment on a link (the 'Pay' / 'Pay partially' button). `fee`: a convenience fee the
        payer bears on top (paise; default: the configured one). Returns (link, payment)."""
        method = check_method(method)
        with self.lock:
            fee = self.convenience_fee if fee is None else require_int(fee, "fee")
            link = self._payable(link_id)
            amount = self._part(link, amount)
            payment = self._new_payment(amount, self._link_order(link)["id"], method, "captured", link, payer_fee=fee)
            self._capture_on_link(link, payment, amount)
            return dict(link), dict(payment)

    def _part(self, link: dict, amount: Any) -> int:
        due = link["amount"] - link["amount_paid"]
        amount = due if amount is None else check_amount(amount)
        if amount > due:
            raise ApiError(f"amount must not exceed the amount due ({due} paise)", "amount")
        if amount < due and not link["accept_partial"]:
            raise ApiError("partial payment is not enabled for this payment link", "amount")
        if link["amount_paid"] == 0 and amount < due and amount < link["first_min_partial_amount"]:
            raise ApiError("amount is less than first_min_partial_amount", "amount")
        return amount

    def _capture_on_link(self, link: dict, payment: dict, base: int) -> None:
        """`payment` (captured, `base` paise of the link's amount) lands on `link`: update, emit, save."""
        now, order = self.now(), self.orders[link["order_id"]]
        link["amount_paid"] += base
        link["payments"] = (link["payments"] or []) + [{
            "payment_id": payment["id"], "amount": payment["amount"], "status": "captured",
            "method": payment["method"], "created_at": now, "plink_id": link["id"]}]
        link.update(status="paid" if link["amount_paid"] == link["amount"] else "partially_paid", updated_at=now)
        self._order_paid(order, base)
        event = "payment_link.paid" if link["status"] == "paid" else "payment_link.partially_paid"
        events = [(event, {"payment_link": link_entity(link), "order": dict(order), "payment": dict(payment)}),
                  ("payment.captured", {"payment": dict(payment)})]
        if order["status"] == "paid":
            events.append(("order.paid", {"payment": dict(payment), "order": dict(order)}))
        self._emit(events, shuffle=True)
        self._save()

    def fail_link(self, link_id: str, method: Any = "upi") -> tuple[dict, dict]:
        method = check_method(method)
        with self.lock:
            link = self._payable(link_id)
            order = self._link_order(link)
            payment = self._new_payment(link["amount"] - link["amount_paid"], order["id"], method, "failed", link)
            self._order_attempted(order)
            self._emit([("payment.failed", {"payment": dict(payment)})])
            self._save()
            return dict(link), dict(payment)

    def authorize_link(self, link_id: str, method: Any = "upi") -> tuple[dict, dict]:
        """A payment authorized but never captured (Razorpay auto-refunds those after 5 days)."""
        method = check_method(method)
        with self.lock:
            link = self._payable(link_id)
            order = self._link_order(link)
            payment = self._new_payment(link["amount"] - link["amount_paid"], order["id"], method, "authorized", link)
            self._order_attempted(order)
            self._emit([("payment.authorized", {"payment": dict(payment)})])
            self._save()
            return dict(link), dict(payment)

    def capture_failed(self, payment_id: str) -> dict:
        """A failed payment that the bank confirms late: captured under the SAME id (Razorpay's docs warn
        that payment.failed can be followed by payment.captured for one transaction)."""
        with self.lock:
            payment = self._payment(payment_id)
            if payment["status"] != "failed":
                raise ApiError(f"only a failed payment can be captured late, this one is {payment['status']}")
            link = next((x for x in self.links.values() if x["order_id"] == payment["order_id"]), None)
            if link is not None:
                self._payable(link["id"])
                self._mark_captured(payment, payment["amount"])
                self._capture_on_link(link, payment, payment["amount"])
            else:
                self._mark_captured(payment, payment["amount"])
                self._order_capture(self.orders[payment["order_id"]], payment)
            return dict(payment)

    def callback_params(self, link: dict, payment_id: str) -> dict:
        message = f"{link['id']}|{link['reference_id']}|{link['status']}|{payment_id}"
        return {"razorpay_payment_id": payment_id, "razorpay_payment_link_id": link["id"],
                "razorpay_payment_link_reference_id": link["reference_id"],
                "razorpay_payment_link_status": link["status"],
                "razorpay_signature": hmac_hex(self.key_secret, message)}


def _link_fields(body: dict, key_id: str) -> dict:
    """The checked fields of a create-link request (reference and expiry need the state: not here)."""
    check_fields(body, LINK_CREATE_FIELDS)
    amount = check_amount(body.get("amount"))
    accept_partial = check_bool(body.get("accept_partial", False), "accept_partial")
    customer = body.get("customer") or {}
    if not isinstance(customer, dict) or set(customer) - {"name", "email", "contact"}:
        raise ApiError("customer may only contain name, email and contact", "customer")
    notify = body.get("notify") or {"sms": False, "email": False}
    if not isinstance(notify, dict):
        raise ApiError("notify must be an object", "notify")
    upi_link = body.get("upi_link", False)
    if upi_link and key_id.startswith("rzp_test_"):
        raise ApiError("UPI Payment Links is not supported in Test Mode", "upi_link")
    return {"amount": amount, "currency": check_currency(body.get("currency")), "accept_partial": accept_partial,
            "first_min_partial_amount": _first_min(body, amount, accept_partial),
            "description": check_str(body.get("description") or "", "description", 2048), "customer": customer,
            "notify": notify, "reminder_enable": check_bool(body.get("reminder_enable", False), "reminder_enable"),
            "notes": check_notes(body.get("notes")), **_callback(body), "upi_link": bool(upi_link)}


def _first_min(body: dict, amount: int, accept_partial: bool) -> int:
    first_min = body.get("first_min_partial_amount")
    if first_min is None:
        return 0
    if not accept_partial:
        raise ApiError("first_min_partial_amount is allowed only when accept_partial is true",
                       "first_min_partial_amount")
    first_min = check_amount(first_min, "first_min_partial_amount")
    if first_min > amount:
        raise ApiError("first_min_partial_amount should be less than amount", "first_min_partial_amount")
    return first_min


def _callback(body: dict) -> dict:
    callback_url = body.get("callback_url") or ""
    callback_method = body.get("callback_method") or ""
    if callback_url:
        if not isinstance(callback_url, str) or urlsplit(callback_url).scheme not in ("http", "https"):
            raise ApiError("The callback url format is invalid.", "callback_url")
        if callback_method != "get":
            raise ApiError("callback_method should be get when callback_url is given", "callback_method")
    return {"callback_url": callback_url, "callback_method": callback_method}
