"""Subsequent debits on a token: orders with a pre-debit `notification`, `POST /v1/payments/create/recurring`
and the bank's answer, as Razorpay's recurring-payments docs describe them.

- An order may carry `notification: {token_id, payment_after}`: the merchant controls the notice. The
  pre-debit notification goes to the customer when the order is made (the answer gains
  `notification.id`), `payment_after` must leave the notice period (WALLET_PREDEBIT_NOTICE_HOURS, 25 by
  default, or the `predebit_notice_hours` setting) and a recurring payment is refused before it; the debit
  is then attempted at once (after `debit_delay` seconds, the bank's answer), and never retried.
- Without it, Razorpay notifies the customer and debits in the 25th hour: the payment stays `created`
  for the notice period, then the debit is attempted.
- One debit in flight per token: a second recurring payment while one is `created` is refused. A
  token of `monthly` frequency allows one successful debit per calendar month; `as_presented` has no
  cycle. A debit above Rs. 15,000 waits for the customer's extra authentication
  (/sandbox/recurring/{payment id}/approve|decline).
- What the bank answers is set per token (/sandbox/tokens/{id}/debits: a list of outcomes consumed one
  per debit, then `success`): `insufficient_funds`, `bank_down`, `mandate_revoked` (the customer revokes
  the mandate after the notice: token.cancelled and payment.failed both arrive, as Razorpay warns).

Events: payment.authorized, payment.captured and order.paid (shuffled, maybe duplicated), or
payment.failed with Razorpay's error fields.
"""
from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timezone

from sandbox.razorpay_server.customers import hook_token
from sandbox.razorpay_server.common import (ApiError, check_amount, check_currency, check_fields, check_notes, hmac_hex,
                                           new_id, require_int)

log = logging.getLogger("sandbox.razorpay")

RECURRING_FIELDS = {"email", "contact", "amount", "currency", "order_id", "customer_id", "token", "recurring",
                    "description", "notes"}
ORDER_EXTRA = ("payment_capture", "notification", "method", "customer_id")
AFA_LIMIT = 1_500_000  # Rs. 15,000: above it the customer authenticates each debit
DEFAULT_NOTICE_HOURS = 25.0


def _failure(code: str, description: str, source: str, reason: str) -> dict:
    return {"error_code": code, "error_description": description, "error_source": source,
            "error_step": "payment_debit_request", "error_reason": reason}


FAILURES = {
    "insufficient_funds": _failure("BAD_REQUEST_ERROR", "Payment failed due to insufficient balance in the "
                                   "customer's bank account.", "customer", "insufficient_funds"),
    "bank_down": _failure("GATEWAY_ERROR", "The customer's bank could not process the debit right now.", "bank",
                          "bank_technical_error"),
    "mandate_revoked": _failure("BAD_REQUEST_ERROR", "The customer revoked the mandate.", "customer",
                                "mandate_revoked"),
    "mandate_paused": _failure("BAD_REQUEST_ERROR", "The customer paused the mandate.", "customer",
                               "mandate_paused"),
    "cycle_limit": _failure("BAD_REQUEST_ERROR", "The mandate's one debit for this billing cycle was already "
                            "made.", "business", "debit_limit_exceeded"),
    "declined": _failure("BAD_REQUEST_ERROR", "The customer declined the debit.", "customer", "payment_declined"),
}
OUTCOMES = ("success",) + tuple(FAILURES)


