"""Rolling authorisation: calls share one balance, grow their holds a slice at a time, are told the exact
second to end when the money runs out, and are billed once; the simultaneous-call limit; outcomes.

The two-calls scenario runs on every target; the rest on the embedded engine. The 50-call storm with
threads and processes and the SIGKILL run are in test_calls_storm.py.
"""
from __future__ import annotations

import threading

import pytest

from services import accounts, calls, ledger, rates, settings, telephony
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound, TooManyCalls

NUM, NUM2 = "+919876543210", "+919812345678"
KB = "kb_sales"


class Crash(BaseException):
    """Stands for the process dying at this point: nothing after it runs."""


def credit(db, uid, paise, key):
    return ledger.post(db, uid, key=key, type="credit", category="recharge", amount=paise)


def debits(db, uid):
    return [e for e in ledger.iter_entries(db, user_id=uid) if e["type"] == "debit"]


def test_two_calls_on_rs_100_both_connect_and_end_exactly_when_the_money_does(db):
    credit(db, "pair", 10000, "rch")  # Rs. 100 at Rs. 10 / min: 10 minutes of talk between them
    a, b = calls.start_call(db, "pair", NUM, KB), calls.start_call(db, "pair", NUM2, KB)
    for g in (a, b):  # both connect: a first slice of 5 minutes each
        assert (g["status"], g["authorized_seconds"], g["held_paise"], g["end_at_seconds"]) == \
            ("active", 300, 5000, None)
    assert ledger.get_wallet(db, "pair").available == 0
    # Their platforms ask for the next slice; nothing is left, so each is told to end at 300 s exactly.
    ga = calls.update_call(db, "pair", a["call_id"], 240)
    gb = calls.update_call(db, "pair", b["call_id"], 300)
    for g in (ga, gb):
        assert (g["end_at_seconds"], g["authorized_seconds"], g["held_paise"]) == (300, 300, 5000)
    assert calls.update_call(db, "pair", a["call_id"], 299)["end_at_seconds"] == 300  # asked again: the same
    ea = calls.end_call(db, "pair", a["call_id"], 300)
    eb = calls.end_call(db, "pair", b["call_id"], 300)
    assert (ea["cost_paise"], eb["cost_paise"], ea["cut_off"], eb["cut_off"]) == (5000, 5000, False, False)
    assert sum(e["amount"] for e in debits(db, "pair")) == 10000  # Rs. 100.00 exactly
    w = ledger.get_wallet(db, "pair")
    assert (w.balance, w.held, w.holds) == (0, 0, {})
    assert ledger.audit(db) == []


def test_money_freed_by_one_call_lets_the_other_talk_on_to_the_paisa(edb):
    credit(edb, "p", 10000, "rch")
    a, b = calls.start_call(edb, "p", NUM, KB, max_minutes=30), calls.start_call(edb, "p", NUM2, KB, max_minutes=30)
    assert calls.end_call(edb, "p", a["call_id"], 100)["cost_paise"] == 1667  # Rs. 33.33 comes back
    g = calls.update_call(edb, "p", b["call_id"], 300)
    assert (g["authorized_seconds"], g["held_paise"], g["end_at_seconds"]) == (499, 8333, 499)
    assert calls.end_call(edb, "p", b["call_id"], 600) == {
        "call_id": b["call_id"], "billed_seconds": 499, "cost_paise": 8317, "status": "completed",
        "balance_paise": 16, "cut_off": True, "outcome": "answered"}
    # 16 paise are left: less than a second at Rs. 10/min (16.67 paise), so the end was exact.
    assert ledger.get_wallet(edb, "p").balance == 16 and ledger.audit(edb) == []


def test_update_grows_the_hold_a_slice_at_a_time_and_records_usage(edb):
    credit(edb, "u", 100000, "rch")
    s = calls.start_call(edb, "u", NUM, KB, max_minutes=12)  # 720 s at most
    cid = s["call_id"]
    assert (s["authorized_seconds"], s["held_paise"]) == (300, 5000)
    g = calls.update_call(edb, "u", cid, 0)  # a whole slice still ahead: nothing held
    assert (g["authorized_seconds"], g["held_paise"]) == (300, 5000)
    g = calls.update_call(edb, "u", cid, 120)
    assert (g["authorized_seconds"], g["held_paise"], g["usage_seconds"]) == (600, 10000, 120)
    g = calls.update_call(edb, "u", cid, 250)  # 350 s still ahead: no more
    assert (g["authorized_seconds"], g["usage_seconds"]) == (600, 250)
    g = calls.update_call(edb, "u", cid, 100)  # out of order: usage never goes back
    assert g["usage_seconds"] == 250
    g = calls.update_call(edb, "u", cid, 5000)  # past the grant: recorded as the grant, the maximum is next
    assert (g["authorized_seconds"], g["held_paise"], g["usage_seconds"], g["end_at_seconds"]) == \
        (720, 12000, 600, None)
    assert calls.update_call(edb, "u", cid, 710)["held_paise"] == 12000  # at the maximum: nothing more
    assert ledger.get_wallet(edb, "u").held == 12000
    r = calls.end_call(edb, "u", cid, 700)
    assert (r["cost_paise"], r["cut_off"]) == (11667, False)
    assert calls.update_call(edb, "u", cid, 710)["status"] == "completed"  # a late update: the final state
    assert ledger.get_wallet(edb, "u").held == 0 and ledger.audit(edb) == []


