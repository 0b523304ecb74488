"""Must-show 2 of the lots issue: 8 threads and 4 processes spend from one wallet of 20 lots of mixed expiry
while a worker process expires lots. The audit's lot invariants hold, no lot goes below zero, and the spend
order is the rule's.

Every process logs each compare-and-set it lands with the version it replaced (tests/support/children/lots.py). A
version is written once, so the logs together are every state the wallet went through, in order: the
test asserts they are contiguous, then checks each transition from the outside:
- each state: remainders sum to the balance, reservations to held, no lot below 0 or below its reservation;
- a draw on a lot's free money (a debit, a hold, an extension) happens only when every lot the rule puts
  before it, not past expiry, has no free money left afterwards, and never on a lot past expiry;
- a settle debits from what its hold reserved, in the order reserved;
- an expiry takes a lot past its expiry that no hold reserves from, whole, and each lot expires once.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone

import pytest

from services import ledger
from services.ledger import lots as lotmod
from tests.support import processes
from tests.support.children import lots as workers_lots
from tests.support.targets import make_target

THREADS, PROCESSES, OPS = 8, 4, 40
# The op computes "now" before its write and the log stamps the write after it: a lot whose expiry falls
# in between may have been judged either way. Only lots this far past their expiry count as past it.
SLACK = 5.0


def seed_lots(db, uid: str, start: float) -> None:
    """20 lots: promotional, manual and paid, some expiring 1 to 10.5 s into the run (while it spends, however
    fast the machine), some never."""
    kinds = ["promo_credit", "manual_credit", "recharge", "promo_credit", "recharge"] * 4
    for i, cat in enumerate(kinds):
        lot = {"expires_at": datetime.fromtimestamp(start + 1 + 0.5 * i, timezone.utc)} if i % 3 != 2 else None
        if lot and cat == "promo_credit" and i % 2:
            lot["campaign"] = "race"
        ledger.post(db, uid, key=f"seed-{i}", type="credit", category=cat, amount=20_000 + 1_000 * i, lot=lot)


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["promo_first", "soonest_expiry"])
def test_threads_and_processes_spend_twenty_lots_while_the_worker_expires_them(rule, tmp_path, request):
    db, spec = make_target("embedded", tmp_path, request)
    ledger.set_burn_rule(db, rule, by="test")
    start = time.time()
    seed_lots(db, "w", start)
    w0 = db.wallets.find_one({"_id": "w"})
    logs, lock = [], threading.Lock()

    def sink(r):
        with lock:
            logs.append(r)
    real_write = ledger.cas._write
    workers_lots.instrument(sink)
    request.addfinalizer(lambda: setattr(ledger.cas, "_write", real_write))

    ctx = processes.warm()  # forked from the preloaded forkserver: spending begins at once, not after imports
    q, stop = ctx.Queue(), ctx.Event()
    expirer = ctx.Process(target=workers_lots.expire_process, args=(spec, str(tmp_path / "exp.log"), stop, q))
    procs = [ctx.Process(target=workers_lots.spend_process,
                         args=(spec, "w", f"p{i}", OPS, 100 + i, str(tmp_path / f"p{i}.log"), q))
             for i in range(PROCESSES)]
    for p in [expirer] + procs:
        p.start()
    outs: list = []
    threads = [threading.Thread(target=lambda i=i: outs.append(workers_lots.spend(db, "w", f"t{i}", OPS, i)))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    reports = [q.get(timeout=600) for _ in procs]
    assert all(isinstance(r, dict) for r in reports), reports
    stop.set()
    expired = q.get(timeout=120)
    assert isinstance(expired, dict), expired
    for p in [expirer] + procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(outs) == THREADS

    for i in range(PROCESSES):
        logs += [json.loads(line) for line in open(tmp_path / f"p{i}.log")]
    logs += [json.loads(line) for line in open(tmp_path / "exp.log")]
    checked = check_history(w0, logs, rule)
    assert checked["draws"] > 100 and checked["settles"] > 20, checked   # the run did spend, in both ways
    assert checked["expired"] >= 3, checked                              # and the worker did expire lots
    assert ledger.audit(db) == []


def check_history(w0: dict, logs: list[dict], rule: str) -> dict:
    """Replay every logged write from the state `w0`; assert the invariants and the order of each one."""
    logs.sort(key=lambda r: r["seq"])
    assert [r["seq"] for r in logs] == list(range(int(w0["seq"]), int(w0["seq"]) + len(logs))), \
        "the logs must hold every write, each once"
    state = {"lots": lotmod.parse(w0["lots"]), "holds": {}, "balance": int(w0["balance"]),
             "held": int(w0["held"])}
    key = lotmod.RULES[rule]
    counts = {"draws": 0, "settles": 0, "expired": 0}
    gone: dict[int, int] = {}
    for r in logs:
        after = {"lots": lotmod.parse(r["lots"]) if r["lots"] is not None else state["lots"],
                 "holds": r["holds"] if r["holds"] is not None else state["holds"],
                 "balance": r["balance"] if r["balance"] is not None else state["balance"],
                 "held": r["held"] if r["held"] is not None else state["held"]}
        assert lotmod.problems(after["lots"], after["balance"], after["held"]) == [], r
        leaving = {int(e["lots"].partition(":")[0]) for e in r["new"] if e["category"] == "expiry"}
        counts["draws"] += _check_draws(state["lots"], after["lots"], leaving, key, r["t"])
        counts["settles"] += _check_settles(state["holds"], after["holds"], r["new"])
        for e in r["new"]:
            if e["category"] == "expiry":
                n = _check_expiry(state, after, e, r["t"])
                gone[n] = gone.get(n, 0) + 1
                counts["expired"] += 1
        state = after
    assert all(v == 1 for v in gone.values()), f"a lot expired twice: {gone}"
    return counts


def _lapsed(lot, t: float, slack: float = 0.0) -> bool:
    return lot.void or (lot.exp is not None and lot.exp <= t - slack)


def _check_draws(before: dict, after: dict, leaving: set, key, t: float) -> int:
    """Lots whose free money went down (not by leaving) were drawn on: in the rule's order, none past expiry."""
    def free(lots, n):
        return lots[n].free if n in lots else 0
    drawn = [n for n in before if n not in leaving and free(after, n) < free(before, n)
             and (after.get(n) is None or after[n].held > before[n].held or after[n].remaining < before[n].remaining)]
    for j in drawn:
        lot = before[j]
        assert not _lapsed(lot, t, SLACK), f"lot {j} was drawn on {t - lot.exp:.1f} s after its expiry"
        for i, other in before.items():
            if key(other) < key(lot) and not _lapsed(other, t) and i not in leaving:
                assert free(after, i) == 0, (f"lot {j} was drawn on while lot {i}, before it in the order, "
                                             f"kept {free(after, i)} free")
    return len(drawn)


def _check_settles(before: dict, after: dict, new: list) -> int:
    """A hold that closed with a debit debited what it reserved, in the order reserved."""
    closed = [h for h in before if h not in after]
    debits = [e for e in new if e["type"] == "debit" and e["key"].startswith("call:")]
    if not debits:
        return 0
    assert len(closed) == 1 and len(debits) == 1, (closed, debits)
    rest, want = debits[0]["amount"], []
    for n, amt in lotmod.parse_parts(before[closed[0]]["lots"]):
        take = min(rest, amt)
        if take:
            want.append((n, take))
        rest -= take
    assert lotmod.parse_parts(debits[0]["lots"]) == want, (debits[0], before[closed[0]])
    return 1


def _check_expiry(before: dict, after: dict, e: dict, t: float) -> int:
    [(n, amt)] = lotmod.parse_parts(e["lots"])
    lot = before["lots"][n]
    assert lot.exp is not None and lot.exp <= t, f"lot {n} expired before its time"
    assert lot.held == 0 and amt == lot.remaining == e["amount"], (lot.token(), e)
    assert n not in after["lots"]
    return n
