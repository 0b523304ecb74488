"""Must-show 3 of the lots issue: kill -9 between a debit and its lot parts, and during an expiry run. After
recovery the lot invariants hold (the audit checks L1-L4) and nothing expired twice.

A debit and the lot parts it draws are one compare-and-set on the wallet (docs/ledger.md, "Lots"): there is
no instant at which one is written and the other not. The first tests kill a process right after that write
(before the entry reaches the ledger) and show what recovery finds; the stream test kills a process at
random moments of a stream of lot operations; the last kills expiry runs over many wallets part-way."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from services import clock, ledger
from tests.support import processes
from tests.support.children import oplog
from tests.support.children.lots import expire_all, lot_stream, read_log
from tests.support.targets import make_target

ROOT = Path(__file__).resolve().parent.parent

# A child that makes one change and is SIGKILLed right after its compare-and-set, before the entry is
# inserted into the ledger (steps 3-4 of a posting never run).
_DIE_AFTER_CAS = """
import json, os, signal, sys
from datetime import datetime, timedelta, timezone
from services import ledger
from services.ledger import expiry, holds, posting
from tests.support.targets import open_spec
kill = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
posting.record = holds.record = expiry.record = kill
db, what = open_spec(json.loads(sys.argv[1])), sys.argv[2]
if what == "debit":
    ledger.post(db, "u1", key="debit", type="debit", category="adjustment", amount=2500)
elif what == "settle":
    ledger.settle(db, "u1", "call", 1800, key="call:call")
else:
    ledger.expire_lots(db, datetime.now(timezone.utc) + timedelta(days=2))
