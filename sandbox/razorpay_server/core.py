"""The sandbox's state holder: storage, persistence, faults, settings, request counts and webhook events.

The resources (links, orders, payments, refunds) are mixins over this core; `state.Sandbox` joins them.
Every mutation happens under `self.lock` (uvicorn may run handlers concurrently with the control
endpoints and tests poking at the state directly).
"""
from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
from collections import Counter
from typing import Callable

from sandbox.razorpay_server.common import (ACCOUNT_ID, DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, DEFAULT_WEBHOOK_SECRET,
                                           ApiError, new_id, require_int)
from sandbox.razorpay_server.dispatch import WebhookDispatcher

_NO_FAULT = {"mode": "none", "count": None, "delay": 0.0, "after": False}
# How a new refund settles: "pending" waits for /sandbox/refunds/{id}/process|fail; the others at once.
REFUND_MODES = ("pending", "processed", "failed")


class SandboxCore:
    STORES = ("links", "orders", "payments", "refunds", "refund_keys")

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
        self.refunds: dict[str, dict] = {}
        self.refund_keys: dict[str, dict] = {}  # X-Refund-Idempotency key -> {refund, payment_id, body}
        self.fault = dict(_NO_FAULT)
        # Payer-borne convenience fee (paise) added to hosted-page payments; see REFUND_MODES.
        self.convenience_fee = 0
        self.refund_mode = "pending"
        self.calls: Counter = Counter()  # "GET /v1/payment_links/{id}" -> count, for tests of call volume
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
        for name in self.STORES:
            setattr(self, name, data.get(name, {}))

    def _save(self) -> None:
        if not self.state_path:
            return
        data = {"version": 2, **{name: getattr(self, name) for name in self.STORES}}
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
            for name in self.STORES:
                getattr(self, name).clear()
            self.fault = dict(_NO_FAULT)
            self.convenience_fee, self.refund_mode = 0, "pending"
            self.calls.clear()
            self.webhooks.clear()
            self._save()

    # -- settings and faults

    def configure(self, body: dict) -> dict:
        with self.lock:
            if "webhook_url" in body:
                self.webhook_url = body["webhook_url"] or None
            if "duplicate_probability" in body:
                p = body["duplicate_probability"]
                if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                    raise ApiError("duplicate_probability must be between 0 and 1", "duplicate_probability")
                self.duplicate_probability = p
            if "seed" in body:
                self.rng.seed(body["seed"])
            if "convenience_fee" in body:
                fee = require_int(body["convenience_fee"], "convenience_fee")
                if fee < 0:
                    raise ApiError("convenience_fee must not be negative", "convenience_fee")
                self.convenience_fee = fee
            if "refund_mode" in body:
                if body["refund_mode"] not in REFUND_MODES:
                    raise ApiError(f"refund_mode must be one of {', '.join(REFUND_MODES)}", "refund_mode")
                self.refund_mode = body["refund_mode"]
            return {"webhook_url": self.webhook_url, "duplicate_probability": self.duplicate_probability,
                    "convenience_fee": self.convenience_fee, "refund_mode": self.refund_mode}

    def set_fault(self, body: dict) -> dict:
        mode = body.get("mode", "none")
        if mode not in ("none", "5xx", "non_json", "slow"):
            raise ApiError("mode must be one of none, 5xx, non_json, slow", "mode")
        count = body.get("count")
        if count is not None and require_int(count, "count") <= 0:
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
                    self.fault = dict(_NO_FAULT)
            return taken

    def count_call(self, name: str) -> None:
        with self.lock:
            self.calls[name] += 1

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


def page(items: list[dict], query, newest_first_key: str = "created_at") -> dict:
    """Razorpay's collection answer for list endpoints: `from`/`to` (unix seconds, inclusive), `count`
    (default 10, at most 100) and `skip`, newest first."""
    lo, hi = _int_param(query, "from", 0), _int_param(query, "to", 2 ** 62)
    count, skip = _int_param(query, "count", 10), _int_param(query, "skip", 0)
    if not 1 <= count <= 100:
        raise ApiError("The count must be between 1 and 100.", "count")
    rows = sorted((i for i in items if lo <= i[newest_first_key] <= hi),
                  key=lambda i: (i[newest_first_key], i["id"]), reverse=True)
    rows = [dict(r) for r in rows[skip:skip + count]]
    return {"entity": "collection", "count": len(rows), "items": rows}


def _int_param(query, name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not str(raw).isdigit():
        raise ApiError(f"The {name} must be an integer.", name)
    return int(raw)
