"""Offline fake Razorpay ("sandbox") that the real `razorpay` SDK can talk to.

Point the SDK at it with ``razorpay.Client(auth=(key_id, key_secret), base_url=handle.url)``.
It implements the slice of Razorpay this project uses (Payment Links, Orders, Payments), a
hosted pay page with Pay / Fail / Pay partially buttons, signed callback redirects and signed,
at-least-once, unordered webhooks -- so the wallet can be developed and tested without network
or real money. Behaviour follows /work/shared/razorpay.md; where Razorpay's docs are silent we
choose the stricter answer so bugs surface here rather than in production.

Run:  python -m sandbox.razorpay_server --host 127.0.0.1 --port 8787
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import heapq
import hmac
import html
import itertools
import json
import logging
import os
import random
import secrets
import socket
import string
import tempfile
import threading
import time
from contextlib import asynccontextmanager
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

log = logging.getLogger("sandbox.razorpay")

DEFAULT_KEY_ID = "rzp_test_sandbox"
DEFAULT_KEY_SECRET = "sandbox_secret"
DEFAULT_WEBHOOK_SECRET = "sandbox_webhook_secret"
ACCOUNT_ID = "acc_sandbox"
MIN_AMOUNT = 100  # paise; Razorpay's floor for links, orders and payments
EXPIRE_MIN_AHEAD = 15 * 60  # expire_by must be strictly more than this ahead
EXPIRE_MAX_AHEAD = 184 * 86400  # "6 months": allow the longest 6-month span so we never reject a legal value
PAYABLE = ("created", "partially_paid")
METHODS = ("upi", "card", "netbanking", "wallet")
_ALPHABET = string.ascii_letters + string.digits

LINK_CREATE_FIELDS = {
    "amount", "currency", "accept_partial", "first_min_partial_amount", "reference_id", "description",
    "customer", "notify", "reminder_enable", "notes", "callback_url", "callback_method", "expire_by",
    "upi_link", "options",
}
LINK_PATCH_FIELDS = {"reference_id", "expire_by", "notes", "accept_partial", "reminder_enable"}
ORDER_CREATE_FIELDS = {"amount", "currency", "receipt", "notes", "partial_payment", "first_payment_min_amount"}


def new_id(prefix: str) -> str:
    # secrets, not the seeded RNG: ids must never repeat across restarts with persisted state.
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(14))


def hmac_hex(secret: str, message: str | bytes) -> str:
    if isinstance(message, str):
        message = message.encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def rupees(paise: int) -> str:
    # Integer math only: money never passes through float.
    return f"{paise // 100}.{paise % 100:02d}"


def error_body(code: str, description: str, field: str | None = None, source: str = "NA",
               step: str = "NA", reason: str = "NA") -> dict:
    return {"error": {"code": code, "description": description, "field": field, "source": source,
                      "step": step, "reason": reason, "metadata": {}}}


class ApiError(Exception):
    """A Razorpay-shaped error; the SDK maps `code` to BadRequestError / GatewayError / ServerError."""

    def __init__(self, description: str, field: str | None = None, status: int = 400,
                 code: str = "BAD_REQUEST_ERROR", reason: str = "input_validation_failed"):
        super().__init__(description)
        self.description, self.field, self.status, self.code, self.reason = description, field, status, code, reason

    def response(self) -> JSONResponse:
        body = error_body(self.code, self.description, self.field, source="business",
                          step="payment_initiation", reason=self.reason)
        return JSONResponse(body, status_code=self.status)


AUTH_FAILED = error_body("BAD_REQUEST_ERROR", "Authentication failed")
SERVER_ERROR = error_body("SERVER_ERROR", "The server encountered an error. The incident has been reported to admins.")
NOT_FOUND = "The id provided does not exist"


# ---------------------------------------------------------------- validation helpers

def _require_int(value: Any, field: str) -> int:
    # bool is an int subclass and floats are how rupee/paise bugs sneak in: reject both.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(f"The {field} must be an integer.", field)
    return value


def _amount(value: Any, field: str = "amount") -> int:
    if value is None:
        raise ApiError(f"The {field} field is required.", field)
    value = _require_int(value, field)
    if value < MIN_AMOUNT:
        raise ApiError("The amount must be atleast INR 1.00", field)
    return value


def _currency(value: Any) -> str:
    if value is None:
        return "INR"
    if value != "INR":
        raise ApiError("Currency is not supported", "currency")
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ApiError(f"The {field} field must be true or false.", field)
    return value


def _short_str(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ApiError(f"The {field} must be a string.", field)
    if len(value) > limit:
        raise ApiError(f"The {field} may not be greater than {limit} characters.", field)
    return value


def _notes(value: Any) -> dict | list:
    # Razorpay (PHP underneath) answers empty notes as [] -- reproduce that so callers handle it.
    if value is None or value == [] or value == {}:
        return []
    if not isinstance(value, dict):
        raise ApiError("The notes must be an object of key-value pairs.", "notes")
    if len(value) > 15:
        raise ApiError("Number of fields in notes should be less than or equal to 15", "notes")
    for key, val in value.items():
        if isinstance(val, (dict, list)):
            raise ApiError(f"The notes.{key} must be a string.", "notes")
        if len(str(key)) > 255 or len(str(val)) > 255:
            raise ApiError("The notes value may not be greater than 255 characters.", "notes")
    return dict(value)


def _check_fields(body: dict, allowed: set) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise ApiError(f"{', '.join(extra)} is/are not required and should not be sent", extra[0])


def _with_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


# ---------------------------------------------------------------- webhook delivery

class WebhookDispatcher:
    """Delivers signed webhooks from one background thread so the pay page never waits on a receiver.

    A single worker keeps the (seeded, shuffled) send order deterministic; retries are re-queued
    with a due time instead of sleeping, so one failing event does not stall the others much.
    """

    def __init__(self, secret: str, timeout: float = 5.0, attempts: int = 4, backoff: float = 0.5):
        self.secret, self.timeout, self.max_attempts, self.backoff = secret, timeout, attempts, backoff
        self.cv = threading.Condition()
        self.heap: list = []
        self.seq = itertools.count()
        self.log: list[dict] = []  # one record per delivery (original, duplicate or redelivery)
        self.thread: threading.Thread | None = None
        self.closed = False

    def submit(self, url: str, event_id: str, event: str, body: bytes, delay: float = 0.0) -> dict:
        record = {"delivery_id": 0, "event_id": event_id, "event": event, "url": url,
                  "status": "pending", "attempts": 0, "http_status": None, "error": None,
                  "queued_at": time.time(), "delivered_at": None, "body": body.decode("utf-8")}
        with self.cv:
            record["delivery_id"] = len(self.log) + 1
            self.log.append(record)
            heapq.heappush(self.heap, (time.monotonic() + delay, next(self.seq), record))
            self.closed = False
            if self.thread is None:  # the worker clears this under the lock when it exits
                self.thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
                self.thread.start()
            self.cv.notify_all()
        return record

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, trust_env=False) as client:
            while True:
                with self.cv:
                    while not self.closed:
                        if self.heap and self.heap[0][0] <= time.monotonic():
                            break
                        wait = self.heap[0][0] - time.monotonic() if self.heap else None
                        self.cv.wait(wait)
                    if self.closed:
                        self.thread = None
                        return
                    _, _, record = heapq.heappop(self.heap)
                self._attempt(client, record)

    def _attempt(self, client: httpx.Client, record: dict) -> None:
        body = record["body"].encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "Razorpay-Webhook/v1",
                   "X-Razorpay-Signature": hmac_hex(self.secret, body),
                   "X-Razorpay-Event-Id": record["event_id"]}
        status, error = None, None
        try:
            status = client.post(record["url"], content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        with self.cv:
            record["attempts"] += 1
            record["http_status"], record["error"] = status, error
            if ok:
                record["status"], record["delivered_at"] = "delivered", time.time()
            elif record["attempts"] < self.max_attempts:
                due = time.monotonic() + self.backoff * 2 ** (record["attempts"] - 1)
                heapq.heappush(self.heap, (due, next(self.seq), record))
            else:
                record["status"] = "failed"
            self.cv.notify_all()
        log.info("webhook %s %s -> %s", record["event"], record["event_id"], status or error)

    def pending(self) -> int:
        with self.cv:
            return sum(1 for r in self.log if r["status"] == "pending")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery has succeeded or given up (for tests)."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while any(r["status"] == "pending" for r in self.log):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(min(left, 0.05))
        return True

    def snapshot(self) -> list[dict]:
        with self.cv:
            return [dict(r) for r in self.log]

    def clear(self) -> None:
        with self.cv:
            self.heap.clear()
            self.log.clear()

    def close(self) -> None:
        with self.cv:
            self.closed = True
            self.cv.notify_all()


# ---------------------------------------------------------------- state and business rules

class Sandbox:
    """All fake-Razorpay state. Every mutation happens under `self.lock` (uvicorn may run handlers
    concurrently with the control endpoints and tests poking at it directly)."""

    def __init__(self, key_id: str = DEFAULT_KEY_ID, key_secret: str = DEFAULT_KEY_SECRET,
                 webhook_secret: str = DEFAULT_WEBHOOK_SECRET, webhook_url: str | None = None,
                 state_path: str | None = None, public_url: str | None = None,
                 duplicate_probability: float = 0.5, seed: int | None = None,
                 webhook_timeout: float = 5.0, webhook_attempts: int = 4, webhook_backoff: float = 0.5):
        self.key_id, self.key_secret, self.webhook_secret = key_id, key_secret, webhook_secret
        self.webhook_url = webhook_url
        self.state_path = state_path
        self.public_url = public_url.rstrip("/") if public_url else None
        self.duplicate_probability = duplicate_probability
        self.rng = random.Random(seed)
        self.clock: Callable[[], float] = time.time  # tests may replace it to travel in time
        self.lock = threading.RLock()
        self.links: dict[str, dict] = {}
        self.orders: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.fault = {"mode": "none", "count": None, "delay": 0.0, "after": False}
        self.webhooks = WebhookDispatcher(webhook_secret, webhook_timeout, webhook_attempts, webhook_backoff)
        self._load()

    def now(self) -> int:
        return int(self.clock())

    # -- persistence: whole-file JSON, atomic replace so a crash never leaves half a file

    def _load(self) -> None:
        if not self.state_path or not os.path.exists(self.state_path):
            return
        with open(self.state_path, encoding="utf-8") as f:
            data = json.load(f)
        self.links, self.orders, self.payments = data.get("links", {}), data.get("orders", {}), data.get("payments", {})

    def _save(self) -> None:
        if not self.state_path:
            return
        data = {"version": 1, "links": self.links, "orders": self.orders, "payments": self.payments}
        directory = os.path.dirname(os.path.abspath(self.state_path))
        fd, tmp = tempfile.mkstemp(prefix=".razorpay-state-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state_path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def reset(self) -> None:
        with self.lock:
            self.links.clear()
            self.orders.clear()
            self.payments.clear()
            self.fault = {"mode": "none", "count": None, "delay": 0.0, "after": False}
            self.webhooks.clear()
            self._save()

    # -- faults

    def set_fault(self, body: dict) -> dict:
        mode = body.get("mode", "none")
        if mode not in ("none", "5xx", "non_json", "slow"):
            raise ApiError("mode must be one of none, 5xx, non_json, slow", "mode")
        count = body.get("count")
        if count is not None and _require_int(count, "count") <= 0:
            mode, count = "none", None
        delay = body.get("delay", 1.0)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise ApiError("delay must be a non-negative number of seconds", "delay")
        with self.lock:
            self.fault = {"mode": mode, "count": count, "delay": float(delay), "after": bool(body.get("after", False))}
            return dict(self.fault)

    def take_fault(self) -> dict | None:
        """Consume one use of the active fault, if any."""
        with self.lock:
            fault = self.fault
            if fault["mode"] == "none":
                return None
            taken = dict(fault)
            if fault["count"] is not None:
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.fault = {"mode": "none", "count": None, "delay": 0.0, "after": False}
            return taken

    # -- events

    def _event(self, name: str, **entities: dict) -> tuple[str, bytes]:
        envelope = {"entity": "event", "account_id": ACCOUNT_ID, "event": name, "contains": list(entities),
                    "payload": {kind: {"entity": entity} for kind, entity in entities.items()},
                    "created_at": self.now()}
        # Serialised once: duplicates and redeliveries resend these exact bytes (same signature).
        return new_id("evt_"), json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def _emit(self, events: list[tuple[str, dict]], shuffle: bool = False) -> None:
        if not self.webhook_url:
            return
        built = [(name, *self._event(name, **entities)) for name, entities in events]
        if shuffle:  # Razorpay does not order events; neither do we
            self.rng.shuffle(built)
        for name, event_id, body in built:
            self.webhooks.submit(self.webhook_url, event_id, name, body)
        if shuffle and self.rng.random() < self.duplicate_probability:  # at-least-once delivery
            name, event_id, body = self.rng.choice(built)
            self.webhooks.submit(self.webhook_url, event_id, name, body)

    def redeliver(self) -> int:
        seen: dict[str, dict] = {}
        for record in self.webhooks.snapshot():
            seen.setdefault(record["event_id"], record)
        for record in seen.values():
            self.webhooks.submit(record["url"], record["event_id"], record["event"], record["body"].encode("utf-8"))
        return len(seen)

    # -- payment links

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
        self._emit([("payment_link.expired", {"payment_link": dict(link)})])
        self._save()

    def _check_expire_by(self, value: Any) -> int:
        value = _require_int(value, "expire_by")
        now = self.now()
        if value <= now + EXPIRE_MIN_AHEAD:
            raise ApiError("timestamp must be atleast 15 minutes in future", "expire_by")
        if value > now + EXPIRE_MAX_AHEAD:
            raise ApiError("timestamp must not be more than 6 months in future", "expire_by")
        return value

    def _check_reference(self, reference_id: Any, exclude: str | None = None) -> str:
        reference_id = _short_str(reference_id, "reference_id", 40)
        # Unique per account for ever, cancelled/expired links included: Razorpay's idempotency handle.
        if reference_id and any(l["reference_id"] == reference_id and l["id"] != exclude for l in self.links.values()):
            raise ApiError("payment link creation with reference ID already attempted", "reference_id")
        return reference_id

    def create_link(self, body: dict, base_url: str) -> dict:
        _check_fields(body, LINK_CREATE_FIELDS)
        amount = _amount(body.get("amount"))
        currency = _currency(body.get("currency"))
        accept_partial = _bool(body.get("accept_partial", False), "accept_partial")
        first_min = body.get("first_min_partial_amount")
        if first_min is not None:
            if not accept_partial:
                raise ApiError("first_min_partial_amount is allowed only when accept_partial is true",
                               "first_min_partial_amount")
            first_min = _amount(first_min, "first_min_partial_amount")
            if first_min > amount:
                raise ApiError("first_min_partial_amount should be less than amount", "first_min_partial_amount")
        description = _short_str(body.get("description") or "", "description", 2048)
        customer = body.get("customer") or {}
        if not isinstance(customer, dict) or set(customer) - {"name", "email", "contact"}:
            raise ApiError("customer may only contain name, email and contact", "customer")
        notify = body.get("notify") or {"sms": False, "email": False}
        if not isinstance(notify, dict):
            raise ApiError("notify must be an object", "notify")
        reminder_enable = _bool(body.get("reminder_enable", False), "reminder_enable")
        notes = _notes(body.get("notes"))
        callback_url = body.get("callback_url") or ""
        callback_method = body.get("callback_method") or ""
        if callback_url:
            if not isinstance(callback_url, str) or urlsplit(callback_url).scheme not in ("http", "https"):
                raise ApiError("The callback url format is invalid.", "callback_url")
            if callback_method != "get":
                raise ApiError("callback_method should be get when callback_url is given", "callback_method")
        upi_link = body.get("upi_link", False)
        if upi_link and self.key_id.startswith("rzp_test_"):
            raise ApiError("UPI Payment Links is not supported in Test Mode", "upi_link")
        with self.lock:
            expire_by = self._check_expire_by(body["expire_by"]) if body.get("expire_by") is not None else 0
            reference_id = self._check_reference(body.get("reference_id") or "")
            now, link_id = self.now(), new_id("plink_")
            link = {
                "id": link_id, "entity": "payment_link", "amount": amount, "amount_paid": 0, "currency": currency,
                "accept_partial": accept_partial, "first_min_partial_amount": first_min or 0,
                "reference_id": reference_id, "description": description, "customer": customer,
                "notify": notify, "reminder_enable": reminder_enable, "reminders": [], "notes": notes,
                "callback_url": callback_url, "callback_method": callback_method, "expire_by": expire_by,
                "expired_at": 0, "cancelled_at": 0, "upi_link": bool(upi_link), "user_id": "",
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
            for link in sorted(self.links.values(), key=lambda l: l["created_at"], reverse=True):
                if reference_id is not None and link["reference_id"] != reference_id:
                    continue
                if payment_id is not None and not any(p["payment_id"] == payment_id for p in link["payments"] or []):
                    continue
                self._refresh(link)
                found.append(dict(link))
            return found

    def edit_link(self, link_id: str, body: dict) -> dict:
        _check_fields(body, LINK_PATCH_FIELDS)
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
                changes["notes"] = _notes(body["notes"])
            if "accept_partial" in body:
                changes["accept_partial"] = _bool(body["accept_partial"], "accept_partial")
            if "reminder_enable" in body:
                changes["reminder_enable"] = _bool(body["reminder_enable"], "reminder_enable")
            link.update(changes, updated_at=self.now())
            self._save()
            return dict(link)

    def cancel_link(self, link_id: str) -> dict:
        with self.lock:
            link = self._link(link_id)
            if link["status"] in ("paid", "partially_paid"):
                raise ApiError("cannot cancel or expire an already paid/partially paid link")
            if link["status"] == "expired":
                raise ApiError("cannot cancel or expire an expired link")
            if link["status"] == "cancelled":
                raise ApiError("cannot cancel or expire an already cancelled link")
            link.update(status="cancelled", cancelled_at=self.now(), updated_at=self.now())
            self._emit([("payment_link.cancelled", {"payment_link": dict(link)})])
            self._save()
            return dict(link)

    def force_expire(self, link_id: str) -> dict:
        with self.lock:
            link = self._link(link_id)
            if link["status"] in ("paid", "partially_paid"):
                raise ApiError("cannot cancel or expire an already paid/partially paid link")
            if link["status"] != "created":
                raise ApiError(f"cannot cancel or expire an {link['status']} link")
            self._expire(link)
            return dict(link)

    def _link_order(self, link: dict) -> dict:
        # Real payment links pay through an order; create it on first attempt.
        if not link["order_id"]:
            order = self._new_order(link["amount"], link["currency"], None, link["notes"])
            link["order_id"] = order["id"]
        return self.orders[link["order_id"]]

    def _check_method(self, method: Any) -> str:
        if method not in METHODS:
            raise ApiError(f"method must be one of {', '.join(METHODS)}", "method")
        return method

    def pay_link(self, link_id: str, amount: Any = None, method: Any = "upi") -> tuple[dict, dict]:
        """Capture a payment on a link (the 'Pay' / 'Pay partially' button). Returns (link, payment)."""
        method = self._check_method(method)
        with self.lock:
            link = self._link(link_id)
            if link["status"] not in PAYABLE:
                raise ApiError(f"payment link is not payable, its status is {link['status']}", "id")
            due = link["amount"] - link["amount_paid"]
            amount = due if amount is None else _amount(amount)
            if amount > due:
                raise ApiError(f"amount must not exceed the amount due ({due} paise)", "amount")
            if amount < due and not link["accept_partial"]:
                raise ApiError("partial payment is not enabled for this payment link", "amount")
            if link["amount_paid"] == 0 and amount < due and amount < link["first_min_partial_amount"]:
                raise ApiError("amount is less than first_min_partial_amount", "amount")
            order = self._link_order(link)
            payment = self._new_payment(amount, order["id"], method, "captured", link)
            now = self.now()
            link["amount_paid"] += amount
            link["payments"] = (link["payments"] or []) + [{
                "payment_id": payment["id"], "amount": amount, "status": "captured", "method": method,
                "created_at": now, "plink_id": link_id}]
            link.update(status="paid" if link["amount_paid"] == link["amount"] else "partially_paid", updated_at=now)
            self._order_paid(order, amount)
            event = "payment_link.paid" if link["status"] == "paid" else "payment_link.partially_paid"
            self._emit([(event, {"payment_link": dict(link), "order": dict(order), "payment": dict(payment)}),
                        ("payment.captured", {"payment": dict(payment)})], shuffle=True)
            self._save()
            return dict(link), dict(payment)

    def fail_link(self, link_id: str, method: Any = "upi") -> tuple[dict, dict]:
        method = self._check_method(method)
        with self.lock:
            link = self._link(link_id)
            if link["status"] not in PAYABLE:
                raise ApiError(f"payment link is not payable, its status is {link['status']}", "id")
            order = self._link_order(link)
            payment = self._new_payment(link["amount"] - link["amount_paid"], order["id"], method, "failed", link)
            self._order_attempted(order)
            self._emit([("payment.failed", {"payment": dict(payment)})])
            self._save()
            return dict(link), dict(payment)

    def callback_params(self, link: dict, payment_id: str) -> dict:
        message = f"{link['id']}|{link['reference_id']}|{link['status']}|{payment_id}"
        return {"razorpay_payment_id": payment_id, "razorpay_payment_link_id": link["id"],
                "razorpay_payment_link_reference_id": link["reference_id"],
                "razorpay_payment_link_status": link["status"],
                "razorpay_signature": hmac_hex(self.key_secret, message)}

    # -- orders and payments

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

    def _new_payment(self, amount: int, order_id: str, method: str, status: str, link: dict | None = None) -> dict:
        customer = (link or {}).get("customer") or {}
        captured = status == "captured"
        fee = amount * 2 // 100  # 2% MDR + 18% GST on it, integer paise like the real thing
        tax = fee * 18 // 100
        payment = {
            "id": new_id("pay_"), "entity": "payment", "amount": amount, "currency": "INR", "status": status,
            "order_id": order_id, "invoice_id": None, "international": False, "method": method,
            "amount_refunded": 0, "refund_status": None, "captured": captured,
            "description": (link or {}).get("description", ""), "card_id": None, "bank": None, "wallet": None,
            "vpa": ("success@razorpay" if captured else "failure@razorpay") if method == "upi" else None,
            "email": customer.get("email", "void@razorpay.com"), "contact": customer.get("contact", "+919999999999"),
            "notes": (link or {}).get("notes") or (self.orders.get(order_id) or {}).get("notes") or [],
            "fee": fee + tax if captured else None, "tax": tax if captured else None,
            "error_code": None, "error_description": None, "error_source": None, "error_step": None,
            "error_reason": None, "acquirer_data": {}, "created_at": self.now(),
        }
        if not captured:
            payment.update(error_code="BAD_REQUEST_ERROR",
                           error_description="Payment failed because the customer declined it (sandbox).",
                           error_source="customer", error_step="payment_authentication",
                           error_reason="payment_failed")
        self.payments[payment["id"]] = payment
        return payment

    def create_order(self, body: dict) -> dict:
        _check_fields(body, ORDER_CREATE_FIELDS)
        amount = _amount(body.get("amount"))
        currency = _currency(body.get("currency"))
        notes = _notes(body.get("notes"))
        receipt = body.get("receipt")
        with self.lock:
            if receipt is not None:
                receipt = _short_str(receipt, "receipt", 40)
                if any(o["receipt"] == receipt for o in self.orders.values()):
                    raise ApiError("receipt already exists for another order", "receipt")
            order = self._new_order(amount, currency, receipt, notes)
            self._save()
            return dict(order)

    def get_order(self, order_id: str) -> dict:
        with self.lock:
            if order_id not in self.orders:
                raise ApiError(NOT_FOUND, "id", reason="NA")
            return dict(self.orders[order_id])

    def list_orders(self, receipt: str | None = None) -> dict:
        with self.lock:
            items = [dict(o) for o in sorted(self.orders.values(), key=lambda o: o["created_at"], reverse=True)
                     if receipt is None or o["receipt"] == receipt]
        return {"entity": "collection", "count": len(items), "items": items}

    def order_payments(self, order_id: str) -> dict:
        with self.lock:
            self.get_order(order_id)
            items = [dict(p) for p in self.payments.values() if p["order_id"] == order_id]
        return {"entity": "collection", "count": len(items), "items": items}

    def get_payment(self, payment_id: str) -> dict:
        with self.lock:
            if payment_id not in self.payments:
                raise ApiError(NOT_FOUND, "id", reason="NA")
            return dict(self.payments[payment_id])

    def pay_order(self, order_id: str, method: Any = "upi", fail: bool = False) -> dict:
        method = self._check_method(method)
        with self.lock:
            if order_id not in self.orders:
                raise ApiError(NOT_FOUND, "id", reason="NA")
            order = self.orders[order_id]
            if order["status"] == "paid":
                raise ApiError("order is already paid", "id")
            payment = self._new_payment(order["amount_due"], order_id, method, "failed" if fail else "captured")
            if fail:
                self._order_attempted(order)
                self._emit([("payment.failed", {"payment": dict(payment)})])
            else:
                self._order_paid(order, payment["amount"])
                self._emit([("payment.captured", {"payment": dict(payment)}),
                            ("order.paid", {"payment": dict(payment), "order": dict(order)})], shuffle=True)
            self._save()
            return dict(payment)


# ---------------------------------------------------------------- HTTP layer

def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _authorized(request: Request, sb: Sandbox) -> bool:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    # compare_digest on both halves: no early exit that leaks which part was wrong
    return hmac.compare_digest(user, sb.key_id) & hmac.compare_digest(password, sb.key_secret)


async def _json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError("The request body is not valid JSON") from None
    if isinstance(body, list) and not body:  # PHP-style empty object
        return {}
    if not isinstance(body, dict):
        raise ApiError("The request body must be a JSON object")
    return body


def _fault_response(fault: dict) -> Response:
    if fault["mode"] == "5xx":
        return JSONResponse(SERVER_ERROR, status_code=500)
    return HTMLResponse("<html><head><title>502 Bad Gateway</title></head>"
                        "<body><center><h1>502 Bad Gateway</h1></center></body></html>", status_code=502)


def api(handler: Callable[[Request, Sandbox], Any]) -> Callable:
    """Wrap a /v1 handler with fault injection, Basic auth and Razorpay error shapes."""

    async def endpoint(request: Request) -> Response:
        sb = _sandbox(request)
        fault = sb.take_fault()
        if fault and fault["mode"] == "slow":
            await asyncio.sleep(fault["delay"])
        if fault and fault["mode"] in ("5xx", "non_json") and not fault["after"]:
            return _fault_response(fault)
        if not _authorized(request, sb):
            return JSONResponse(AUTH_FAILED, status_code=401)
        try:
            result = handler(request, sb)
            if asyncio.iscoroutine(result):
                result = await result
            response: Response = JSONResponse(result)
        except ApiError as exc:
            response = exc.response()
        # "after" = the work was done but the answer got lost: exercises idempotent retries.
        if fault and fault["mode"] in ("5xx", "non_json"):
            return _fault_response(fault)
        return response

    return endpoint


def control(handler: Callable[[Request, Sandbox], Any]) -> Callable:
    """Wrap a /sandbox test-control handler: no auth, no faults, same error shape."""

    async def endpoint(request: Request) -> Response:
        try:
            result = handler(request, _sandbox(request))
            if asyncio.iscoroutine(result):
                result = await result
            return result if isinstance(result, Response) else JSONResponse(result)
        except ApiError as exc:
            return exc.response()

    return endpoint


# -- /v1 handlers

async def links_root(request: Request, sb: Sandbox) -> dict:
    if request.method == "POST":
        return sb.create_link(await _json_body(request), _base_url(request))
    q = request.query_params
    return {"payment_links": sb.list_links(q.get("reference_id"), q.get("payment_id"))}


async def link_item(request: Request, sb: Sandbox) -> dict:
    link_id = request.path_params["id"]
    if request.method == "PATCH":
        return sb.edit_link(link_id, await _json_body(request))
    return sb.get_link(link_id)


def link_cancel(request: Request, sb: Sandbox) -> dict:
    return sb.cancel_link(request.path_params["id"])


def link_notify(request: Request, sb: Sandbox) -> dict:
    sb.get_link(request.path_params["id"])
    if request.path_params["medium"] not in ("sms", "email"):
        raise ApiError("medium must be sms or email", "medium")
    return {"success": True}


async def orders_root(request: Request, sb: Sandbox) -> dict:
    if request.method == "POST":
        return sb.create_order(await _json_body(request))
    return sb.list_orders(request.query_params.get("receipt"))


def order_item(request: Request, sb: Sandbox) -> dict:
    return sb.get_order(request.path_params["id"])


def order_payments(request: Request, sb: Sandbox) -> dict:
    return sb.order_payments(request.path_params["id"])


def payment_item(request: Request, sb: Sandbox) -> dict:
    return sb.get_payment(request.path_params["id"])


def v1_unknown(request: Request, sb: Sandbox) -> dict:
    raise ApiError("The requested URL was not found on the server.", reason="NA")


# -- hosted payment page

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Razorpay Sandbox</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:2rem auto}}.note{{background:#fff3cd;padding:.5rem}}
form{{display:inline-block;margin:.25rem}}button{{padding:.5rem 1rem}}</style></head>
<body><h1>Razorpay Sandbox</h1><p class="note">Sandbox — no real money</p>{content}</body></html>"""