"""


def lots(db, uid="u1"):
    return {v.lot: (v.remaining, v.held) for v in ledger.get_wallet(db, uid).lots}


def kill_after_cas(spec, what: str) -> None:
    child = subprocess.run([sys.executable, "-c", _DIE_AFTER_CAS, json.dumps(spec), what], cwd=ROOT,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr


@pytest.mark.parametrize("what", ["debit", "settle", "expiry"])
def test_kill_9_right_after_a_debit_and_its_lot_parts_are_written(target, what):
    db, spec = target
    now = clock.now()
    ledger.post(db, "u1", key="paid", type="credit", category="recharge", amount=10000)              # lot 1
    ledger.post(db, "u1", key="promo", type="credit", category="promo_credit", amount=2000,
                lot={"expires_at": now + timedelta(days=1)})                                          # lot 2
    if what == "settle":
        ledger.hold(db, "u1", "call", 3000)
    kill_after_cas(spec, what)
    w = db.wallets.find_one({"_id": "u1"})
    # The money and the lots moved, in one write; the ledger insert of its entry never happened.
    [pending] = [p for p in w["pending"] if ledger.get_entry(db, p["_id"]) is None]
    parts = ledger.lot_parts(pending["lots"])
    assert sum(a for _, a in parts) == pending["amount"]
    want = {"debit": ({1: (9500, 0)}, [(2, 2000), (1, 500)]), "settle": ({1: (9800, 0)}, [(2, 2000)]),
            "expiry": ({1: (10000, 0)}, [(2, 2000)])}[what]
    if what == "settle":  # reserved 2000 from lot 2 and 1000 from lot 1; 1800 debited, in that order
        want = ({1: (10000, 0), 2: (200, 0)}, [(2, 1800)])
    assert (lots(db), parts) == want
    assert ledger.audit(db) == []                         # the audit counts the pending entry
    assert ledger.recover(db)["pending_finished"] >= 1
    assert ledger.get_entry(db, pending["_id"])["lots"] == pending["lots"] and ledger.audit(db) == []
    if what == "debit":                                   # the client retries: the same entry, no second debit
        again = ledger.post(db, "u1", key="debit", type="debit", category="adjustment", amount=2500)
        assert again["_id"] == pending["_id"] and ledger.get_wallet(db, "u1").balance == 9500
    if what == "expiry":                                  # a later run finds nothing left to expire
        assert ledger.expire_lots(db, clock.now() + timedelta(days=2))["expired"] == 0
        assert len(ledger.entries(db, "u1", category="expiry")[0]) == 1


@pytest.mark.slow
def test_sigkill_at_random_points_of_a_stream_of_lot_operations(tmp_path, request):
    """A child streams grants expiring within seconds, recharges, debits, holds, voids and expiry sweeps;
    it is SIGKILLed at random moments >= 20 times, recovering (and auditing) after each kill."""
    db, spec = make_target("embedded", tmp_path, request)
    ledger.post(db, "u1", key="seed", type="credit", category="recharge", amount=50000)
    log_path = str(tmp_path / "ops.log")
    rnd = random.Random(11)
    ops, kills = 1000, 0
    # Warm children (tests/support/processes.py): each starts at once and is killed a random moment after
    # it shows progress, so every kill lands mid-stream rather than during an interpreter's imports.
    while kills < 20:
        before = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        p = processes.start(lot_stream, spec, "u1", 3, ops, log_path)
        deadline = time.time() + 60
        while p.is_alive() and (os.path.getsize(log_path) if os.path.exists(log_path) else 0) == before:
            assert time.time() < deadline, "the stream showed no progress"
            time.sleep(0.01)
        time.sleep(rnd.uniform(0.02, 0.3))
        if not processes.kill(p):
            break  # it finished the stream before the kill: a finished step
        kills += 1
        ledger.recover(db)
        assert ledger.audit(db) == []
    assert kills >= 20, kills
    last = processes.start(lot_stream, spec, "u1", 3, ops, log_path)
    last.join(300)
    assert last.exitcode == 0
    done, _ = read_log(log_path)
    assert len(done) == ops
    # every grant of the stream past its expiry: the latest one asked for, or half a second after the run
    grants = [r["intent"]["exp"] for r in oplog.records(log_path) if r.get("intent", {}).get("kind") == "grant"]
    time.sleep(max(0.0, max(grants + [time.time() + 0.5]) + 0.1 - time.time()))
    ledger.expire_lots(db)
    ledger.recover(db)
    assert ledger.audit(db) == []
    entries = list(ledger.iter_entries(db, user_id="u1"))
    keys = [e["key"] for e in entries]
    assert len(keys) == len(set(keys)), "a key was applied twice"
    left = Counter(n for e in entries if e["category"] in ("expiry", "void") for n, _ in ledger.lot_parts(e["lots"]))
    assert left and max(left.values()) == 1, "a lot left the wallet twice"
    assert all(not v.promotional for v in ledger.get_wallet(db, "u1").lots)   # every grant spent, expired or voided
    credited = {json.loads(x)["intent"]["key"] for x in open(log_path) if '"intent"' in x
                and json.loads(x)["intent"]["kind"] in ("credit", "grant")}
    assert credited <= set(keys)


@pytest.mark.slow
def test_kill_9_during_expiry_runs_expires_every_lot_once(tmp_path, request):
    db, spec = make_target("embedded", tmp_path, request)
    users, per = 120, 3
    for u in range(users):
        uid = f"w{u}"
        ledger.post(db, uid, key=f"{uid}-paid", type="credit", category="recharge", amount=5000)
        exp = datetime.fromtimestamp(time.time() + 2, timezone.utc)
        for k in range(per):
            ledger.post(db, uid, key=f"{uid}-g{k}", type="credit", category="promo_credit", amount=100 * (k + 1),
                        lot={"expires_at": exp, "campaign": "kill"})
    while clock.now() <= exp:
        time.sleep(0.1)
    rnd, kills, seen = random.Random(5), 0, [0]
    for _ in range(6):                                   # runs killed part-way, each picking up where one died
        p = processes.start(expire_all, spec)
        target = seen[-1] + rnd.randint(5, 60)           # kill once it has expired a few more lots
        while p.is_alive() and db.ledger.count_documents({"category": "expiry"}) < target:
            time.sleep(0.02)
        kills += processes.kill(p)
        seen.append(db.ledger.count_documents({"category": "expiry"}))
        ledger.recover(db)
        assert ledger.audit(db) == []
    assert kills >= 3 and 0 < seen[1] < users * per, seen   # killed mid-run, after some lots had expired
    last = processes.start(expire_all, spec)
    last.join(300)
    assert last.exitcode == 0
    ledger.recover(db)
    assert ledger.audit(db) == []
    gone = Counter()
    for e in ledger.iter_entries(db, category="expiry"):
        for n, _amt in ledger.lot_parts(e["lots"]):
            gone[(e["user_id"], n)] += 1
    assert len(gone) == users * per and set(gone.values()) == {1}, "every lot expired exactly once"
    assert sum(e["amount"] for e in ledger.iter_entries(db, category="expiry")) == users * 600
    assert all(ledger.get_wallet(db, f"w{u}").balance == 5000 for u in range(users))
    assert ledger.expire_lots(db)["expired"] == 0