class RecurringMixin:

    def __init__(self, *args, **kwargs):
        self.debit_plans: dict[str, list[str]] = {}   # token id -> outcomes of its next debits
        self.debit_due: dict[str, float] = {}         # payment id -> when the bank answers
        self._timers: dict[str, threading.Timer] = {}
        self.notice_hours: float | None = None        # None: the environment's, else 25
        self.debit_delay = 0.2
        super().__init__(*args, **kwargs)

    # -- settings

    def notice_seconds(self) -> float:
        hours = self.notice_hours
        if hours is None:
            try:
                hours = float(os.environ.get("WALLET_PREDEBIT_NOTICE_HOURS") or DEFAULT_NOTICE_HOURS)
            except ValueError:
                hours = DEFAULT_NOTICE_HOURS
        return hours * 3600

    def configure(self, body: dict) -> dict:
        body = dict(body)
        mine = {k: body.pop(k) for k in ("predebit_notice_hours", "debit_delay", "cancel_delay") if k in body}
        for k, v in mine.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ApiError(f"{k} must be a non-negative number", k)
        out = super().configure(body)
        with self.lock:
            if "predebit_notice_hours" in mine:
                self.notice_hours = float(mine["predebit_notice_hours"])
            if "debit_delay" in mine:
                self.debit_delay = float(mine["debit_delay"])
            if "cancel_delay" in mine:
                self.cancel_delay = float(mine["cancel_delay"])
            return dict(out, predebit_notice_hours=self.notice_seconds() / 3600, debit_delay=self.debit_delay,
                        cancel_delay=self.cancel_delay)

    def reset(self) -> None:
        with self.lock:
            for t in self._timers.values():
                t.cancel()
            self._timers.clear()
            self.debit_plans.clear()
            self.debit_due.clear()
            self.notice_hours, self.debit_delay, self.cancel_delay = None, 0.2, 1.0
        super().reset()

    def set_debit_outcomes(self, token_id: str, outcomes) -> dict:
        if not isinstance(outcomes, list) or any(o not in OUTCOMES for o in outcomes):
            raise ApiError(f"outcomes must be a list of {', '.join(OUTCOMES)}", "outcomes")
        with self.lock:
            self._token(token_id)
            self.debit_plans[token_id] = list(outcomes)
            return {"token_id": token_id, "outcomes": list(outcomes)}

    # -- orders for a debit

    def create_order(self, body: dict) -> dict:
        body = dict(body)
        extra = {k: body.pop(k) for k in ORDER_EXTRA if k in body}
        notification = self._check_notification(extra.get("notification")) if "notification" in extra else None
        order = super().create_order(body)
        if not extra:
            return order
        with self.lock:
            stored = self.orders[order["id"]]
            stored["payment_capture"] = bool(extra.get("payment_capture", True))
            for k in ("method", "customer_id"):
                if k in extra:
                    stored[k] = extra[k]
            if notification is not None:
                stored["notification"] = dict(notification, id=new_id("notification_"))
            self._save()
            return dict(stored)

    def _check_notification(self, notification) -> dict:
        if not isinstance(notification, dict) or set(notification) - {"token_id", "payment_after"}:
            raise ApiError("notification must be an object with token_id and payment_after", "notification")
        payment_after = require_int(notification.get("payment_after"), "payment_after")
        with self.lock:
            self._settle_cancels()
            token = self._token(str(notification.get("token_id")))
            if self.token_status(token) != "confirmed":
                raise ApiError(f"The token is {self.token_status(token)}: no pre-debit notification can be sent.",
                               "token_id")
            # The notice must be given in full: the customer may cancel before the debit.
            if payment_after < self.now() + self.notice_seconds() - 1:
                raise ApiError(f"payment_after must be at least {self.notice_seconds() / 3600:g} hours after the "
                               "pre-debit notification", "payment_after")
        return {"token_id": token["id"], "payment_after": payment_after}

    # -- the recurring payment

    def create_recurring(self, body: dict) -> dict:
        check_fields(body, RECURRING_FIELDS)
        amount = check_amount(body.get("amount"))
        check_currency(body.get("currency"))
        notes = check_notes(body.get("notes"))
        if str(body.get("recurring")) not in ("1", "True", "true"):
            raise ApiError("The recurring field must be 1.", "recurring")
        with self.lock:
            self._settle_cancels()
            order = self._order(str(body.get("order_id")))
            token = self._token(str(body.get("token")), str(body.get("customer_id")))
            self._check_debit(order, token, amount)
            notification = order.get("notification")
            payment = self._new_payment(amount, order["id"], token["method"], "created")
            payment.update(token_id=token["id"], customer_id=token["customer_id"], recurring=True,
                           description=str(body.get("description") or ""), notes=notes or order["notes"],
                           email=body.get("email") or payment["email"],
                           contact=body.get("contact") or payment["contact"])
            # With the merchant's notice given, the bank answers now; else Razorpay notifies and waits.
            self._schedule(payment["id"], self.debit_delay if notification else self.notice_seconds())
            self._save()
            return {"razorpay_payment_id": payment["id"], "razorpay_order_id": order["id"],
                    "razorpay_signature": hmac_hex(self.key_secret, f"{order['id']}|{payment['id']}")}

    def _check_debit(self, order: dict, token: dict, amount: int) -> None:
        if order.get("token"):
            raise ApiError("An authorisation order cannot be charged again.", "order_id")
        if self.token_status(token) != "confirmed":
            raise ApiError(f"The token is {self.token_status(token)}; only a confirmed token can be charged.",
                           "token")
        if amount != order["amount_due"] or order["status"] == "paid":
            raise ApiError("The amount must equal the order's amount due.", "amount")
        if amount > token["max_amount"]:
            raise ApiError("The amount exceeds the mandate's maximum amount.", "amount")
        live = ("created", "authorized", "captured")
        if any(p["order_id"] == order["id"] and p["status"] in live for p in self.payments.values()):
            raise ApiError("This order already has a payment.", "order_id")
        if any(p.get("token_id") == token["id"] and p["status"] == "created" for p in self.payments.values()):
            raise ApiError("Another payment on this token has no final status yet; wait for it.", "token")
        notification = order.get("notification")
        if notification:
            if notification["token_id"] != token["id"]:
                raise ApiError("The order's pre-debit notification is for another token.", "token")
            if self.now() < notification["payment_after"]:
                raise ApiError("The debit cannot be made before the order's payment_after.", "order_id")

    # -- the bank's answer

    def _schedule(self, payment_id: str, delay: float) -> None:
        self.debit_due[payment_id] = self.clock() + delay
        timer = threading.Timer(max(0.0, delay), self._debit_quietly, args=(payment_id,))
        timer.daemon = True
        self._timers[payment_id] = timer
        timer.start()

    def _debit_quietly(self, payment_id: str) -> None:
        try:
            self._debit(payment_id)
        except Exception:  # a timer thread has nobody to tell: log it, the payment stays `created`
            log.exception("recurring debit %s failed", payment_id)

    def _run_due(self) -> None:
        """Debits (and NPCI's confirmations of cancels) whose time has come (a timer may have been lost)."""
        with self.lock:
            self._settle_cancels()
            due = [pid for pid, at in self.debit_due.items() if at <= self.clock()]
        for pid in due:
            self._debit(pid)

    def _debit(self, payment_id: str) -> None:
        with self.lock:
            payment = self.payments.get(payment_id)
            self._timers.pop(payment_id, None)
            if payment is None or payment["status"] != "created" or payment_id not in self.debit_due:
                return
            self.debit_due.pop(payment_id)
            if payment["amount"] > AFA_LIMIT and payment.get("afa") in (None, "required"):
                payment["afa"] = "required"  # waits for the customer, in their UPI app / bank (decide_afa)
                self._save()
                return
            token = self.tokens[payment["token_id"]]
            outcome = self._refusal(token, payment) or self._next_outcome(token["id"])
            if payment.get("afa") == "declined":
                outcome = "declined"
            if outcome == "success":
                self._debited(payment, token)
            else:
                self._failed_debit(payment, token, outcome)

    def _refusal(self, token: dict, payment: dict) -> str | None:
        status = self.token_status(token)
        if status == "paused":
            return "mandate_paused"
        if status != "confirmed":
            return "mandate_revoked"
        if token["frequency"] == "monthly":
            month = _month(self.now())
            if any(p.get("token_id") == token["id"] and p["status"] in ("captured", "refunded") and
                   p["id"] != payment["id"] and p.get("invoice_id") is None and _month(p["created_at"]) == month
                   for p in self.payments.values()):
                return "cycle_limit"
        return None

    def _next_outcome(self, token_id: str) -> str:
        plan = self.debit_plans.get(token_id)
        return plan.pop(0) if plan else "success"

    def _debited(self, payment: dict, token: dict) -> None:
        order = self.orders[payment["order_id"]]
        token["used_at"] = self.now()
        self._emit([("payment.authorized", {"payment": dict(payment, status="authorized")})])
        self._mark_captured(payment, payment["amount"])
        self._order_capture(order, payment)  # payment.captured + order.paid, shuffled, maybe twice

    def _failed_debit(self, payment: dict, token: dict, outcome: str) -> None:
        payment.update(status="failed", **FAILURES[outcome])
        if payment["method"] == "upi":
            payment["vpa"] = "failure@razorpay"
        self._order_attempted(self.orders[payment["order_id"]])
        events = [("payment.failed", {"payment": dict(payment)})]
        if outcome == "mandate_revoked" and self.token_status(token) in ("confirmed", "paused"):
            token["recurring_details"] = {"status": "cancelled", "failure_reason": "revoked by the customer"}
            events.insert(0, ("token.cancelled", {"token": hook_token(token)}))
        self._emit(events)
        self._save()

    def decide_afa(self, payment_id: str, approve: bool) -> dict:
        """The customer's extra authentication of a debit above Rs. 15,000."""
        with self.lock:
            payment = self._payment(payment_id)
            if payment.get("afa") != "required":
                raise ApiError("This payment does not wait for the customer's authentication.", "id")
            payment["afa"] = "approved" if approve else "declined"
            self.debit_due[payment_id] = self.clock()
        self._debit(payment_id)
        return self.get_payment(payment_id)

    # -- reads see debits whose time has come

    def get_payment(self, payment_id: str) -> dict:
        self._run_due()
        return super().get_payment(payment_id)

    def order_payments(self, order_id: str) -> dict:
        self._run_due()
        return super().order_payments(order_id)

    def list_payments(self, query) -> dict:
        self._run_due()
        return super().list_payments(query)


def _month(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m")
