"""SIGKILL the real worker (scripts/worker.py) at random points while it delivers alerts: every alert
is delivered, no key twice with different content, one payment link per alert, and the webhook receiver
verifies every signature it got."""
from __future__ import annotations

import collections
import os
import random
import time

import pytest

from services import accounts, alerts, db as dbmod, ledger, schema
from tests.support import processes
from tests.support.alerts import Receiver, subscribe
from tests.support.children.worker import run_worker
from sandbox import smtp_sink

pytestmark = pytest.mark.slow
CUSTOMERS = 10


def _worker_env(tmp_path, sink, rzp_url) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WALLET_", "RAZORPAY_", "MONGODB_", "SMTP_"))}
    env.update(WALLET_DATA_DIR=str(tmp_path), WALLET_SECRETS_FILE=os.devnull, WORKER_INTERVAL_SECONDS="0.05",
               SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink.smtp_port), SMTP_TLS="none",
               SMTP_SENDER="Alerts <alerts@wallet.test>", WALLET_WEBHOOK_PRIVATE_OK="1",
               RAZORPAY_SANDBOX_URL=rzp_url)
    return env


def test_sigkill_the_worker_during_delivery(tmp_path, monkeypatch):
    from sandbox.razorpay_server import run_in_thread
    rzp = run_in_thread({"duplicate_probability": 0.0, "seed": 11})
    sink = smtp_sink.start()
    receiver = Receiver()
    receiver.delay = 0.15  # slow answers: kills land while requests are in flight
    monkeypatch.setenv("RAZORPAY_SANDBOX_URL", rzp.url)
    monkeypatch.setenv("WALLET_WEBHOOK_PRIVATE_OK", "1")
    db = dbmod.open_db(uri="", name="wallet", path=str(tmp_path / "wallet.sqlite"))
    schema.ensure_schema(db)
    env = _worker_env(tmp_path, sink, rzp.url)
    try:
        alerts.derive(db)
        for i in range(CUSTOMERS):
            uid = f"cust{i}"
            accounts.create_user(db, uid, "password-1", uid, f"{uid}@example.com")
            subscribe(db, uid, receiver, thresholds=["50"], emails=[f"fin{i}@x.in", f"ops{i}@x.in"])
            ledger.post(db, uid, key=f"{uid}-r", type="credit", category="recharge", amount=10_000)
            for k, amount in enumerate((6_000, 3_000, 1_000)):  # Rs. 100 -> 40 -> 10 -> 0: three alerts
                ledger.post(db, uid, key=f"{uid}-d{k}", type="debit", category="call", amount=amount)

        def progress() -> int:
            return len(sink.messages()) + len(receiver.events()) + len(rzp.sandbox.links)

        rnd, kills = random.Random(13), 0
        while kills < 12:
            p = processes.start(run_worker, env=env)
            base, deadline = progress(), time.time() + 60
            while progress() == base and time.time() < deadline and p.is_alive():
                time.sleep(0.005)
            time.sleep(rnd.uniform(0, 0.4))
            assert processes.kill(p), "the worker's loop never ends by itself"
            kills += 1
            if _all_sent(db):
                break
        assert kills >= 10, f"delivery finished after {kills} kills: give it more work"

        p = processes.start(run_worker, env=env)
        deadline = time.time() + 180
        while not _all_sent(db) and time.time() < deadline:
            time.sleep(0.2)
        p.terminate()
        p.join(20)
        _check(db, sink, receiver, rzp)
        print(f"{kills} SIGKILLs during delivery")
    finally:
        receiver.stop()
        sink.stop()
        rzp.stop()
        dbmod.client_of(db).close()


def _all_sent(db) -> bool:
    docs = list(db.alerts.find({}, {"status": 1}))
    return len(docs) == 3 * CUSTOMERS and all(d["status"] == "sent" for d in docs)


def _check(db, sink, receiver, rzp) -> None:
    docs = list(db.alerts.find({}))
    assert len(docs) == 3 * CUSTOMERS and all(d["status"] == "sent" for d in docs), \
        collections.Counter(d["status"] for d in docs)
    hooks, mails = receiver.events(), sink.messages()
    assert all(h["signature_ok"] for h in hooks)
    # Every alert arrived; a key seen twice (a kill between the send and its note) is the same message.
    by_event = collections.defaultdict(set)
    for h in hooks:
        by_event[h["event_id"]].add(h["raw"])
    assert set(by_event) == {d["event_id"] for d in docs}
    assert all(len(bodies) == 1 for bodies in by_event.values())
    by_mid = collections.defaultdict(set)
    for m in mails:
        by_mid[m["message_id"]].add((m["subject"], m["text"]))
    assert set(by_mid) == {d["message_id"] for d in docs}
    assert all(len(v) == 1 for v in by_mid.values())
    # One payment link per alert, here and at Razorpay, each the one its messages carry.
    refs = {d["link_ref"] for d in docs}
    assert {d["link"]["reference_id"] for d in docs} == refs
    assert {r["_id"] for r in db.payment_links.find({})} == refs
    assert len(rzp.sandbox.links) == len(refs)
    for d in docs:
        assert d["link"]["short_url"] in next(iter(by_event[d["event_id"]])).decode()
    resent = len(hooks) - len(by_event) + len(mails) - len(by_mid)
    print(f"\n{len(docs)} alerts, {len(hooks)} webhook and {len(mails)} e-mail deliveries, {resent} repeated "
          "after a kill (same id, same bytes)")
