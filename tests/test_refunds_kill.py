"""Must show: a self-serve refund killed (SIGKILL) at random points, most of them between the hold and
Razorpay's answer; after the worker's tick there is, per part, exactly one refund at Razorpay and one
debit, or none and the hold released. Real child processes, the embedded engine shared through its file,
the sandbox over HTTP (slowed, so the refund call is a window worth hitting), webhooks racing recovery."""
from __future__ import annotations

import random
import time

import pytest

from scripts import worker
from services import ledger
from services.payments import refund_requests
from tests.support import processes
from tests.support.children import refund as refund_child
from tests.support.payments import control, paid_recharge, settle_webhooks, setup_db
from tests.support.targets import make_target

pytestmark = pytest.mark.slow
RUNS, KILLS_WANTED, MIDWAY_WANTED = 16, 10, 4


def _kill_at_random(p, conn, db, rnd: random.Random, after_hold: bool) -> bool:
    """Wait for the child to be ready (and, with `after_hold`, to have held the money), then kill it a
    random moment later. False if it finished first."""
    assert conn.poll(60) and conn.recv() == "ready"
    if after_hold:
        deadline = time.time() + 20
        while ledger.get_wallet(db, "alice").held == 0 and p.is_alive() and time.time() < deadline:
            time.sleep(0.005)
    time.sleep(rnd.uniform(0.0, 0.25 if after_hold else 0.8))
    return processes.kill(p)


def _state(db, rid: str) -> str:
    """Where the kill left the request: nothing yet, holding, or held with a part sent off to Razorpay
    (whose refund.created webhook may already have debited the hold)."""
    doc = db.refund_requests.find_one({"_id": rid})
    if doc is None:
        return "not started"
    if any(p["status"] == "sending" for p in doc["parts"]):  # held, then asked: the answer never came back
        return "between the hold and Razorpay's answer"
    return doc["status"]


def _check(db, server, rid: str) -> int:
    """After recovery: per part one refund at Razorpay and one debit of its amount, or neither and no
    hold. Returns the paise refunded."""
    doc = db.refund_requests.find_one({"_id": rid})
    at_rp = [r for r in server.sandbox.refunds.values() if (r.get("receipt") or "").startswith(rid + "-")]
    if doc is None:
        assert at_rp == []
        return 0
    assert doc["status"] in refund_requests.FINAL and doc["tidy"], doc
    refunded = 0
    for part in doc["parts"]:
        mine = [r for r in at_rp if r["receipt"] == part["receipt"]]
        assert len(mine) <= 1, mine
        if mine:
            entry = ledger.find_entry(db, f"razorpay-refund:{mine[0]['id']}")
            assert entry is not None and entry["amount"] == part["amount_paise"] == mine[0]["amount"]
            assert part["status"] == "sent" and part["refund_id"] == mine[0]["id"]
            refunded += mine[0]["amount"]
        else:
            assert part["status"] == "failed"
    assert ledger.get_wallet(db, "alice").held == 0
    assert db.refund_requests.find_one({"_id": "open:alice"}) is None
    return refunded


def test_self_serve_refund_killed_at_random_points_ends_with_one_refund_and_one_debit_or_none(
        tmp_path, request, receiver, server, monkeypatch):
    db, spec = make_target("embedded", tmp_path, request)
    setup_db(db, receiver, server, monkeypatch)
    paid_recharge(db, server, receiver, rupees=2000)
    start = ledger.get_wallet(db, "alice").balance
    rnd = random.Random(11)
    kills, where, refunded = 0, [], 0
    for run in range(RUNS):
        key = f"kill-{run}"
        # Every API call takes 0.4 s, before Razorpay acts or after (the refund exists, its answer is late).
        control(server, "fault", mode="slow", delay=0.4, after=run % 4 >= 2)
        mine, theirs = processes.warm().Pipe()
        p = processes.start(refund_child.refund, spec, "alice", key, "10", theirs)
        try:
            killed = _kill_at_random(p, mine, db, rnd, after_hold=run % 2 == 0)
        finally:
            if p.is_alive():
                p.kill()
            p.join(10)
        rid = refund_requests.request_id("alice", key)
        if killed:  # where it died, before any webhook or recovery moves on
            kills += 1
            made = any((r.get("receipt") or "").startswith(rid) for r in server.sandbox.refunds.values())
            where.append(f"{_state(db, rid)}, refund {'made' if made else 'not made'} at Razorpay")
        settle_webhooks(server)
        worker.tick(db)
        settle_webhooks(server)
        refunded += _check(db, server, rid)
        assert ledger.get_wallet(db, "alice").balance == start - refunded
        assert ledger.audit(db) == []
    print("killed:", kills, {w: where.count(w) for w in set(where)})
    assert kills >= KILLS_WANTED
    midway = [w for w in where if w.startswith("between")]
    assert len(midway) >= MIDWAY_WANTED and any("refund not made" in w for w in midway) and \
        any("refund made" in w for w in midway), where
    # every Razorpay refund of these requests debited exactly once, nothing else moved
    keys = [e["key"] for e in ledger.iter_entries(db, user_id="alice", category="refund")]
    assert len(keys) == len(set(keys)) and refunded > 0
    control(server, "fault", mode="none")
