"""The customer's webhook: a signed JSON POST per alert, retried, and a delivery log they can read.

Each request carries the body's HMAC-SHA256 under the wallet's secret, computed over the exact bytes
sent (`X-Wallet-Signature: sha256=<hex>`), the event id (`X-Wallet-Event-Id`, the same on every retry,
so a receiver drops repeats) and the event type. A 2xx answer is delivered; anything else (an error
status, a refused connection, a timeout, a redirect) is retried with backoff for 24 hours
(services.alerts.outbox). Every try lands in `alert_log/{user}` (the last LOG_KEPT).

Where the URL points is checked at every try: unless WALLET_WEBHOOK_PRIVATE_OK is set (development), a
name that resolves to anything but a global unicast address (IPv4 wrapped in IPv6 judged by the IPv4
address: services.alerts.addresses) is refused, so a webhook cannot be aimed at the platform's own network.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
from urllib.parse import urlsplit

import httpx

from services import clock, config
from services.alerts import addresses, message, prefs
from services.errors import InvalidInput

SIGNATURE_HEADER = "X-Wallet-Signature"
EVENT_ID_HEADER = "X-Wallet-Event-Id"
EVENT_TYPE_HEADER = "X-Wallet-Event"
TIMEOUT = httpx.Timeout(10.0, connect=3.0)
LOG_KEPT = 200


def sign(secret: str, raw: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, raw): what a receiver recomputes over the body it read."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify(secret: str, raw: bytes, header: str | None) -> bool:
    """The receiver's side, for customers' code and tests."""
    return isinstance(header, str) and hmac.compare_digest(sign(secret, raw), header)


def post(url: str, raw: bytes, secret: str, event_id: str, event_type: str) -> tuple[bool, int | None, str | None]:
    """One try: (delivered, HTTP status or None, error text or None)."""
    try:
        _check_target(url)
        r = httpx.post(url, content=raw, timeout=TIMEOUT, follow_redirects=False, trust_env=False,
                       headers={"Content-Type": "application/json", "User-Agent": "wallet-alerts/1",
                                SIGNATURE_HEADER: sign(secret, raw), EVENT_ID_HEADER: event_id,
                                EVENT_TYPE_HEADER: event_type})
    except InvalidInput as exc:
        return False, None, exc.message
    except httpx.HTTPError as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:300]
    if 200 <= r.status_code < 300:
        return True, r.status_code, None
    return False, r.status_code, f"HTTP {r.status_code}"


def _check_target(url: str) -> None:
    if config.get().webhook_private_ok:
        return
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise InvalidInput(f"The webhook host could not be resolved: {exc}") from None
    for info in infos:
        if not addresses.allowed(ipaddress.ip_address(info[4][0])):
            raise InvalidInput(addresses.REFUSED)


def deliver(db, alert: dict, secret: str) -> tuple[bool, int | None, str | None]:
    """Send the alert's frozen body to its URL once and log the try: (delivered, HTTP status, error)."""
    t0 = time.monotonic()
    ch = alert["webhook"]
    ok, status, err = post(ch["to"], alert["payload"].encode(), secret, alert["event_id"],
                           message.event_type(alert))
    log(db, alert["user_id"], {"event_id": alert["event_id"], "alert_id": alert["_id"], "url": ch["to"],
                               "type": message.event_type(alert), "attempt": int(ch["attempts"]) + 1,
                               "ok": ok, "status_code": status, "error": err,
                               "ms": int((time.monotonic() - t0) * 1000)})
    return ok, status, err


def log(db, user_id: str, row: dict) -> None:
    db.alert_log.update_one({"_id": user_id}, {"$push": {"attempts": {
        "$each": [dict(row, at=clock.now())], "$slice": -LOG_KEPT}}}, upsert=True)


def delivery_log(db, user_id: str, limit: int = 100) -> list[dict]:
    """The customer's webhook tries, newest first."""
    doc = db.alert_log.find_one({"_id": user_id}) or {}
    rows = [dict(r, at=clock.as_utc(r["at"])) for r in doc.get("attempts") or []]
    return rows[::-1][:limit]


def send_test(db, user_id: str) -> dict:
    """The "send test event" button: one signed test event to the customer's URL now, logged like any
    other. Returns dict(ok, status_code, error, event_id)."""
    p = prefs.get(db, user_id)
    if not p.webhook_url:
        raise InvalidInput("Set a webhook URL first.")
    alert = {"event_id": "evt_test_" + secrets.token_hex(8), "kind": "test", "user_id": user_id,
             "created_at": clock.now(), "balance_paise": 0, "n": None, "_id": "test",
             "webhook": {"to": p.webhook_url, "attempts": 0}}
    alert["payload"] = message.payload(alert)
    ok, status, err = deliver(db, alert, p.webhook_secret)
    return {"ok": ok, "status_code": status, "error": err, "event_id": alert["event_id"]}