def test_bad_or_foreign_updates_change_nothing(edb):
    credit(edb, "a", 10000, "rch-a")
    s = calls.start_call(edb, "a", NUM, KB)
    before = ledger.get_wallet(edb, "a"), calls.get_call(edb, "a", s["call_id"])
    for bad in (-1, 86401, True, 1.5, "60", None):
        with pytest.raises(InvalidInput, match="Usage"):
            calls.update_call(edb, "a", s["call_id"], bad)
    with pytest.raises(NotFound):
        calls.update_call(edb, "b", s["call_id"], 120)
    with pytest.raises(InvalidInput):
        calls.update_call(edb, "a", "../x", 120)
    assert (ledger.get_wallet(edb, "a"), calls.get_call(edb, "a", s["call_id"])) == before
    with pytest.raises(InsufficientBalance):  # no credit: refused, so never on the line
        calls.start_call(edb, "poor", NUM, KB)
    refused = calls.list_calls(edb, "poor")[0]["call_id"]
    with pytest.raises(Conflict, match="not on the line"):
        calls.update_call(edb, "poor", refused, 10)


def test_an_extension_interrupted_by_a_crash_is_applied_once(edb, monkeypatch):
    credit(edb, "c", 100000, "rch")
    s = calls.start_call(edb, "c", NUM, KB, max_minutes=30)
    real = ledger.extend

    def extends_then_dies(*a, **k):
        real(*a, **k)
        raise Crash()
    monkeypatch.setattr(ledger, "extend", extends_then_dies)
    with pytest.raises(Crash):
        calls.update_call(edb, "c", s["call_id"], 290)
    monkeypatch.undo()
    assert ledger.get_wallet(edb, "c").held == 10000  # the ledger took step 1, and its grant in the same write
    assert calls.get_call(edb, "c", s["call_id"])["authorized_seconds"] == 600
    g = calls.update_call(edb, "c", s["call_id"], 295)  # the platform retries: the same grant, not a step 2
    assert (g["authorized_seconds"], g["held_paise"]) == (600, 10000)
    assert ledger.get_wallet(edb, "c").held == 10000
    # Two updates racing for the same step: one extension.
    out = []
    ts = [threading.Thread(target=lambda: out.append(calls.update_call(edb, "c", s["call_id"], 590)))
          for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert {(g["authorized_seconds"], g["held_paise"]) for g in out} == {(900, 15000)}
    assert ledger.get_wallet(edb, "c").held == 15000
    assert calls.end_call(edb, "c", s["call_id"], 610)["cost_paise"] == 10167
    assert ledger.get_wallet(edb, "c").held == 0 and ledger.audit(edb) == []


def test_a_crash_after_the_extension_bills_within_the_grant_the_hold_recorded(edb, monkeypatch):
    """The ledger extended the hold and recorded its grant in the same write, and the process died
    before answering: the grant stands (a retried update is told it), the end bills within it, never
    past what is held, and the rest of the hold comes back."""
    credit(edb, "k", 100000, "rch")
    s = calls.start_call(edb, "k", NUM, KB, max_minutes=30)
    real = ledger.extend

    def extends_then_dies(*a, **k):
        real(*a, **k)
        raise Crash()
    monkeypatch.setattr(ledger, "extend", extends_then_dies)
    with pytest.raises(Crash):
        calls.update_call(edb, "k", s["call_id"], 290)
    monkeypatch.undo()
    assert ledger.get_wallet(edb, "k").held == 10000
    r = calls.end_call(edb, "k", s["call_id"], 720)
    assert (r["billed_seconds"], r["cost_paise"], r["cut_off"]) == (600, 10000, True)
    assert calls.end_call(edb, "k", s["call_id"], 5)["cost_paise"] == 10000  # the first result
    w = ledger.get_wallet(edb, "k")
    assert (w.balance, w.held) == (90000, 0) and ledger.audit(edb) == []


def test_simultaneous_call_limit(edb):
    accounts.create_user(edb, "lim", "pass-phrase-1", "Lim", "lim@example.com")
    credit(edb, "lim", 100000, "rch")
    assert settings.limits_for(edb, "lim") == {"daily_cap_paise": None, "max_concurrent_calls": 10}
    rates.set_user_value(edb, "lim", "max_concurrent_calls", 2, by="admin")
    a = calls.start_call(edb, "lim", NUM, KB, max_minutes=2)
    b = calls.start_call(edb, "lim", NUM2, KB, max_minutes=2)
    held = ledger.get_wallet(edb, "lim").held
    with pytest.raises(TooManyCalls) as exc:
        calls.start_call(edb, "lim", "+919800000001", KB)
    assert exc.value.code == "too_many_calls" and exc.value.retry_after == calls.RETRY_AFTER_SECONDS
    assert exc.value.limit == 2 and "2 calls on the line" in exc.value.message
    assert ledger.get_wallet(edb, "lim").held == held  # nothing held for the refused one
    assert calls.list_calls(edb, "lim")[0]["reason"] == "too_many_calls"
    calls.end_call(edb, "lim", a["call_id"], 30)
    c = calls.start_call(edb, "lim", "+919800000001", KB, max_minutes=1)  # a slot is free again
    # Starts racing for the last slot: exactly one gets it.
    calls.end_call(edb, "lim", c["call_id"], 30)
    got, refused = [], []

    def start(i):
        try:
            got.append(calls.start_call(edb, "lim", f"+91980000010{i}", KB, max_minutes=1))
        except TooManyCalls:
            refused.append(i)
    ts = [threading.Thread(target=start, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert (len(got), len(refused)) == (1, 5)
    for g in got + [b]:
        calls.end_call(edb, "lim", g["call_id"], 10)
    assert ledger.audit(edb) == []


def test_unanswered_busy_and_failed_calls_cost_the_attempt_fee_only(edb):
    accounts.create_user(edb, "fee", "pass-phrase-1", "Fee", "fee@example.com")
    credit(edb, "fee", 100000, "rch")
    # The standard plan: an unanswered call is free and posts nothing.
    r = calls.simulate_call(edb, "fee", NUM, KB, duration_seconds=40, outcome="no-answer")
    assert (r["outcome"], r["billed_seconds"], r["cost_paise"]) == ("no-answer", 0, 0) and debits(edb, "fee") == []
    rates.define_plan(edb, "pro", rate="12", initial_seconds=30, subsequent_seconds=6, attempt_fee="1.50", by="admin")
    rates.assign_plan(edb, "fee", "pro", by="admin")
    for outcome in ("no-answer", "busy", "failed"):
        r = calls.simulate_call(edb, "fee", NUM, KB, duration_seconds=25, outcome=outcome)
        assert (r["outcome"], r["billed_seconds"], r["cost_paise"], r["plan"]) == (outcome, 0, 150, "pro")
    s = calls.start_call(edb, "fee", NUM, KB, max_minutes=5)
    assert calls.end_call(edb, "fee", s["call_id"], 31)["cost_paise"] == 720  # 36 s at Rs. 12: time only
    ds = debits(edb, "fee")
    assert [e["amount"] for e in ds] == [150, 150, 150, 720]
    assert [e["meta"]["outcome"] for e in ds] == ["no-answer", "busy", "failed", "answered"]
    assert ds[0]["note"].endswith("no-answer: attempt fee") and ds[0]["meta"]["seconds"] == 0
    with pytest.raises(InvalidInput, match="outcome"):
        calls.end_call(edb, "fee", calls.start_call(edb, "fee", NUM, KB)["call_id"], 10, "voicemail")
    assert ledger.audit(edb) == []


def test_the_simulated_platform_updates_at_each_authorised_second(edb):
    credit(edb, "sim", 100000, "rch")
    r = calls.simulate_call(edb, "sim", NUM, KB, max_minutes=30, duration_seconds=1000)
    assert (r["updates"], r["billed_seconds"], r["cost_paise"], r["cut_off"]) == (3, 1000, 16667, False)
    # Money for 7.5 minutes: the platform is told to end at 450 s and the far end is cut off there.
    credit(edb, "low", 7500, "rch-low")
    r = calls.simulate_call(edb, "low", NUM, KB, max_minutes=30, duration_seconds=1000)
    assert (r["updates"], r["billed_seconds"], r["cost_paise"], r["cut_off"], r["max_duration_seconds"]) == \
        (1, 450, 7500, True, 450)
    assert ledger.get_wallet(edb, "low").balance == 0
    h = telephony.SimulatedBackend(10).place(NUM, KB, 60, call_id="x")
    assert isinstance(h, telephony.CallHandle) and h.wait() == 10 and h.outcome == "answered"
    assert telephony.SimulatedBackend(10, outcome="busy").place(NUM, KB, 60, call_id="y").wait() == 0
    assert ledger.audit(edb) == []
