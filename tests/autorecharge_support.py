"""Real parts the auto-recharge tests share (holds no tests): the Razorpay sandbox with its webhooks
forwarded to razorpay_events.handle_webhook (as the API does), the SMTP sink and a customer webhook receiver
(tests.alert_support), and helpers that play the customer and the bank."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from sandbox.razorpay_server import run_in_thread
from services import accounts, autorecharge, ledger, razorpay_events
from services.errors import InvalidPayment
from tests.alert_support import Receiver, smtp_env, subscribe  # noqa: F401 (fixtures' helpers, re-exported)

NOTICE_HOURS = "0.0005"  # 1.8 seconds


class Forwarder:
    """Razorpay's webhook endpoint: each delivery goes to razorpay_events.handle_webhook on `db` (a 500 makes the
    sandbox deliver it again, like Razorpay)."""

    def __init__(self):
        self.db, self.results, self.lock = None, [], threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code = 200
                try:
                    if outer.db is not None:
                        out = razorpay_events.handle_webhook(outer.db, body, self.headers.get("X-Razorpay-Signature"),
                                                      self.headers.get("X-Razorpay-Event-Id"))
                        with outer.lock:
                            outer.results.append(out)
                except InvalidPayment:
                    code = 400
                except Exception:  # noqa: BLE001 - Razorpay retries on a 5xx
                    code = 500
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooked(monkeypatch):
    """The sandbox, its webhooks reaching handle_webhook (set `.forwarder.db`), the notice at 1.8 s."""
    fwd = Forwarder()
    h = run_in_thread({"webhook_url": fwd.url, "duplicate_probability": 0.3, "seed": 17, "webhook_backoff": 0.05})
    for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET", "RAZORPAY_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAZORPAY_SANDBOX_URL", h.url)
    monkeypatch.setenv("WALLET_PREDEBIT_NOTICE_HOURS", NOTICE_HOURS)
    h.forwarder = fwd
    yield h
    h.stop()
    fwd.stop()


def control(h, path: str, **body) -> dict:
    r = httpx.post(f"{h.url}/sandbox/{path}", json=body, timeout=10, trust_env=False)
    assert r.status_code == 200, r.text
    return r.json()


def customer(db, uid: str, rupees: int = 0) -> None:
    accounts.create_user(db, uid, "password-1", uid.title(), f"{uid}@example.com")
    if rupees:
        ledger.post(db, uid, key=f"{uid}-start", type="credit", category="recharge", amount=rupees * 100)


def active_mandate(db, h, uid: str, **terms) -> dict:
    """Set auto-recharge up and approve it on the hosted page, as the customer does; wait until active."""
    terms = {"threshold": 100, "amount": 500, "monthly_cap": 5000} | terms
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
