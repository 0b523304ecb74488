"""Auto-recharge against the Razorpay sandbox, its webhooks handed to payments.handle_webhook (as the API
does), and helpers that play the customer and the bank."""
from __future__ import annotations

import time

import httpx
import pytest

from services import accounts, autorecharge, ledger, users
from tests.support.payments import Receiver, point_at

NOTICE_HOURS = "0.0005"  # 1.8 seconds


@pytest.fixture
def hooked(monkeypatch):
    """The sandbox, its webhooks reaching handle_webhook (set `.forwarder.db`), the notice at 1.8 s."""
    from sandbox.razorpay_server import run_in_thread
    fwd = Receiver()
    h = run_in_thread({"webhook_url": fwd.url, "duplicate_probability": 0.3, "seed": 17, "webhook_backoff": 0.05})
    point_at(monkeypatch, h)
    monkeypatch.setenv("WALLET_PREDEBIT_NOTICE_HOURS", NOTICE_HOURS)
    h.forwarder = fwd
    yield h
    h.stop()
    fwd.stop()


MOBILE = "98123 45678"


def customer(db, uid: str, rupees: int = 0) -> None:
    """A customer with a mobile number on file (Razorpay's registration links need one)."""
    accounts.create_user(db, uid, "password-1", uid.title(), f"{uid}@example.com")
    users.set_phone(db, uid, MOBILE)
    if rupees:
        ledger.post(db, uid, key=f"{uid}-start", type="credit", category="recharge", amount=rupees * 100)


def active_mandate(db, h, uid: str, **terms) -> dict:
    """Set auto-recharge up and approve it on the hosted page, as the customer does; wait until active."""
    terms = {"threshold": 100, "amount": 500, "monthly_cap": 5000, "contact": MOBILE} | terms
    st = autorecharge.configure(db, uid, **terms)
    assert st["state"] == "pending", st
    r = httpx.post(st["mandate"]["authorisation_url"] + "/approve", timeout=10, trust_env=False)
    assert r.status_code == 200 and "confirmed" in r.text, r.text
    wait_for(lambda: autorecharge.status(db, uid)["state"] == "active", tick=lambda: autorecharge.run(db))
    return autorecharge.status(db, uid)


def wait_for(cond, *, timeout: float = 20.0, tick=None, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
        got = cond()
        if got:
            return got
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(every)


def spend(db, uid: str, rupees: int, tag: str, each: int = 10) -> None:
    """Calls billed from the wallet, Rs. `each` at a time."""
    for i in range(rupees // each):
        ledger.post(db, uid, key=f"{uid}-{tag}-{i}", type="debit", category="call", amount=each * 100)


def sandbox_payments(h, uid: str | None = None) -> list[dict]:
    with h.sandbox.lock:
        return [dict(p) for p in h.sandbox.payments.values() if p.get("recurring") and p.get("invoice_id") is None
                and (uid is None or (p.get("notes") or {}).get("user_id") == uid)]


def notices_of(db, uid: str, event_type: str | None = None) -> list[dict]:
    return [a for a in db.alerts.find({"user_id": uid, "kind": "notice"})
            if event_type is None or a["event_type"] == event_type]