def _page(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(content=content), status_code=status)


def _pay_page(link: dict) -> HTMLResponse:
    lid = html.escape(link["id"])
    due = link["amount"] - link["amount_paid"]
    parts = [f"<p>Amount: <strong>₹{rupees(link['amount'])}</strong></p>",
             f"<p>Description: {html.escape(link['description'] or '')}</p>",
             f"<p>Status: <span id=\"status\">{html.escape(link['status'])}</span>"
             f" · Paid ₹{rupees(link['amount_paid'])} · Due ₹{rupees(due)}</p>"]
    if link["status"] in PAYABLE:
        options = "".join(f'<option value="{m}">{m}</option>' for m in METHODS)
        parts.append(f'<form method="post" action="/pay/{lid}/pay"><select name="method">{options}</select>'
                     f'<button type="submit">Pay</button></form>'
                     f'<form method="post" action="/pay/{lid}/fail"><button type="submit">Fail</button></form>')
        if link["accept_partial"]:
            half = max(MIN_AMOUNT, due // 2)
            parts.append(f'<form method="post" action="/pay/{lid}/partial"><label>Amount (paise) '
                         f'<input type="number" name="amount" min="{MIN_AMOUNT}" max="{due}" value="{half}"></label>'
                         f'<button type="submit">Pay partially</button></form>')
    else:
        parts.append("<p>This payment link cannot be paid any more.</p>")
    return _page("".join(parts))


async def _form(request: Request) -> dict:
    # Parsed by hand so the page does not depend on python-multipart being installed.
    return dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))


