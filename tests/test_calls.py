"""Calls billed from the wallet, never below zero.

The spec scenario and the concurrency test run on every target (`db`); behaviour above the data layer
runs on the embedded engine (`edb`). Kill points inside one process are simulated by making a ledger
step raise a BaseException (as a SIGKILL would stop the process there); the multi-process SIGKILL test
of a whole campaign is in test_campaigns.py.
"""
from __future__ import annotations

import math
import random
import threading
from datetime import timedelta
from fractions import Fraction

import pytest

from services import accounts, calls, clock, ledger, money, rates, reports, spending, telephony, wallet
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound, SpendCapReached, TooManyCalls

NUM = "+919876543210"
KB = "kb_sales"


def credit(db, uid, paise, key):
    return ledger.post(db, uid, key=key, type="credit", category="recharge", amount=paise)


def debits(db, uid):
    return [e for e in ledger.iter_entries(db, user_id=uid) if e["type"] == "debit"]


def snapshot(db, uid):
    """What a refused or invalid request must leave untouched."""
    w = ledger.get_wallet(db, uid)
    return (w.balance, w.held, dict(w.holds), sorted(e["_id"] for e in ledger.iter_entries(db, user_id=uid)),
            sorted((d["_id"], d["status"]) for d in db.calls.find({"user_id": uid})))


class Crash(BaseException):
    """Stands for the process dying at this point: nothing after it runs."""


# ------------------------------------------------------------------------------- the spec scenario

def test_spec_scenario_refused_then_recharged_three_minute_call(db):
    with pytest.raises(InsufficientBalance) as exc:
        calls.start_call(db, "newbie", NUM, KB)
    assert "Rs. 10.00" in exc.value.message and exc.value.code == "insufficient_balance"
    refused = calls.list_calls(db, "newbie")
    assert [(c["status"], c["reason"]) for c in refused] == [("refused", "insufficient_balance")]
    assert ledger.get_wallet(db, "newbie").held == 0

    credit(db, "newbie", 10000, "rch-1")  # Rs. 100
    assert wallet.balance(db, "newbie").balance == 10000

    assert rates.tariff_for(db, "newbie").rate_paise == 1000  # Rs. 10 / min
    started = calls.start_call(db, "newbie", NUM, KB)
    assert started["status"] == "active" and started["rate_paise"] == 1000
    # The call may run its default 10 minutes; its first slice (5 minutes) is what is held.
    assert started["max_duration_seconds"] == 600 and started["authorized_seconds"] == 300
    assert started["held_paise"] == 5000 and started["end_at_seconds"] is None
    res = calls.end_call(db, "newbie", started["call_id"], 180)
    assert res == {"call_id": started["call_id"], "billed_seconds": 180, "cost_paise": 3000,
                   "status": "completed", "balance_paise": 7000, "cut_off": False, "outcome": "answered"}
    assert wallet.balance(db, "newbie").balance == 7000
    assert wallet.balance(db, "newbie").held == 0
    ds = debits(db, "newbie")
    assert len(ds) == 1
    d = ds[0]
    assert (d["amount"], d["category"], d["balance_after"]) == (3000, "call", 7000)
    assert d["meta"] == {"call_id": started["call_id"], "to_number": NUM, "kb_id": KB, "seconds": 180,
                         "rate_paise": 1000, "requested_seconds": 180, "cut_off": False, "outcome": "answered",
                         "plan": "standard", "held_paise": 5000, "authorized_seconds": 300}
    today = spending.daily(db, "newbie", reports.today(), reports.today())[0]
    assert (today["debits"], today["calls"], today["call_seconds"]) == (3000, 1, 180)
    assert ledger.audit(db) == []


# --------------------------------------------------------------------------------- concurrency

