"""Webhook delivery: signed, at-least-once, from one background thread with retries."""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time

import httpx

from sandbox.razorpay_server.common import hmac_hex

log = logging.getLogger("sandbox.razorpay")


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

