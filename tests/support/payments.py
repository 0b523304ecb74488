"""Payments against the offline Razorpay sandbox, over real HTTP with the real `razorpay` SDK: the sandbox
in a thread (with or without webhooks), Razorpay's webhooks received and handed to payments.handle_webhook
as the API does, and the helpers the payment, refund and sample tests share."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from services import accounts, ledger, payments, razorpay_events
from services.errors import InvalidPayment

KEY_ID, KEY_SECRET, WEBHOOK_SECRET = "rzp_test_sandbox", "sandbox_secret", "sandbox_webhook_secret"
_RAZORPAY_ENV = ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET", "RAZORPAY_TIMEOUT")


class Receiver:
    """Razorpay's webhook endpoint: "forward" hands each delivery to payments.handle_webhook on `db` (like
    the API; a 5xx makes the sandbox deliver it again, like Razorpay), "collect" only keeps it, so a test
    can replay the exact signed bytes itself."""

    def __init__(self):
        self.db, self.mode, self.got, self.results = None, "forward", [], []
        self.lock = threading.Lock()
        self.inside = threading.local()  # set while handle_webhook runs on a handler thread
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sig, eid = self.headers.get("X-Razorpay-Signature"), self.headers.get("X-Razorpay-Event-Id")
                with outer.lock:
                    outer.got.append((body, sig, eid))
                    db, mode = outer.db, outer.mode
                code, out = 200, {"status": "collected"}
                if mode == "forward" and db is not None:
                    outer.inside.on = True
                    try:
                        out = razorpay_events.handle_webhook(db, body, sig, eid)
                    except InvalidPayment as exc:
                        code, out = 400, {"error": exc.message}
                    except Exception as exc:  # noqa: BLE001 - a 500 makes the sandbox retry, like Razorpay
                        code, out = 500, {"error": repr(exc)}
                    finally:
                        outer.inside.on = False
                    with outer.lock:
                        outer.results.append(out)
                data = json.dumps(out, default=str).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self, db, mode="forward"):
        with self.lock:
            self.db, self.mode, self.got, self.results = db, mode, [], []

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def point_at(monkeypatch, handle) -> None:
    """The services use the sandbox at `handle` and no Razorpay keys from the environment."""
    for name in _RAZORPAY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAZORPAY_SANDBOX_URL", handle.url)


@pytest.fixture
def sandbox(monkeypatch):
    """The sandbox on a free port with no webhook endpoint (a test may configure one), the services
    pointed at it."""
    from sandbox.razorpay_server import run_in_thread
    handle = run_in_thread({"duplicate_probability": 1.0, "seed": 7})
    point_at(monkeypatch, handle)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def server(receiver):
    """The sandbox whose every webhook goes to `receiver`, each delivered twice (or more)."""
    from sandbox.razorpay_server import run_in_thread
    h = run_in_thread({"webhook_url": receiver.url, "duplicate_probability": 1.0, "seed": 7,
                       "webhook_backoff": 0.05})
    yield h
    h.stop()


@pytest.fixture
def env(edb, receiver, server, monkeypatch):
    """The embedded database with alice and bob, webhooks forwarded to it."""
    return setup_db(edb, receiver, server, monkeypatch)


def setup_db(db, receiver, server, monkeypatch, mode="forward"):
    server.sandbox.webhooks.wait_idle(15)  # nothing of the previous test may land in this one
    control(server, "reset")
    control(server, "config", webhook_url=receiver.url)
    point_at(monkeypatch, server)
    receiver.reset(db, mode)
    accounts.create_user(db, "alice", "password-a", "Alice", "alice@example.com")
    accounts.create_user(db, "bob", "password-b", "Bob", "bob@example.com")
    return db


def control(handle, path: str, **body) -> dict:
    """POST to the sandbox's control API (`/sandbox/<path>`): pay, fail, fault, config, reset ..."""
    r = httpx.post(f"{handle.url}/sandbox/{path}", json=body, timeout=10, trust_env=False)
    assert r.status_code == 200, r.text
    return r.json()


def settle_webhooks(server):
    assert server.sandbox.webhooks.wait_idle(15)


def balance(db, uid):
    return ledger.get_wallet(db, uid).balance


def recharges(db, uid):
    return ledger.entries(db, uid, category="recharge")[0]


def refunds_of(db, uid):
    return ledger.entries(db, uid, category="refund")[0]


def sign(message: str, secret: str = KEY_SECRET) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sdk(server):
    import razorpay
    return razorpay.Client(auth=(KEY_ID, KEY_SECRET), base_url=server.url)


def deliveries(receiver, name):
    return [d for d in receiver.got if json.loads(d[0])["event"] == name]


def paid_recharge(db, server, receiver, rupees=500, **pay):
    """alice's recharge paid on the sandbox and credited (callback and webhooks settled)."""
    link = payments.create_payment_link(db, "alice", rupees)
    paid = control(server, f"links/{link['payment_link_id']}/pay", **pay)
    payments.handle_callback(db, "alice", paid["callback_params"])
    settle_webhooks(server)
    return link, paid


def race(*jobs):
    """Run the jobs at once (a barrier), return their results; any exception fails the test."""
    barrier, errors, outs = threading.Barrier(len(jobs)), [], []

    def run(job):
        barrier.wait()
        try:
            outs.append(job())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    return outs


def pay_link(db, handle, user: str, rupees: int) -> tuple[dict, dict]:
    """A recharge through a payment link, paid on the sandbox, credited by reconciliation: (link, entry)."""
    link = payments.create_payment_link(db, user, rupees)
    control(handle, f"links/{link['payment_link_id']}/pay")
    payments.reconcile_link(db, link["reference_id"], user_id=user)
    entry = next(e for e in ledger.iter_entries(db, user_id=user, category="recharge")
                 if (e.get("meta") or {}).get("reference_id") == link["reference_id"])
    return link, entry
