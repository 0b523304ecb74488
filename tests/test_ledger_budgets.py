"""API keys' budgets in the wallet's compare-and-set (services.ledger.budgets, docs/ledger.md "Budgets"):
racing holds on one key never pass its caps or its simultaneous-call limit, on every target and across
processes; a settle adds to the key's spend in the same write as the debit; days and months start again."""
from __future__ import annotations

import multiprocessing as mp
import threading
from datetime import datetime, timedelta, timezone

import pytest

from services import clock, ledger
from services.errors import InvalidInput, SpendCapReached, TooManyCalls
from tests.support.children import budgets as children

KEY = ledger.Budget("key_test1", daily_cap=10_000, label="voice-prod")  # Rs. 100 a day


def _credit(db, uid, paise, key="seed"):
    ledger.post(db, uid, key=key, type="credit", category="recharge", amount=paise)


def _race(n, fn):
    gate = threading.Barrier(n)
    out, lock = [], threading.Lock()

    def one(i):
        gate.wait()
        try:
            r = fn(i)
        except (SpendCapReached, TooManyCalls) as exc:
            r = exc
        with lock:
            out.append(r)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return out


def test_fifty_racing_holds_on_one_key_stay_under_its_daily_cap(db):
    _credit(db, "acme", 100_000)  # Rs. 1,000
    got = _race(50, lambda i: ledger.hold(db, "acme", f"h{i}", 3_000, min_amount=1_000, budget=KEY))
    held = [g for g in got if isinstance(g, int)]
    refused = [g for g in got if isinstance(g, SpendCapReached)]
    assert len(held) + len(refused) == 50 and refused
    assert sum(held) == 10_000  # 3 x Rs. 30 and the last Rs. 10: the cap, not a paisa past it
    assert all("voice-prod" in r.message and "Rs. 100.00" in r.message for r in refused)
    w = ledger.get_wallet(db, "acme")
    assert w.held == 10_000 and w.balance == 100_000
    spend = ledger.spend_of(db, "acme")["key_test1"]
    assert (spend.held, spend.open, spend.spent_day) == (10_000, len(held), 0)
    assert ledger.audit(db) == []


def test_settles_count_as_spent_and_free_the_room_only_of_what_was_not_billed(edb):
    db = edb
    _credit(db, "acme", 100_000)
    assert ledger.hold(db, "acme", "a", 6_000, budget=KEY) == 6_000
    assert ledger.hold(db, "acme", "b", 4_000, budget=KEY) == 4_000
    with pytest.raises(SpendCapReached):
        ledger.hold(db, "acme", "c", 1, budget=KEY)
    ledger.settle(db, "acme", "a", 2_500, key="call:a")  # 3,500 of a's hold comes back to the key
    spend = ledger.spend_of(db, "acme")["key_test1"]
    assert (spend.spent_day, spend.spent_month, spend.held, spend.open) == (2_500, 2_500, 4_000, 1)
    assert ledger.hold(db, "acme", "c", 5_000, min_amount=100, budget=KEY) == 3_500  # what the cap leaves
    ledger.release(db, "acme", "b")
    ledger.settle(db, "acme", "c", 3_500, key="call:c", meta={"key_id": "key_test1"})
    spend = ledger.spend_of(db, "acme")["key_test1"]
    assert (spend.spent_day, spend.held, spend.open) == (6_000, 0, 0)
    # the day's rollup counts the debits whose entry names the key (Insights reads it over any period)
    today = clock.day_of(clock.now())
    assert ledger.day_totals(db, "acme", today, today)[today]["keys"] == {"key_test1": 3_500}
    assert ledger.audit(db) == []


def test_a_hold_without_a_budget_ignores_the_keys_and_the_key_ignores_it(edb):
    db = edb
    _credit(db, "acme", 100_000)
    ledger.hold(db, "acme", "plain", 50_000)
    assert ledger.hold(db, "acme", "k", 10_000, budget=KEY) == 10_000
    ledger.settle(db, "acme", "plain", 50_000, key="call:plain")
    assert ledger.spend_of(db, "acme")["key_test1"].spent_day == 0
    assert "plain" not in str(db.wallets.find_one({"_id": "acme"}).get("budgets"))


