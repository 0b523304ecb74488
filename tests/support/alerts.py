"""Real parts the alert tests share: the SMTP sink (aiosmtpd on 127.0.0.1) and a customer's webhook
endpoint (http.server in a thread) that verifies every signature it gets; with the Razorpay sandbox
(tests/support/payments.py) they make `wired`."""
from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from sandbox import smtp_sink
from services import alerts
from services.alerts import webhooks


class Receiver:
    """A customer's webhook endpoint. Every delivery is checked against the secrets it knows (per
    user); `got` keeps (event_id, body, signature ok, event type). `mode`: "up", "down" (the server is
    closed: connection refused), "error" (HTTP 503). `delay` slows each answer (seconds, random up to)."""

    def __init__(self):
        self.secrets: dict[str, str] = {}
        self.got: list[dict] = []
        self.lock = threading.Lock()
        self.delay = 0.0
        self.mode = "up"
        self.server = None
        self.port = None
        self.start()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def _handler(self):
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outer.delay:
                    time.sleep(random.uniform(0, outer.delay))
                body = json.loads(raw)
                secret = outer.secrets.get(body["data"]["user_id"], "")
                ok = webhooks.verify(secret, raw, self.headers.get(webhooks.SIGNATURE_HEADER))
                with outer.lock:
                    outer.got.append({"event_id": self.headers.get(webhooks.EVENT_ID_HEADER), "raw": raw,
                                      "body": body, "signature_ok": ok,
                                      "type": self.headers.get(webhooks.EVENT_TYPE_HEADER)})
                code = 503 if outer.mode == "error" else 200 if ok else 401
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        return H

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), self._handler())
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.mode = "up"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.mode = "down"

    def events(self, user_id: str | None = None) -> list[dict]:
        with self.lock:
            return [g for g in self.got if user_id is None or g["body"]["data"]["user_id"] == user_id]


@pytest.fixture
def sink():
    h = smtp_sink.start()
    yield h
    h.stop()


@pytest.fixture
def endpoint():
    """A customer's webhook endpoint (see Receiver)."""
    r = Receiver()
    yield r
    if r.mode != "down":
        r.stop()


@pytest.fixture
def wired(sink, endpoint, sandbox, monkeypatch):
    """The environment an alert needs: SMTP at the sink, webhooks allowed to 127.0.0.1, payments on (the
    Razorpay sandbox, for the payment link each alert carries)."""
    smtp_env(monkeypatch, sink)
    return sink, endpoint, sandbox


def smtp_env(monkeypatch, sink) -> None:
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(sink.smtp_port))
    monkeypatch.setenv("SMTP_TLS", "none")
    monkeypatch.setenv("SMTP_SENDER", "Wallet alerts <alerts@wallet.test>")
    monkeypatch.setenv("WALLET_WEBHOOK_PRIVATE_OK", "1")
    monkeypatch.setenv("SMTP_SINK_URL", sink.url)


def subscribe(db, uid: str, receiver: Receiver, **prefs) -> alerts.Prefs:
    p = alerts.update(db, uid, webhook_url=receiver.url, **prefs)
    receiver.secrets[uid] = p.webhook_secret
    return p


def pay_link(db, uid: str, short_url: str) -> dict:
    """Pay a link on the sandbox's hosted page as a customer does; Razorpay's redirect back to the
    wallet page is the callback that credits it."""
    from urllib.parse import parse_qsl, urlsplit

    from services import payments
    r = httpx.post(short_url + "/pay", data={"method": "upi"}, follow_redirects=False, timeout=10, trust_env=False)
    assert r.status_code == 303, r.text
    return payments.handle_callback(db, uid, dict(parse_qsl(urlsplit(r.headers["location"]).query)))
