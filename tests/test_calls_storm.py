"""Many calls on one wallet at once: 50 sessions (three that fall silent, holding their money, then 47 at
once on threads in this process and in two child processes) sending updates and ends at random; then a
stream of interleaved sessions killed with SIGKILL at random points, 24 times. Afterwards every bill adds
up, nothing is lost or doubled, the audit is clean.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from services import rates
from services import accounts, calls, clock, ledger
from services.pricing import call_price
from tests.support import processes
from tests.support.children import calls as call_child, oplog
from tests.support.targets import make_target

pytestmark = pytest.mark.slow


def setup_user(db, uid: str, paise: int) -> None:
    accounts.create_user(db, uid, "pass-phrase-1", "Storm", f"{uid}@example.com")
    rates.set_user_value(db, uid, "max_concurrent_calls", 1000, by="test")
    ledger.post(db, uid, key=f"rch-{uid}", type="credit", category="recharge", amount=paise)


def check_bills(db, uid: str, credits: int) -> list[dict]:
    """Every call billed at most once, at its own price, within its hold and its grant; the money
    spent is the sum of the bills; nothing left held. Returns the user's calls."""
    debits = [e for e in ledger.iter_entries(db, user_id=uid) if e["type"] == "debit"]
    per_call = Counter(e["meta"]["call_id"] for e in debits)
    assert not per_call or per_call.most_common(1)[0][1] == 1
    docs = {d["_id"]: d for d in db.calls.find({"user_id": uid})}
    assert {d["status"] for d in docs.values()} <= {"completed", "refused"}
    for e in debits:
        d = docs[e["meta"]["call_id"]]
        assert e["amount"] == int(d["cost_paise"]) <= int(d["held_paise"])
        assert int(d["billed_seconds"]) <= int(d["authorized_seconds"])
        assert e["amount"] == call_price(int(d["billed_seconds"]), calls.records.tariff_of(d), d["outcome"])
    spent = sum(e["amount"] for e in debits)
    assert spent == sum(int(d.get("cost_paise") or 0) for d in docs.values())
    w = ledger.get_wallet(db, uid)
    assert (w.balance, w.held, w.holds) == (credits - spent, 0, {})
    assert all(e["balance_after"] >= 0 for e in debits)
    assert ledger.audit(db) == []
    return list(docs.values())


class BoundsWatch:
    """Samples the wallet while the calls run: never below zero, never more held than there is."""

    def __init__(self, db, uid):
        self.db, self.uid, self.bad, self.seen = db, uid, [], 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run)

    def run(self):
        while not self.stop.is_set():
            w = ledger.get_wallet(self.db, self.uid)
            self.seen += 1
            if w.balance < 0 or w.held < 0 or w.held > w.balance:
                self.bad.append((w.balance, w.held))
            self.stop.wait(0.005)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join()