def test_simultaneous_calls_per_key(edb):
    db = edb
    _credit(db, "acme", 100_000)
    two = ledger.Budget("key_two", max_open=2, label="dialer")
    got = _race(10, lambda i: ledger.hold(db, "acme", f"h{i}", 100, budget=two))
    assert sum(isinstance(g, int) for g in got) == 2
    refusals = [g for g in got if isinstance(g, TooManyCalls)]
    assert len(refusals) == 8 and all(r.limit == 2 and "dialer" in r.message for r in refusals)
    ledger.hold(db, "acme", "other-key", 100, budget=ledger.Budget("key_three", max_open=1))  # its own limit


def test_extend_is_bounded_by_the_key_and_told_what_is_left(edb):
    db = edb
    _credit(db, "acme", 100_000)
    ledger.hold(db, "acme", "a", 5_000, budget=KEY)
    ledger.hold(db, "acme", "b", 3_000, budget=KEY)
    assert ledger.extend(db, "acme", "a", 5_000, step=1, min_amount=0, budget=KEY) == 7_000  # 2,000 was left
    assert ledger.extend(db, "acme", "a", 5_000, step=2, min_amount=0, budget=KEY) == 7_000  # nothing left
    with pytest.raises(SpendCapReached):
        ledger.extend(db, "acme", "b", 1, step=1, budget=KEY)
    assert ledger.spend_of(db, "acme")["key_test1"].held == 10_000


def test_monthly_cap_and_a_new_day_and_month(edb, monkeypatch):
    db = edb
    _credit(db, "acme", 1_000_000)
    month = ledger.Budget("key_m", daily_cap=10_000, monthly_cap=25_000)
    t = [datetime(2026, 3, 30, 6, 0, tzinfo=timezone.utc)]  # 11:30 IST, 30 March
    monkeypatch.setattr(clock, "now", lambda: t[0])
    for day in range(2):
        ledger.hold(db, "acme", f"d{day}", 10_000, budget=month)
        ledger.settle(db, "acme", f"d{day}", 10_000, key=f"call:d{day}")
        with pytest.raises(SpendCapReached, match="daily cap"):
            ledger.hold(db, "acme", f"x{day}", 1, budget=month)
        t[0] += timedelta(days=1)
    # 1 April: a new month, and the day's cap too
    assert ledger.spend_of(db, "acme")["key_m"].spent_month == 0
    t[0] -= timedelta(days=1)  # back to 31 March: 20,000 spent this month, 5,000 left under the monthly cap
    with pytest.raises(SpendCapReached, match="daily cap"):
        ledger.hold(db, "acme", "y", 1, budget=month)
    t[0] += timedelta(days=1)
    assert ledger.hold(db, "acme", "z", 10_000, budget=month) == 10_000


def test_monthly_cap_refuses_before_the_daily_one(edb, monkeypatch):
    db = edb
    _credit(db, "acme", 1_000_000)
    tight = ledger.Budget("key_t", daily_cap=10_000, monthly_cap=12_000, label="tight")
    t = [datetime(2026, 3, 10, 6, 0, tzinfo=timezone.utc)]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    ledger.hold(db, "acme", "a", 10_000, budget=tight)
    ledger.settle(db, "acme", "a", 10_000, key="call:a")
    t[0] += timedelta(days=1)
    assert ledger.hold(db, "acme", "b", 5_000, min_amount=100, budget=tight) == 2_000
    with pytest.raises(SpendCapReached, match=r"monthly cap of Rs\. 120\.00"):
        ledger.hold(db, "acme", "c", 100, budget=tight)


def test_bad_budgets_are_refused():
    for bad in (dict(key=""), dict(key="a.b"), dict(key="k", daily_cap=-1), dict(key="k", monthly_cap=True),
                dict(key="k", max_open=0)):
        with pytest.raises(InvalidInput):
            ledger.Budget(**bad)


def test_four_processes_race_one_key(target):
    """Across processes: each its own compare-and-sets on the same wallet; the key's cap still holds."""
    db, spec = target
    _credit(db, "acme", 100_000)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=children.hold_many, args=(spec, "acme", 15, f"p{i}", q)) for i in range(4)]
    for p in procs:
        p.start()
    results = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(60)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 10_000
    assert ledger.spend_of(db, "acme")["key_race"].held == 10_000
    assert ledger.get_wallet(db, "acme").held == 10_000 and ledger.audit(db) == []