async def pay_page(request: Request) -> Response:
    sb = _sandbox(request)
    try:
        return _pay_page(sb.get_link(request.path_params["id"]))
    except ApiError as exc:
        return _page(f"<p>{html.escape(exc.description)}</p>", status=404)


async def pay_page_action(request: Request) -> Response:
    sb, link_id, action = _sandbox(request), request.path_params["id"], request.path_params["action"]
    form = await _form(request)
    back = f'<p><a href="/pay/{html.escape(link_id)}">Back to the payment page</a></p>'
    try:
        if action not in ("pay", "fail", "partial"):
            return _page("<p>Unknown action</p>", status=404)
        if action == "fail":
            _, payment = sb.fail_link(link_id, form.get("method", "upi"))
            # Razorpay does not redirect on failure: the customer stays on the page and may retry.
            return _page(f"<h2>Payment failed</h2><p>Payment {html.escape(payment['id'])} failed.</p>{back}")
        amount = None
        if action == "partial":
            link = sb.get_link(link_id)
            if not link["accept_partial"]:
                raise ApiError("partial payment is not enabled for this payment link", "amount")
            raw, due = form.get("amount", "").strip(), link["amount"] - link["amount_paid"]
            try:
                amount = int(raw) if raw else max(MIN_AMOUNT, due // 2)
            except ValueError:
                raise ApiError("amount must be a whole number of paise", "amount") from None
        link, payment = sb.pay_link(link_id, amount, form.get("method", "upi"))
    except ApiError as exc:
        return _page(f"<h2>Payment not possible</h2><p>{html.escape(exc.description)}</p>{back}", status=400)
    if link["callback_url"]:
        return RedirectResponse(_with_query(link["callback_url"], sb.callback_params(link, payment["id"])),
                                status_code=303)
    return _page(f"<h2>Payment successful</h2><p>Paid ₹{rupees(payment['amount'])} "
                 f"(payment {html.escape(payment['id'])}).</p>{back}")


# -- /sandbox control endpoints

def c_health(request: Request, sb: Sandbox) -> Response:
    return PlainTextResponse("ok")


def c_reset(request: Request, sb: Sandbox) -> dict:
    sb.reset()
    return {"ok": True}


async def c_fault(request: Request, sb: Sandbox) -> dict:
    return sb.set_fault(await _json_body(request))


async def c_config(request: Request, sb: Sandbox) -> dict:
    body = await _json_body(request)
    with sb.lock:
        if "webhook_url" in body:
            sb.webhook_url = body["webhook_url"] or None
        if "duplicate_probability" in body:
            p = body["duplicate_probability"]
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise ApiError("duplicate_probability must be between 0 and 1", "duplicate_probability")
            sb.duplicate_probability = p
        if "seed" in body:
            sb.rng.seed(body["seed"])
        return {"webhook_url": sb.webhook_url, "duplicate_probability": sb.duplicate_probability}


def c_webhooks(request: Request, sb: Sandbox) -> dict:
    return {"deliveries": sb.webhooks.snapshot(), "pending": sb.webhooks.pending()}


def c_redeliver(request: Request, sb: Sandbox) -> dict:
    return {"redelivered": sb.redeliver()}


async def c_link_action(request: Request, sb: Sandbox) -> dict:
    link_id, action = request.path_params["id"], request.path_params["action"]
    if action not in ("pay", "fail", "expire"):
        raise ApiError("action must be pay, fail or expire", "action", status=404)
    body = await _json_body(request)
    if action == "expire":
        return sb.force_expire(link_id)
    if action == "fail":
        link, payment = sb.fail_link(link_id, body.get("method", "upi"))
        return {"payment_id": payment["id"], "status": "failed", "link_status": link["status"]}
    link, payment = sb.pay_link(link_id, body.get("amount"), body.get("method", "upi"))
    params = sb.callback_params(link, payment["id"])
    return {"payment_id": payment["id"], "status": link["status"], "payment_status": payment["status"],
            "amount": payment["amount"], "callback_params": params, "callback_url": link["callback_url"] or None,
            "redirect_url": _with_query(link["callback_url"], params) if link["callback_url"] else None}


async def c_order_action(request: Request, sb: Sandbox) -> dict:
    order_id, action = request.path_params["id"], request.path_params["action"]
    if action not in ("pay", "fail"):
        raise ApiError("action must be pay or fail", "action", status=404)
    body = await _json_body(request)
    payment = sb.pay_order(order_id, body.get("method", "upi"), fail=action == "fail")
    if action == "fail":
        return {"razorpay_order_id": order_id, "razorpay_payment_id": payment["id"], "status": "failed"}
    return {"razorpay_order_id": order_id, "razorpay_payment_id": payment["id"],
            "razorpay_signature": hmac_hex(sb.key_secret, f"{order_id}|{payment['id']}")}


def create_app(key_id: str = DEFAULT_KEY_ID, key_secret: str = DEFAULT_KEY_SECRET,
               webhook_secret: str = DEFAULT_WEBHOOK_SECRET, webhook_url: str | None = None,
               state_path: str | None = None, public_url: str | None = None, *,
               duplicate_probability: float = 0.5, seed: int | None = None, webhook_timeout: float = 5.0,
               webhook_attempts: int = 4, webhook_backoff: float = 0.5) -> Starlette:
    """Build the sandbox app. The Sandbox state object is at `app.state.sandbox`."""
    sb = Sandbox(key_id, key_secret, webhook_secret, webhook_url, state_path, public_url,
                 duplicate_probability, seed, webhook_timeout, webhook_attempts, webhook_backoff)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        sb.webhooks.close()  # let the worker thread end with the server

    any_method = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    routes = [
        Route("/v1/payment_links", api(links_root), methods=["GET", "POST"]),
        Route("/v1/payment_links/{id}", api(link_item), methods=["GET", "PATCH"]),
        Route("/v1/payment_links/{id}/cancel", api(link_cancel), methods=["POST"]),
        Route("/v1/payment_links/{id}/notify_by/{medium}", api(link_notify), methods=["POST"]),
        Route("/v1/orders", api(orders_root), methods=["GET", "POST"]),
        Route("/v1/orders/{id}", api(order_item), methods=["GET"]),
        Route("/v1/orders/{id}/payments", api(order_payments), methods=["GET"]),
        Route("/v1/payments/{id}", api(payment_item), methods=["GET"]),
        Route("/v1/{rest:path}", api(v1_unknown), methods=any_method),
        Route("/pay/{id}", pay_page, methods=["GET"]),
        Route("/pay/{id}/{action:str}", pay_page_action, methods=["POST"]),
        Route("/sandbox/health", control(c_health), methods=["GET"]),
        Route("/sandbox/reset", control(c_reset), methods=["POST"]),
        Route("/sandbox/fault", control(c_fault), methods=["POST"]),
        Route("/sandbox/config", control(c_config), methods=["POST"]),
        Route("/sandbox/webhooks", control(c_webhooks), methods=["GET"]),
        Route("/sandbox/webhooks/redeliver", control(c_redeliver), methods=["POST"]),
        Route("/sandbox/links/{id}/{action:str}", control(c_link_action), methods=["POST"]),
        Route("/sandbox/orders/{id}/{action:str}", control(c_order_action), methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sb
    return app


# ---------------------------------------------------------------- running it

class ServerHandle:
    """A uvicorn server running in a daemon thread; `.url`, `.port`, `.app`, `.sandbox`, `.stop()`."""

    def __init__(self, app: Starlette, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket):
        self.app, self.server, self.thread, self.sock = app, server, thread, sock
        self.host, self.port = sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"

    @property
    def sandbox(self) -> Sandbox | None:
        return getattr(self.app.state, "sandbox", None)

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_in_thread(app_or_params: Starlette | dict | None = None, port: int = 0,
                  host: str = "127.0.0.1", timeout: float = 10.0) -> ServerHandle:
    """Serve an app (or `create_app(**params)`) on host:port (0 = any free port) in a daemon thread."""
    app = app_or_params if isinstance(app_or_params, Starlette) else create_app(**(app_or_params or {}))
    # Bind the socket ourselves so port 0 resolves before uvicorn starts and nothing races for it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.01)
    return ServerHandle(app, server, thread, sock)


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Offline fake Razorpay server for development and tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env("SANDBOX_PORT", "8787")))
    parser.add_argument("--key-id", default=env("RAZORPAY_KEY_ID", DEFAULT_KEY_ID))
    parser.add_argument("--key-secret", default=env("RAZORPAY_KEY_SECRET", DEFAULT_KEY_SECRET))
    parser.add_argument("--webhook-secret", default=env("RAZORPAY_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET))
    parser.add_argument("--webhook-url", default=env("SANDBOX_WEBHOOK_URL") or None)
    parser.add_argument("--state", default=env("SANDBOX_STATE") or None, help="JSON file to persist state in")
    parser.add_argument("--public-url", default=env("SANDBOX_PUBLIC_URL") or None,
                        help="base of short_url (default: the URL the API was called on)")
    parser.add_argument("--duplicate-probability", type=float,
                        default=float(env("SANDBOX_DUPLICATE_PROBABILITY", "0.5")))
    parser.add_argument("--seed", type=int, default=int(env("SANDBOX_SEED")) if env("SANDBOX_SEED") else None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(args.key_id, args.key_secret, args.webhook_secret, args.webhook_url, args.state,
                     args.public_url, duplicate_probability=args.duplicate_probability, seed=args.seed)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
