"""Customers and their recurring tokens (mandates): `POST /v1/customers`, `GET /v1/customers/{id}`,
`GET /v1/customers/{id}/tokens[/{token_id}]`, `PUT .../tokens/{token_id}/cancel`, `DELETE .../tokens/{id}`.

A token is made by an approved authorisation (sandbox/razorpay_server/registration.py). Its state lives
in `recurring_details.status`, as in Razorpay's UPI webhooks: `initiated` (the bank is registering it),
`confirmed` (debits may be made), `rejected`, `paused` (by the customer, in their UPI app or bank),
`cancellation_initiated` (the merchant's cancel, until NPCI confirms it), `cancelled`. Only the events
Razorpay documents are sent: token.confirmed (also when a paused token is resumed: there is no
token.resumed), token.rejected, token.paused, token.cancelled; their token entity carries no
`customer_id` (Razorpay's published token webhooks have none: a token is known by its id).

The merchant's cancel answers `cancellation_initiated`; the token becomes `cancelled` (token.cancelled)
when NPCI confirms: `cancel_delay` seconds later (a setting, 1 s by default; seen by any read once the
sandbox's clock has passed it), or at once on /sandbox/tokens/{id}/confirm_cancel.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from sandbox.razorpay_server.common import NOT_FOUND, ApiError, check_fields, check_notes, check_str, new_id

log = logging.getLogger("sandbox.razorpay")

CUSTOMER_FIELDS = {"name", "email", "contact", "fail_existing", "notes", "gstin"}
CANCELLABLE = ("initiated", "confirmed", "paused")
# customer-side actions (the control endpoints): action -> (allowed from, new status, event)
CUSTOMER_ACTIONS = {"pause": (("confirmed",), "paused", "token.paused"),
                    "resume": (("paused",), "confirmed", "token.confirmed"),
                    "cancel": (CANCELLABLE, "cancelled", "token.cancelled"),
                    "confirm_cancel": (("cancellation_initiated",), "cancelled", "token.cancelled"),
                    "confirm": (("initiated",), "confirmed", "token.confirmed"),
                    "reject": (("initiated",), "rejected", "token.rejected")}


class CustomersMixin:

    def __init__(self, *args, **kwargs):
        self.customers: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.token_cancels: dict[str, float] = {}  # token id -> when NPCI confirms the merchant's cancel
        self.cancel_delay = 1.0
        super().__init__(*args, **kwargs)

    # -- customers

    def create_customer(self, body: dict) -> dict:
        check_fields(body, CUSTOMER_FIELDS)
        name = check_str(body.get("name") or "", "name", 50)
        if not name:
            raise ApiError("The name field is required.", "name")
        email = check_str(body["email"], "email", 64) if body.get("email") is not None else None
        contact = check_str(str(body["contact"]), "contact", 15) if body.get("contact") is not None else None
        notes = check_notes(body.get("notes"))
        with self.lock:
            return dict(self._customer_for(name, email, contact, notes, str(body.get("fail_existing", "1"))))

    def _customer_for(self, name: str, email, contact, notes: Any, fail_existing: str = "0") -> dict:
        """The customer with these details: an existing one (fail_existing "0") or a new one."""
        same = next((c for c in self.customers.values() if c["email"] == email and c["contact"] == contact), None)
        if same is not None:
            if fail_existing not in ("0", "False", "false"):
                raise ApiError("Customer already exists for the merchant", "email")
            return same
        customer = {"id": new_id("cust_"), "entity": "customer", "name": name, "email": email,
                    "contact": contact, "gstin": None, "notes": notes, "created_at": self.now()}
        self.customers[customer["id"]] = customer
        self._save()
        return customer

    def _customer(self, customer_id: str) -> dict:
        if customer_id not in self.customers:
            raise ApiError(NOT_FOUND, "id", reason="NA")
        return self.customers[customer_id]

    def get_customer(self, customer_id: str) -> dict:
        with self.lock:
            return dict(self._customer(customer_id))

    # -- tokens

    def _new_token(self, customer_id: str, method: str, max_amount: int, expire_at: int, frequency: str,
                   status: str) -> dict:
        customer = self.customers[customer_id]
        token = {"id": new_id("token_"), "entity": "token", "token": new_id("")[:14], "bank": None,
                 "wallet": None, "method": method, "recurring": True,
                 "recurring_details": {"status": status, "failure_reason": None},
                 "auth_type": None, "mrn": None, "used_at": None, "created_at": self.now(),
                 "start_time": self.now(), "expired_at": expire_at, "max_amount": max_amount,
                 "frequency": frequency, "customer_id": customer_id, "dcc_enabled": False,
                 **_instrument(method, customer)}
        self.tokens[token["id"]] = token
        return token

    def _token(self, token_id: str, customer_id: str | None = None) -> dict:
        token = self.tokens.get(token_id)
        if token is None or (customer_id is not None and token["customer_id"] != customer_id):
            raise ApiError(NOT_FOUND, "id", reason="NA")
        return token

    def token_status(self, token: dict) -> str:
        return token["recurring_details"]["status"]

    def _set_token(self, token: dict, status: str, event: str | None, reason: str | None = None) -> None:
        token["recurring_details"] = {"status": status, "failure_reason": reason}
        if event:
            self._emit([(event, {"token": hook_token(token)})])
        self._save()

    def _settle_cancels(self) -> None:
        """NPCI confirms the merchant's cancellations whose time has come (the caller holds the lock)."""
        for tid, due in list(self.token_cancels.items()):
            if due <= self.clock():
                self.token_cancels.pop(tid)
                token = self.tokens.get(tid)
                if token is not None and self.token_status(token) == "cancellation_initiated":
                    self._set_token(token, "cancelled", "token.cancelled", "cancelled by the merchant")

    def get_token(self, customer_id: str, token_id: str) -> dict:
        with self.lock:
            self._settle_cancels()
            self._customer(customer_id)
            return dict(self._token(token_id, customer_id))

    def customer_tokens(self, customer_id: str) -> dict:
        with self.lock:
            self._settle_cancels()
            self._customer(customer_id)
            items = [dict(t) for t in self.tokens.values() if t["customer_id"] == customer_id]
        return {"entity": "collection", "count": len(items), "items": items}

    def cancel_token(self, customer_id: str, token_id: str) -> dict:
        """The merchant's cancel (`PUT .../cancel`): allowed while initiated, confirmed or paused."""
        with self.lock:
            self._settle_cancels()
            self._customer(customer_id)
            token = self._token(token_id, customer_id)
            if self.token_status(token) not in CANCELLABLE:
                raise ApiError(f"Token cannot be cancelled in the {self.token_status(token)} state", "token_id")
            # Razorpay forwards the cancel to NPCI: cancellation_initiated, not a final state (no event yet)
            self._set_token(token, "cancellation_initiated", None)
            self.token_cancels[token_id] = self.clock() + self.cancel_delay
            self._save()
            timer = threading.Timer(self.cancel_delay + 0.01, self._settle_quietly)
            timer.daemon = True
            timer.start()
            return dict(token)

    def _settle_quietly(self) -> None:
        try:
            with self.lock:
                self._settle_cancels()
        except Exception:  # a timer thread has nobody to tell; the next read settles it
            log.exception("token cancellations")

    def delete_token(self, customer_id: str, token_id: str) -> dict:
        with self.lock:
            self._customer(customer_id)
            self._token(token_id, customer_id)
            del self.tokens[token_id]
            self._save()
            return {"deleted": True}

    def customer_token_action(self, token_id: str, action: str) -> dict:
        """What the customer (or their bank) does: pause / resume / cancel (revoke) in the UPI app,
        the bank confirming or rejecting an e-mandate that was `initiated`."""
        if action not in CUSTOMER_ACTIONS:
            raise ApiError(f"action must be one of {', '.join(CUSTOMER_ACTIONS)}", "action", status=404)
        allowed, status, event = CUSTOMER_ACTIONS[action]
        with self.lock:
            self._settle_cancels()
            token = self._token(token_id)
            if self.token_status(token) not in allowed:
                raise ApiError(f"cannot {action} a token in the {self.token_status(token)} state", "action")
            reason = {"cancel": "revoked by the customer", "reject": "rejected by the bank",
                      "confirm_cancel": "cancelled by the merchant"}.get(action)
            self.token_cancels.pop(token_id, None)
            self._set_token(token, status, event, reason)
            return dict(token)


def hook_token(token: dict) -> dict:
    """The token as Razorpay's `token.*` webhooks carry it: no `customer_id`."""
    return {k: v for k, v in token.items() if k != "customer_id"}


def _instrument(method: str, customer: dict) -> dict:
    """The payment instrument a token stands for, shaped like Razorpay's (no real details)."""
    if method == "upi":
        return {"vpa": {"username": (customer.get("email") or "customer").split("@")[0][:30], "handle": "upi",
                        "name": customer["name"]}}
    if method == "card":
        return {"card": {"entity": "card", "name": customer["name"], "last4": "1111", "network": "Visa",
                         "type": "debit", "issuer": "HDFC", "international": False, "emi": False}}
    return {"bank": "HDFC", "auth_type": "netbanking"}