def test_twenty_concurrent_calls_never_overdraw(db):
    start = 10000
    credit(db, "busy", start, "rch")
    stop = threading.Event()
    seen: list[tuple[int, int]] = []
    problems: list[str] = []

    def sampler():
        while not stop.is_set():
            w = ledger.get_wallet(db, "busy")
            seen.append((w.balance, w.held))
            if w.balance < 0 or w.held < 0 or w.held > w.balance:
                problems.append(f"balance {w.balance} held {w.held}")
            stop.wait(0.002)

    results, refused, errors = [], [], []

    def caller(i):
        rnd = random.Random(i)
        try:
            results.append(calls.simulate_call(db, "busy", f"+91987654{i:04d}", KB, max_minutes=3,
                                               duration_seconds=rnd.randint(0, 240)))
        except (InsufficientBalance, TooManyCalls):
            refused.append(i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    s = threading.Thread(target=sampler)
    s.start()
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    s.join()

    assert errors == []
    assert len(results) + len(refused) == 20 and results
    assert problems == [] and seen
    ds = debits(db, "busy")
    total = sum(e["amount"] for e in ds)
    assert total <= start
    assert total == sum(r["cost_paise"] for r in results)
    assert all(e["balance_after"] >= 0 for e in ds)
    assert len(ds) == sum(1 for r in results if r["cost_paise"] > 0)  # one entry per billed call
    assert len({e["meta"]["call_id"] for e in ds}) == len(ds)
    w = ledger.get_wallet(db, "busy")
    assert (w.balance, w.held, w.holds) == (start - total, 0, {})
    for r in results:  # each call cost what its own seconds and the formula say, capped at its maximum
        assert r["cost_paise"] == money.cost_paise(r["billed_seconds"], 1000)
        assert r["billed_seconds"] == min(r["reported_seconds"], r["max_duration_seconds"])
        assert r["cut_off"] == (r["reported_seconds"] > r["max_duration_seconds"])
    assert ledger.audit(db) == []


# ------------------------------------------------------------------------------------- pricing

# ceil(seconds x paise-per-minute / 60), written out by hand.
TABLE = {
    1000: {0: 0, 1: 17, 59: 984, 60: 1000, 61: 1017, 3599: 59984, 3600: 60000},   # Rs. 10 / min
    1500: {0: 0, 1: 25, 59: 1475, 60: 1500, 61: 1525, 3599: 89975, 3600: 90000},  # Rs. 15 / min
    50: {0: 0, 1: 1, 59: 50, 60: 50, 61: 51, 3599: 3000, 3600: 3000},              # Rs. 0.50 / min
}
CASES = [(rate, s, want) for rate, row in TABLE.items() for s, want in row.items()]


@pytest.mark.parametrize("rate,seconds,want", CASES)
def test_cost_table(rate, seconds, want):
    assert math.ceil(Fraction(seconds * rate, 60)) == want  # the table itself, checked independently
    assert money.cost_paise(seconds, rate) == want


def test_cost_table_is_what_calls_bill(edb):
    credit(edb, "tab", 1_000_000, "rch")
    for rupees, rate in (("10", 1000), ("15", 1500), ("0.50", 50)):
        rates.set_call_rate(edb, rupees, by="admin")
        for seconds, want in TABLE[rate].items():
            before = ledger.get_wallet(edb, "tab").balance
            r = calls.simulate_call(edb, "tab", NUM, KB, max_minutes=60, duration_seconds=seconds)
            assert (r["rate_paise"], r["billed_seconds"], r["cost_paise"], r["cut_off"]) == (rate, seconds, want, False)
            assert ledger.get_wallet(edb, "tab").balance == before - want
    assert sum(e["amount"] for e in debits(edb, "tab")) == sum(sum(r.values()) for r in TABLE.values())
    assert len(debits(edb, "tab")) == sum(1 for _, _, w in CASES if w)  # free calls post no entry
    assert ledger.audit(edb) == []


def test_cost_rejects_bad_arguments():
    for bad in (-1, 1.5, True, None, "60"):
        with pytest.raises(InvalidInput):
            money.cost_paise(bad, 1000)
        with pytest.raises(InvalidInput):
            money.cost_paise(60, bad)


def test_rate_change_during_a_call_keeps_its_price(edb):
    accounts.create_user(edb, "priya", "pass-phrase-1", "Priya", "priya@example.com")
    credit(edb, "priya", 100000, "rch")
    first = calls.start_call(edb, "priya", NUM, KB, max_minutes=5)
    rates.set_call_rate(edb, "15", by="admin")                        # global change mid-call
    second = calls.start_call(edb, "priya", NUM, KB, max_minutes=5)
    rates.set_call_rate(edb, "7.25", by="admin", user_id="priya")     # her own rate wins over global
    third = calls.start_call(edb, "priya", NUM, KB, max_minutes=5)
    rates.set_call_rate(edb, "20", by="admin")
    assert [c["rate_paise"] for c in (first, second, third)] == [1000, 1500, 725]
    assert calls.end_call(edb, "priya", first["call_id"], 90)["cost_paise"] == 1500
    assert calls.end_call(edb, "priya", second["call_id"], 90)["cost_paise"] == 2250
    assert calls.end_call(edb, "priya", third["call_id"], 90)["cost_paise"] == 1088  # ceil(1087.5)
    assert [e["meta"]["rate_paise"] for e in debits(edb, "priya")] == [1000, 1500, 725]
    assert ledger.audit(edb) == []


# ------------------------------------------------------------------------------- limits and caps

def test_hold_is_capped_by_balance_and_long_calls_are_cut_off(edb):
    credit(edb, "low", 2500, "rch")  # Rs. 25: 2.5 minutes at Rs. 10
    s = calls.start_call(edb, "low", NUM, KB, max_minutes=10)
    assert (s["held_paise"], s["max_duration_seconds"]) == (2500, 150)
    r = calls.end_call(edb, "low", s["call_id"], 400)
    assert (r["billed_seconds"], r["cost_paise"], r["cut_off"], r["balance_paise"]) == (150, 2500, True, 0)
    assert calls.get_call(edb, "low", s["call_id"])["cut_off"] is True

    credit(edb, "low", 10000, "rch2")
    s = calls.start_call(edb, "low", NUM, KB, max_minutes=2)
    assert (s["held_paise"], s["max_duration_seconds"]) == (2000, 120)
    r = calls.end_call(edb, "low", s["call_id"], 121)
    assert (r["billed_seconds"], r["cost_paise"], r["cut_off"]) == (120, 2000, True)
    s = calls.start_call(edb, "low", NUM, KB, max_minutes=2)
    assert calls.end_call(edb, "low", s["call_id"], 120)["cut_off"] is False  # exactly the maximum

    # An odd rate: the covered seconds never cost more than the hold.
    rates.set_call_rate(edb, "15", by="admin")
    uid = "odd"
    credit(edb, uid, 1234, "rch-odd")
    s = calls.start_call(edb, uid, NUM, KB)
    assert (s["held_paise"], s["max_duration_seconds"]) == (1234, 49)
    assert money.cost_paise(49, 1500) <= 1234 < money.cost_paise(50, 1500)
    assert calls.end_call(edb, uid, s["call_id"], 10_000)["cost_paise"] == 1225
    assert ledger.get_wallet(edb, uid).balance == 9
    assert ledger.audit(edb) == []


def test_minimum_balance_is_checked_against_available_not_balance(edb):
    credit(edb, "m", 1500, "rch")  # Rs. 15
    s = calls.start_call(edb, "m", NUM, KB, max_minutes=1)  # holds Rs. 10
    before = snapshot(edb, "m")
    with pytest.raises(InsufficientBalance) as exc:  # Rs. 5 available < Rs. 10 minimum
        calls.start_call(edb, "m", NUM, KB)
    assert "Rs. 5.00 available" in exc.value.message
    after = snapshot(edb, "m")
    assert after[:4] == before[:4] and len(after[4]) == len(before[4]) + 1  # only the refusal recorded
    calls.end_call(edb, "m", s["call_id"], 0)
    assert ledger.get_wallet(edb, "m").balance == 1500 and debits(edb, "m") == []


def test_daily_spend_cap(edb):
    accounts.create_user(edb, "capped", "pass-phrase-1", "Capped", "capped@example.com")
    credit(edb, "capped", 100000, "rch")
    rates.set_user_value(edb, "capped", "daily_cap_paise", 4000, by="admin")  # Rs. 40 a day
    before = snapshot(edb, "capped")
    with pytest.raises(SpendCapReached) as exc:  # a first slice of 5 min x Rs. 10 = Rs. 50 passes Rs. 40
        calls.start_call(edb, "capped", NUM, KB)
    msg = exc.value.message
    assert "Rs. 40.00" in msg and "Rs. 50.00" in msg and "up to 4 minutes would fit" in msg
    assert exc.value.code == "spend_cap_reached"
    assert snapshot(edb, "capped")[:4] == before[:4]
    assert calls.list_calls(edb, "capped")[0]["reason"] == "spend_cap"

    s = calls.start_call(edb, "capped", NUM, KB, max_minutes=2)
    calls.end_call(edb, "capped", s["call_id"], 120)                     # Rs. 20 spent today
    assert spending.daily(edb, "capped", reports.today(), reports.today())[0]["debits"] == 2000
    with pytest.raises(SpendCapReached):
        calls.start_call(edb, "capped", NUM, KB, max_minutes=3)          # 20 + 30 > 40
    open_call = calls.start_call(edb, "capped", NUM, KB, max_minutes=1)  # 20 + 10: fits
    with pytest.raises(SpendCapReached) as exc:                          # the open hold counts too
        calls.start_call(edb, "capped", NUM, KB, max_minutes=2)
    calls.end_call(edb, "capped", open_call["call_id"], 30)              # Rs. 5: 25 spent, 15 left
    # A long call starts on a slice that fits and learns, at its update, where the cap ends it.
    rates.set_user_value(edb, "capped", "daily_cap_paise", 8500, by="admin")  # Rs. 60 left today
    long = calls.start_call(edb, "capped", NUM, KB, max_minutes=60)
    assert (long["authorized_seconds"], long["held_paise"]) == (300, 5000)
    g = calls.update_call(edb, "capped", long["call_id"], 300)
    assert (g["held_paise"], g["end_at_seconds"], g["authorized_seconds"]) == (6000, 360, 360)
    assert calls.end_call(edb, "capped", long["call_id"], 400)["cost_paise"] == 6000  # cut off at the cap
    rates.set_user_value(edb, "capped", "daily_cap_paise", None, by="admin")
    assert calls.start_call(edb, "capped", NUM, KB)["held_paise"] == 5000  # no cap: a full first slice
    spent = sum(e["amount"] for e in debits(edb, "capped"))
    assert spent == 2000 + 500 + 6000 and ledger.get_wallet(edb, "capped").today_debits == spent
    assert ledger.audit(edb) == []


# ------------------------------------------------------------------------------------ bad input

# 9876543210 and 919876543210 are Indian mobile numbers written as people here write them: taken as +91.
BAD_NUMBERS = ["4155550100", "12345", "5876543210", "+0919876543210", "+91 98765 abcde", "", "   ", "+1234567",
               "+1234567890123456", "++919876543210", None, 919876543210, ["+919876543210"], "+91\n9876543210x"]
BAD_KB = ["", "a b", None, "x" * 65, "../etc", "-lead", 7, "kb\x00"]
BAD_MINUTES = [0, -1, 241, True, 2.5, "3", float("nan")]
BAD_DURATIONS = [-1, 86401, 10**12, True, False, 60.0, float("nan"), float("inf"), "60", None, [60]]


def test_bad_start_input_writes_nothing(edb):
    credit(edb, "bad", 10000, "rch")
    before = snapshot(edb, "bad")
    for n in BAD_NUMBERS:
        with pytest.raises(InvalidInput) as exc:
            calls.start_call(edb, "bad", n, KB)
        assert exc.value.message
    for kb in BAD_KB:
        with pytest.raises(InvalidInput, match="Knowledge base"):
            calls.start_call(edb, "bad", NUM, kb)
    for m in BAD_MINUTES:
        with pytest.raises(InvalidInput, match="Maximum call length"):
            calls.start_call(edb, "bad", NUM, KB, max_minutes=m)
    for uid in ("", None, "$x", "a.b", "x" * 65):
        with pytest.raises(InvalidInput):
            calls.start_call(edb, uid, NUM, KB)
    for d in BAD_DURATIONS:
        if d is None:
            continue  # None asks the simulator for a random duration
        with pytest.raises(InvalidInput, match="duration"):
            calls.simulate_call(edb, "bad", NUM, KB, duration_seconds=d)
    with pytest.raises(InvalidInput):
        calls.start_call(edb, "bad", NUM, KB, call_id="has space")
    assert snapshot(edb, "bad") == before
    # Spaces, dashes and brackets are tolerated; the stored number is clean E.164.
    r = calls.simulate_call(edb, "bad", "+91 (98765) 432-10", KB, duration_seconds=60)
    assert r["to_number"] == NUM and calls.get_call(edb, "bad", r["call_id"])["to_number"] == NUM


def test_bad_end_input_bills_nothing(edb):
    credit(edb, "alice", 10000, "rch-a")
    credit(edb, "bob", 10000, "rch-b")
    s = calls.start_call(edb, "alice", NUM, KB, max_minutes=5)
    before_a, before_b = snapshot(edb, "alice"), snapshot(edb, "bob")
    for d in BAD_DURATIONS:
        with pytest.raises(InvalidInput) as exc:
            calls.end_call(edb, "alice", s["call_id"], d)
        assert "duration" in exc.value.message.lower()
    with pytest.raises(NotFound):
        calls.end_call(edb, "alice", "call_" + "0" * 32, 60)
    for bad_id in ("", "../x", None, 42, "x" * 91):
        with pytest.raises(InvalidInput):
            calls.end_call(edb, "alice", bad_id, 60)
    # Another user's call id is simply not found for them: not ended, not shown, not billed.
    with pytest.raises(NotFound):
        calls.end_call(edb, "bob", s["call_id"], 60)
    with pytest.raises(NotFound):
        calls.get_call(edb, "bob", s["call_id"])
    with pytest.raises(NotFound):
        calls.start_call(edb, "bob", NUM, KB, call_id=s["call_id"])
    assert calls.list_calls(edb, "bob") == []
    assert snapshot(edb, "alice") == before_a and snapshot(edb, "bob") == before_b
    assert calls.get_call(edb, "alice", s["call_id"])["status"] == "active"
    assert calls.end_call(edb, "alice", s["call_id"], 60)["cost_paise"] == 1000
    assert ledger.audit(edb) == []


def test_end_twice_changes_nothing(edb):
    credit(edb, "u", 10000, "rch")
    s = calls.start_call(edb, "u", NUM, KB)
    first = calls.end_call(edb, "u", s["call_id"], 61)
    again = calls.end_call(edb, "u", s["call_id"], 600)
    assert again == first and first["cost_paise"] == 1017
    assert len(debits(edb, "u")) == 1 and ledger.get_wallet(edb, "u").balance == 10000 - 1017
    # Two enders racing with different durations: one result, one entry.
    s = calls.start_call(edb, "u", NUM, KB)
    out = []
    ts = [threading.Thread(target=lambda d=d: out.append(calls.end_call(edb, "u", s["call_id"], d)))
          for d in (30, 300, 30, 300)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(out) == 4 and all(o == out[0] for o in out)
    assert len(debits(edb, "u")) == 2
    assert ledger.audit(edb) == []


def test_zero_second_call_costs_nothing_and_posts_nothing(edb):
    credit(edb, "z", 10000, "rch")
    r = calls.simulate_call(edb, "z", NUM, KB, duration_seconds=0)
    assert (r["cost_paise"], r["balance_paise"], r["status"]) == (0, 10000, "completed")
    assert debits(edb, "z") == [] and ledger.get_wallet(edb, "z").held == 0


def test_never_started_calls_cannot_be_ended(edb):
    with pytest.raises(InsufficientBalance):
        calls.start_call(edb, "poor", NUM, KB)
    cid = calls.list_calls(edb, "poor")[0]["call_id"]
    with pytest.raises(Conflict, match="never started"):
        calls.end_call(edb, "poor", cid, 10)
    assert debits(edb, "poor") == []


# ----------------------------------------------------------------------------- crash recovery

def _later(minutes):
    return clock.now() + timedelta(minutes=minutes)


def test_crash_before_hold_marks_call_failed(edb, monkeypatch):
    credit(edb, "c", 10000, "rch")

    def dies(*a, **k):
        raise Crash()
    monkeypatch.setattr(ledger, "hold", dies)
    with pytest.raises(Crash):
        calls.start_call(edb, "c", NUM, KB)
    monkeypatch.undo()
    (doc,) = list(edb.calls.find({"user_id": "c"}))
    assert doc["status"] == "starting"
    assert calls.recover_stale_calls(edb) == 0  # younger than a minute: maybe still starting elsewhere
    assert calls.recover_stale_calls(edb, now=_later(2)) == 1
    assert calls.get_call(edb, "c", doc["_id"])["status"] == "failed"
    w = ledger.get_wallet(edb, "c")
    assert (w.balance, w.held) == (10000, 0)
    assert ledger.audit(edb) == []


def test_crash_after_hold_is_recovered_as_active_then_billed_once(edb, monkeypatch):
    credit(edb, "c", 10000, "rch")
    real = ledger.hold

    def holds_then_dies(*a, **k):
        real(*a, **k)
        raise Crash()
    monkeypatch.setattr(ledger, "hold", holds_then_dies)
    with pytest.raises(Crash):
        calls.start_call(edb, "c", NUM, KB, max_minutes=3)
    monkeypatch.undo()
    (doc,) = list(edb.calls.find({"user_id": "c"}))
    assert doc["status"] == "starting" and ledger.get_wallet(edb, "c").held == 3000
    # The hold is the activation: the call is on the line, and recovery has nothing to finish.
    assert calls.recover_stale_calls(edb, now=_later(2)) == 0
    c = calls.get_call(edb, "c", doc["_id"])
    assert (c["status"], c["held_paise"], c["max_duration_seconds"]) == ("active", 3000, 180)
    assert calls.end_call(edb, "c", doc["_id"], 100)["cost_paise"] == 1667
    assert len(debits(edb, "c")) == 1 and ledger.audit(edb) == []


def test_a_crash_around_the_settle_bills_once(edb, monkeypatch):
    """The settle is the end's recovery point. Killed before it, nothing was billed nor acknowledged:
    the call is still on the line and a retried end bills what it reports. Killed after it, the call
    reads "ending" and is completed from the settle's entry (by the worker or the retry): the first
    duration is billed, once."""
    credit(edb, "c", 10000, "rch")
    real = ledger.settle
    for after_settle in (False, True):
        s = calls.start_call(edb, "c", NUM, KB, max_minutes=5)

        def dies(*a, **k):
            if after_settle:  # noqa: B023 - called only within this iteration (undone below)
                real(*a, **k)
            raise Crash()
        monkeypatch.setattr(ledger, "settle", dies)
        with pytest.raises(Crash):
            calls.end_call(edb, "c", s["call_id"], 90)
        monkeypatch.undo()
        assert edb.calls.find_one({"_id": s["call_id"]})["status"] == "starting"  # the call was not written
        if after_settle:  # the worker finishes it from the entry; a late end gets the first result
            assert calls.get_call(edb, "c", s["call_id"])["status"] == "ending"
            assert calls.recover_stale_calls(edb) == 1
            assert calls.end_call(edb, "c", s["call_id"], 5)["billed_seconds"] == 90
        else:  # nothing was billed: the client's retry is the end
            assert calls.get_call(edb, "c", s["call_id"])["status"] == "active"
            r = calls.end_call(edb, "c", s["call_id"], 5)
            assert (r["billed_seconds"], r["cost_paise"]) == (5, 84)
        assert calls.get_call(edb, "c", s["call_id"])["status"] == "completed"
    assert [e["amount"] for e in debits(edb, "c")] == [84, 1500]
    assert ledger.get_wallet(edb, "c").held == 0 and ledger.audit(edb) == []


def test_silent_call_is_closed_at_its_last_slice_and_billed_its_last_reported_usage(edb):
    credit(edb, "s", 10000, "rch")
    s = calls.start_call(edb, "s", NUM, KB, max_minutes=4)  # 240 s authorised; grace 120 s after
    assert calls.recover_stale_calls(edb, now=_later(5)) == 0
    assert calls.recover_stale_calls(edb, now=_later(7)) == 1
    c = calls.get_call(edb, "s", s["call_id"])
    assert (c["status"], c["cost_paise"], c["reason"]) == ("completed", 0, "silent")
    assert "last reported usage (0 s)" in c["message"]
    w = ledger.get_wallet(edb, "s")
    assert (w.balance, w.held) == (10000, 0)
    assert calls.end_call(edb, "s", s["call_id"], 60)["cost_paise"] == 0  # a late end: the first result
    # A call whose platform reported 200 s and then fell silent: billed 200 s, not the 300 s authorised.
    s = calls.start_call(edb, "s", NUM, KB, max_minutes=10)
    calls.update_call(edb, "s", s["call_id"], 200)
    assert calls.get_call(edb, "s", s["call_id"])["authorized_seconds"] == 600
    assert calls.recover_stale_calls(edb, now=_later(11)) == 0  # 600 s + 120 s grace not over yet
    assert calls.recover_stale_calls(edb, now=_later(13)) == 1
    c = calls.get_call(edb, "s", s["call_id"])
    assert (c["status"], c["billed_seconds"], c["cost_paise"]) == ("completed", 200, 3334)
    assert [e["amount"] for e in debits(edb, "s")] == [3334]
    assert ledger.get_wallet(edb, "s").held == 0 and calls.recover_stale_calls(edb, now=_later(500)) == 0
    assert ledger.audit(edb) == []


def test_recovery_racing_a_slow_start_never_strands_a_hold(edb, monkeypatch):
    """Recovery gives up on a "starting" call just as its slow starter takes the hold: the starter
    sees the call failed and gives the money back."""
    credit(edb, "r", 10000, "rch")
    real = ledger.hold

    def slow_hold(db, uid, hold_id, *a, **k):
        db.calls.update_one({"_id": hold_id}, {"$set": {"started_at": clock.now() - timedelta(minutes=5)}})
        assert calls.recover_stale_calls(db) == 1  # no hold yet: failed
        return real(db, uid, hold_id, *a, **k)
    monkeypatch.setattr(ledger, "hold", slow_hold)
    with pytest.raises(Conflict):
        calls.start_call(edb, "r", NUM, KB, call_id="client_key_1")
    monkeypatch.undo()
    w = ledger.get_wallet(edb, "r")
    assert (w.balance, w.held) == (10000, 0) and ledger.audit(edb) == []
    # The client retries with the same id: a new attempt with a new hold (the old one is resolved).
    s = calls.start_call(edb, "r", NUM, KB, max_minutes=2, call_id="client_key_1")
    assert (s["status"], s["held_paise"]) == ("active", 2000)
    assert calls.end_call(edb, "r", "client_key_1", 60)["cost_paise"] == 1000
    assert calls.start_call(edb, "r", NUM, KB, call_id="client_key_1")["status"] == "completed"
    assert [e["meta"]["call_id"] for e in debits(edb, "r")] == ["client_key_1"]
    assert ledger.get_wallet(edb, "r").held == 0 and ledger.audit(edb) == []


# --------------------------------------------------------------------------- reading, simulator

def test_list_and_get_calls(edb):
    credit(edb, "l", 100000, "rch")
    ids = [calls.simulate_call(edb, "l", f"+9198765432{i:02d}", KB, duration_seconds=i)["call_id"] for i in range(5)]
    listed = calls.list_calls(edb, "l")
    assert [c["call_id"] for c in listed] == ids[::-1]
    assert calls.list_calls(edb, "l", limit=2) == listed[:2]
    c = calls.get_call(edb, "l", ids[3])
    assert (c["to_number"], c["billed_seconds"], c["cost_paise"], c["status"]) == ("+919876543203", 3, 50, "completed")
    with pytest.raises(InvalidInput):
        calls.list_calls(edb, "l", limit=0)


def test_simulated_backend():
    assert isinstance(telephony.SimulatedBackend(), telephony.VoiceBackend)
    b = telephony.SimulatedBackend(seed=7)
    h = b.place(NUM, KB, 120, call_id="c1")
    assert isinstance(h, telephony.CallHandle) and 0 <= h.wait() <= 144
    assert b.place(NUM, KB, 120, call_id="c1") is h and b.dials["c1"] == 1  # same reference: no redial
    assert [telephony.SimulatedBackend(seed=3).place(NUM, KB, 600, call_id="x").wait() for _ in range(2)] == \
        [telephony.SimulatedBackend(seed=3).place(NUM, KB, 600, call_id="x").wait()] * 2
    fixed = telephony.SimulatedBackend(lambda n, mx, cid: mx + 5)
    assert fixed.place(NUM, KB, 60, call_id="y").wait() == 65
    with pytest.raises(ValueError):
        telephony.SimulatedBackend(-3).place(NUM, KB, 60, call_id="z")


def test_backend_failure_releases_the_hold(edb):
    credit(edb, "f", 10000, "rch")

    class Down:
        def place(self, to_number, kb_id, max_seconds, *, call_id):
            raise ConnectionError("carrier down")
    with pytest.raises(ConnectionError):
        calls.simulate_call(edb, "f", NUM, KB, backend=Down())
    (c,) = calls.list_calls(edb, "f")
    assert (c["status"], c["cost_paise"], c["reason"]) == ("completed", 0, "not_placed")
    assert ledger.get_wallet(edb, "f").held == 0 and debits(edb, "f") == []


def test_half_ended_call_is_finished_once_even_after_the_wallet_forgot_its_hold(edb, monkeypatch):
    """The wallet remembers only recent resolved holds; the call record and the debit key still keep
    a late finisher from billing twice."""
    credit(edb, "old", 100000, "rch")
    s = calls.start_call(edb, "old", NUM, KB, max_minutes=5)
    real = ledger.settle

    def settles_then_dies(*a, **k):
        real(*a, **k)
        raise Crash()
    monkeypatch.setattr(ledger, "settle", settles_then_dies)
    with pytest.raises(Crash):
        calls.end_call(edb, "old", s["call_id"], 90)
    monkeypatch.undo()
    for i in range(70):  # more resolved holds than the wallet keeps (64)
        ledger.hold(edb, "old", f"other_{i}", 100)
        ledger.release(edb, "old", f"other_{i}")
    assert calls.get_call(edb, "old", s["call_id"])["status"] == "starting"  # no hold, none remembered
    assert calls.recover_stale_calls(edb) == 0  # it may still be starting elsewhere
    assert calls.recover_stale_calls(edb, now=_later(2)) == 1  # then its entry is found: completed, not failed
    assert calls.get_call(edb, "old", s["call_id"])["status"] == "completed"
    assert [e["amount"] for e in debits(edb, "old")] == [1500]
    assert ledger.get_wallet(edb, "old").balance == 98500 and ledger.audit(edb) == []


def test_a_free_end_killed_before_its_completion_is_completed_free_not_restarted(edb, monkeypatch):
    """Killed after an unanswered call's hold was given back (a settle at zero) and before the call
    was completed: the call reads "ending"; repeating its start or its end completes it free, and it is
    never placed again under a new hold."""
    credit(edb, "back", 10000, "rch")
    s = calls.start_call(edb, "back", NUM, KB, max_minutes=2, call_id="k1")
    real = ledger.settle

    def settles_then_dies(*a, **k):
        real(*a, **k)
        raise Crash()
    monkeypatch.setattr(ledger, "settle", settles_then_dies)
    with pytest.raises(Crash):
        calls.end_call(edb, "back", s["call_id"], 0, calls.NO_ANSWER)
    monkeypatch.undo()
    assert calls.get_call(edb, "back", "k1")["status"] == "ending"
    again = calls.start_call(edb, "back", NUM, KB, max_minutes=2, call_id="k1")
    assert again["status"] == "completed" and edb.calls.find_one({"_id": "k1"})["hold_id"] is None
    assert calls.end_call(edb, "back", "k1", 120)["cost_paise"] == 0
    w = ledger.get_wallet(edb, "back")
    assert (w.balance, w.held) == (10000, 0) and debits(edb, "back") == [] and ledger.audit(edb) == []


def test_a_settled_call_whose_entry_cannot_be_found_is_never_completed_free(edb, monkeypatch):
    """The wallet names the settle's entry; if that entry cannot be read even after the ledger's
    recovery, completing the call would have to invent its figures: it stays "ending" and says why."""
    credit(edb, "gone", 10000, "rch")
    s = calls.start_call(edb, "gone", NUM, KB, max_minutes=2)
    real = ledger.settle

    def settles_then_dies(*a, **k):
        real(*a, **k)
        raise Crash()
    monkeypatch.setattr(ledger, "settle", settles_then_dies)
    with pytest.raises(Crash):
        calls.end_call(edb, "gone", s["call_id"], 60)
    monkeypatch.setattr(ledger, "settle", real)
    monkeypatch.setattr(ledger, "get_entry", lambda db, eid: None)
    with pytest.raises(RuntimeError, match="is missing"):
        calls.end_call(edb, "gone", s["call_id"], 60)
    monkeypatch.undo()
    assert calls.get_call(edb, "gone", s["call_id"])["status"] == "ending"
    r = calls.end_call(edb, "gone", s["call_id"], 5)  # readable again: completed from the entry, billed once
    assert (r["billed_seconds"], r["cost_paise"]) == (60, 1000)
    assert len(debits(edb, "gone")) == 1 and ledger.audit(edb) == []
