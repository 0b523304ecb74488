"""SIGKILL the real worker (scripts/worker.py's loop, a warm child: tests/support/processes.py) ten times at
random points while it plans, announces and debits auto-charges, with Razorpay's webhooks (duplicated,
shuffled) and the reconciliation racing it from this process: one order and one debit at Razorpay per
crossing, one credit each, the ledger audit clean."""
from __future__ import annotations

import collections
import os
import random
import threading
import time

import httpx
import pytest

from sandbox.razorpay_server import run_in_thread
from services import autorecharge, db as dbmod, ledger, razorpay_events, schema
from services.autorecharge import charges, mandates
from tests.support import processes
from tests.support.children.worker import run_worker
from tests.support.autorecharge import customer, wait_for
from tests.support.payments import Receiver

pytestmark = pytest.mark.slow
CUSTOMERS = 12
NOTICE_HOURS = "0.0003"  # about a second


def _worker_env(tmp_path, rzp_url) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WALLET_", "RAZORPAY_", "MONGODB_", "SMTP_"))}
    env.update(WALLET_DATA_DIR=str(tmp_path), WALLET_SECRETS_FILE=os.devnull, WORKER_INTERVAL_SECONDS="0.05",
               RAZORPAY_SANDBOX_URL=rzp_url, WALLET_PREDEBIT_NOTICE_HOURS=NOTICE_HOURS)
    return env


def test_sigkill_the_worker_while_charges_race_their_webhooks_and_reconciliation(tmp_path, monkeypatch):
    fwd = Receiver()
    rzp = run_in_thread({"webhook_url": fwd.url, "duplicate_probability": 0.5, "seed": 23, "webhook_backoff": 0.05})
    monkeypatch.setenv("RAZORPAY_SANDBOX_URL", rzp.url)
    monkeypatch.setenv("WALLET_PREDEBIT_NOTICE_HOURS", NOTICE_HOURS)
    httpx.post(f"{rzp.url}/sandbox/config", json={"debit_delay": 0.3}, trust_env=False).raise_for_status()
    db = dbmod.open_db(uri="", name="wallet", path=str(tmp_path / "wallet.sqlite"))
    schema.ensure_schema(db)
    fwd.db = db
    env = _worker_env(tmp_path, rzp.url)
    stop = threading.Event()
    racer = threading.Thread(target=_reconcile_until, args=(db, stop), daemon=True)
    try:
        for i in range(CUSTOMERS):
            uid = f"cust{i}"
            customer(db, uid, 50)  # below the Rs. 100 threshold from the start
            st = autorecharge.configure(db, uid, threshold=100, amount=500, monthly_cap=5000)
            httpx.post(st["mandate"]["authorisation_url"] + "/approve", trust_env=False).raise_for_status()
        wait_for(lambda: all(m["state"] == "active" for m in mandates.in_states(db, mandates.LIVE)) and
                 len(mandates.in_states(db, (mandates.ACTIVE,))) == CUSTOMERS, timeout=60)
        racer.start()
        kills = _kill_repeatedly(db, rzp, env)
        assert kills >= 10, f"the charges finished after {kills} kills: give the worker more work"
        p = processes.start(run_worker, env=env)
        try:
            wait_for(lambda: _all_credited(db), timeout=180, every=0.2)
        finally:
            p.terminate()
            p.join(20)
        stop.set()
        racer.join(30)
        rzp.sandbox.webhooks.wait_idle(20)
        razorpay_events.reconcile_open(db, due_only=False)
        _check(db, rzp)
        print(f"\n{kills} SIGKILLs while {CUSTOMERS} auto-charges were planned, announced, debited and credited")
    finally:
        stop.set()
        rzp.stop()
        fwd.stop()
        dbmod.client_of(db).close()


def _reconcile_until(db, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            razorpay_events.reconcile_open(db, due_only=False)
        except Exception:  # noqa: BLE001 - a busy database now and then; the next pass goes on
            pass
        time.sleep(0.1)


def _progress(db, rzp) -> int:
    with rzp.sandbox.lock:
        at_razorpay = len(rzp.sandbox.orders) + len(rzp.sandbox.payments)
    return at_razorpay + sum(1 for c in db.autorecharge_charges.find({}) if c["state"] != "planned")


def _kill_repeatedly(db, rzp, env) -> int:
    rnd, kills = random.Random(29), 0
    while kills < 10 and not _all_credited(db):
        p = processes.start(run_worker, env=env)
        base, deadline = _progress(db, rzp), time.time() + 60
        while _progress(db, rzp) == base and time.time() < deadline and p.is_alive():
            time.sleep(0.005)
        # Soon after the worker's first step: it plans, announces and debits in batches, so a longer wait let
        # it finish everything in 9 kills on a fast machine (the test needs 10 kills into unfinished work).
        time.sleep(rnd.uniform(0, 0.15))
        assert processes.kill(p), "the worker's loop never ends by itself"
        kills += 1
    return kills


def _all_credited(db) -> bool:
    docs = list(db.autorecharge_charges.find({}))
    return len(docs) == CUSTOMERS and all(c["state"] == "credited" for c in docs) and \
        all(not m.get("in_flight") for m in mandates.in_states(db, mandates.LIVE))


def _check(db, rzp) -> None:
    docs = list(db.autorecharge_charges.find({}))
    assert len(docs) == CUSTOMERS and {c["state"] for c in docs} == {"credited"}
    assert {c["attempt"] for c in docs} == {1}  # no retry: nothing failed
    with rzp.sandbox.lock:
        orders = [o for o in rzp.sandbox.orders.values() if o.get("notification")]
        debits = [p for p in rzp.sandbox.payments.values() if p.get("recurring") and p.get("invoice_id") is None]
    # One order and one debit at Razorpay per crossing (each charge's), none left over.
    per_charge = collections.Counter((o["notes"] or {}).get("auto_recharge") for o in orders)
    assert set(per_charge) == {c["_id"] for c in docs} and set(per_charge.values()) == {1}
    assert len(debits) == CUSTOMERS and {p["status"] for p in debits} == {"captured"}
    assert {p["id"] for p in debits} == {c["payment_id"] for c in docs}
    _check_credits(db, docs, debits)


def _check_credits(db, docs: list[dict], debits: list[dict]) -> None:
    for p in debits:
        uid = (p["notes"] or {})["user_id"]
        page, _ = ledger.entries(db, uid, type="credit", limit=100)
        tops = [e for e in page if int(e["amount"]) == 50_000]
        assert [e["key"] for e in tops] == [f"razorpay:{p['id']}"]
        assert ledger.get_wallet(db, uid).balance == 5_000 + 100 + 50_000  # start + Rs. 1 authorisation + top-up
    assert ledger.audit(db) == []
    assert all(charges.get(db, c["_id"])["credited_paise"] == 50_000 for c in docs)