def test_fifty_concurrent_calls_on_one_wallet_threads_and_processes(target):
    db, spec = target
    uid, start = "storm", 60_000  # Rs. 600: less than 50 first slices, so calls are refused and cut short
    setup_user(db, uid, start)
    q = processes.warm().Queue()
    seeds = {k: list(range(k, k + 15)) for k in (100, 200)}
    results, errors = [], []

    def run(seed):
        try:
            results.append(call_child.session(db, uid, seed, "t", silent=True if seed < 3 else None))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
    with BoundsWatch(db, uid) as watch:
        # Three calls fall silent first, holding their money through the storm (started alongside the
        # others, a loaded machine let the children take all the money first and none was silent).
        first = [threading.Thread(target=run, args=(s,)) for s in range(3)]
        for t in first:
            t.start()
        for t in first:
            t.join()
        procs = [processes.start(call_child.storm, spec, uid, seeds[k], f"p{k}", q) for k in seeds]
        ts = [threading.Thread(target=run, args=(s,)) for s in range(3, 20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for _ in procs:
            got = q.get(timeout=300)
            assert all(isinstance(r, dict) for r in got), got
            results.extend(got)
        for p in procs:
            p.join(60)
    assert errors == [] and watch.bad == [] and watch.seen
    assert len(results) == 50
    assert {r.get("refused") for r in results} <= {None, "insufficient_balance"}
    ended = [r for r in results if "cost_paise" in r]
    assert ended and any(r.get("refused") for r in results) and any(r.get("silent") for r in results)
    # The silent ones are closed at the end of their last slice, billed their last reported usage.
    assert calls.recover_stale_calls(db, now=clock.now() + timedelta(hours=5)) == \
        sum(1 for r in results if r.get("silent"))
    docs = {d["_id"]: d for d in check_bills(db, uid, start)}
    for r in ended:  # what each end answered is what was billed
        assert int(docs[r["call_id"]]["cost_paise"]) == r["cost_paise"]
    for r in results:
        if r.get("silent"):
            assert int(docs[r["call_id"]]["billed_seconds"]) <= r["usage"]


class Stream:
    """One stream of call sessions in a warm child process (restarted after each kill)."""

    def __init__(self, spec, uid, tmp: Path, seed: int, sessions: int):
        self.seed, self.log = seed, tmp / f"stream{seed}.log"
        self.args = (spec, uid, str(self.log), seed, sessions)
        self.active = processes.start(call_child.crash_stream, *self.args)

    def steps_done(self) -> int:
        return oplog.acks(str(self.log))

    def kill_and_restart(self) -> bool:
        """False if the stream had finished before the kill (nothing to restart)."""
        if not processes.kill(self.active):
            return False
        self.active = processes.start(call_child.crash_stream, *self.args)
        return True

    def finish(self) -> int:
        self.active.join(300)
        return self.active.exitcode


def test_sigkill_at_random_points_loses_nothing_and_doubles_nothing(tmp_path, request):
    db, spec = make_target("embedded", tmp_path, request)
    # Enough sessions that 24 kills land before both streams end, however fast a warm restart is.
    uid, sessions, seeds = "crash", 44, (7, 8)
    setup_user(db, uid, 30_000)
    streams = {s: Stream(spec, uid, tmp_path, s, sessions) for s in seeds}
    rnd, kills, live = random.Random(1), 0, set(seeds)
    while kills < 24 and live:
        st = streams[rnd.choice(sorted(live))]
        # Kill once it has done a few steps since its (re)start: inside a step, or between two.
        goal = st.steps_done() + rnd.randint(1, 3)
        deadline = time.monotonic() + 60
        while st.active.is_alive() and st.steps_done() < goal:
            assert time.monotonic() < deadline, "the stream made no progress"
            time.sleep(0.02)
        if st.active.is_alive():
            time.sleep(rnd.uniform(0, 0.06))
        if not st.kill_and_restart():  # it finished its stream before this kill
            assert st.finish() == 0
            live.discard(st.seed)
            continue
        kills += 1
    assert kills >= 20, f"only {kills} kills: the streams ended first"
    for st in streams.values():  # the last runs finish their streams
        assert st.finish() == 0
    ledger.recover(db)
    calls.recover_stale_calls(db, now=clock.now() + timedelta(hours=5))
    credits = sum(e["amount"] for e in ledger.iter_entries(db, user_id=uid) if e["type"] == "credit")
    steps = {s: call_child.plan(s, sessions) for s in seeds}
    assert credits == 30_000 + sum(st["amount"] for s in seeds for st in steps[s] if st["op"] == "credit")
    docs = {d["_id"]: d for d in check_bills(db, uid, credits)}
    for s in seeds:
        acked, _ = call_child.read_log(str(streams[s].log))
        assert sorted(acked) == list(range(len(steps[s])))  # every step done, after however many kills
        for n, st in enumerate(steps[s]):
            if st["op"] == "end" and "cost_paise" in acked[n]:  # acknowledged bills: exactly as answered
                assert int(docs[st["cid"]]["cost_paise"]) == acked[n]["cost_paise"]
