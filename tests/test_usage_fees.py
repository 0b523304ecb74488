"""Monthly fees (issue 29): a rented number charged once per month, prorated for the first, through a kill -9
of the worker mid-run; an unpaid fee becomes an amount due paid first from the next recharge; suspension
after the grace period, and back once paid."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from services import clock, ledger, usage
from services.errors import Conflict, NotFound
from tests.support import processes
from tests.support.children import usage as children
from tests.support.targets import make_target

FEE = 50_000  # Rs. 500 per number per month


def _number(db):
    usage.define(db, "root", "number", display_name="Phone number", unit="number·month", price_paise=FEE,
                 grace_days=5)


def _month_start(t: datetime, ahead: int = 1) -> datetime:
    d = clock.date_of(t)
    y, m = divmod(d.month - 1 + ahead, 12)
    return clock.month_span(d.year + y, m + 1)[0]


def _fees(db, uid=None):
    flt = {"category": "fee"} | ({"user_id": uid} if uid else {})
    return list(db.ledger.find(flt))


def test_first_month_prorated_then_each_month_once_then_ended(edb):
    _number(edb)
    ledger.post(edb, "acme", key="seed", type="credit", category="recharge", amount=200_000)
    sub = usage.subscribe(edb, "acme", "number", key="n1")
    assert usage.subscribe(edb, "acme", "number", key="n1")["_id"] == sub["_id"]   # once per key
    with pytest.raises(Conflict):
        usage.subscribe(edb, "acme", "number", key="n1", quantity=2)
    first = usage.fees.first_month_fee(FEE, sub["started_at"])
    assert 0 < first <= FEE
    assert usage.charge_due(edb)["charged"] == 1 and usage.charge_due(edb)["charged"] == 0
    nxt = _month_start(clock.now())
    assert usage.charge_due(edb, nxt - timedelta(seconds=1))["charged"] == 0
    assert usage.charge_due(edb, nxt + timedelta(days=3))["charged"] == 1
    assert usage.charge_due(edb, nxt + timedelta(days=4))["charged"] == 0
    assert sorted(int(e["amount"]) for e in _fees(edb)) == sorted([first, FEE])
    usage.end(edb, "acme", sub["_id"])
    assert usage.charge_due(edb, _month_start(clock.now(), 2) + timedelta(days=1))["charged"] == 0
    assert usage.subscriptions(edb, "acme", active_only=True) == []
    with pytest.raises(NotFound):
        usage.end(edb, "beta", sub["_id"])                      # another customer's subscription
    assert ledger.get_wallet(edb, "acme").balance == 200_000 - first - FEE and ledger.audit(edb) == []


def test_a_worker_down_for_two_months_charges_each_missed_month_once(edb):
    _number(edb)
    ledger.post(edb, "acme", key="seed", type="credit", category="recharge", amount=500_000)
    usage.subscribe(edb, "acme", "number", key="n1")
    assert usage.charge_due(edb, _month_start(clock.now(), 2) + timedelta(days=1))["charged"] == 3
    assert len({e["meta"]["period"] for e in _fees(edb)}) == 3


def test_an_unpaid_fee_becomes_an_amount_due_paid_first_from_the_next_recharge(edb):
    _number(edb)
    ledger.post(edb, "acme", key="seed", type="credit", category="recharge", amount=1_000)   # Rs. 10
    sub = usage.subscribe(edb, "acme", "number", key="n1")
    first = usage.fees.first_month_fee(FEE, sub["started_at"])
    usage.charge_due(edb)
    w = ledger.get_wallet(edb, "acme")
    assert (w.balance, w.due) == (0, first - 1_000)             # it took what there was; never negative
    [fee] = _fees(edb)
    assert (fee["amount"], fee["due_delta"]) == (1_000, first - 1_000)
    ledger.post(edb, "acme", key="recharge-1", type="credit", category="recharge", amount=100_000)
    w = ledger.get_wallet(edb, "acme")
    assert (w.balance, w.due) == (100_000 - (first - 1_000), 0)  # the due first, from this very credit
    assert ledger.audit(edb) == []
    # a subscription whose due was paid is no longer waiting out a grace period
    assert usage.charge_due(edb)["resumed"] == 0
    assert edb.subscriptions.find_one({"_id": sub["_id"]})["due_since"] is None


def test_unpaid_past_the_grace_period_suspends_and_paying_resumes(edb):
    _number(edb)
    sub = usage.subscribe(edb, "acme", "number", key="n1")
    ledger.ensure_wallet(edb, "acme")
    usage.charge_due(edb)
    assert ledger.get_wallet(edb, "acme").due == usage.fees.first_month_fee(FEE, sub["started_at"])
    assert usage.charge_due(edb, clock.now() + timedelta(days=4))["suspended"] == 0
    assert usage.charge_due(edb, clock.now() + timedelta(days=5, minutes=1))["suspended"] == 1
    assert usage.subscriptions(edb, "acme", active_only=True) == []
    ledger.post(edb, "acme", key="recharge-1", type="credit", category="recharge", amount=FEE * 2)
    assert usage.charge_due(edb, clock.now() + timedelta(days=6))["resumed"] == 1
    assert [s["_id"] for s in usage.subscriptions(edb, "acme", active_only=True)] == [sub["_id"]]


def test_the_worker_killed_mid_run_charges_each_number_once_per_month(tmp_path, request):
    """60 customers with a number each; the worker's fee step is SIGKILLed three times part-way and run
    again to the end, for this month and the next: every number charged exactly once per month."""
    db, spec = make_target("embedded", tmp_path, request)
    _number(db)
    users = [f"c{i:03d}" for i in range(60)]
    for i, uid in enumerate(users):
        if i % 3:                                               # a third of them have no money at all
            ledger.post(db, uid, key=f"seed-{uid}", type="credit", category="recharge", amount=2 * FEE)
        else:
            ledger.ensure_wallet(db, uid)
        usage.subscribe(db, uid, "number", key="n1")
    kills = 0
    for now in (clock.now(), _month_start(clock.now()) + timedelta(hours=1)):
        period = f"{clock.date_of(now):%Y-%m}"
        for seen in (8, 25, 45):                             # kill once this many are charged for the month
            p = processes.start(children.charge_fees, spec, now)
            while p.is_alive() and db.subscriptions.count_documents({"period": period}) < seen:
                time.sleep(0.02)
            kills += processes.kill(p)
        p = processes.start(children.charge_fees, spec, now)
        p.join(300)
        assert processes.exitcode(p) == 0
        keys = [e["key"] for e in _fees(db) if e["meta"]["period"] == period]
        assert len(keys) == len(set(keys)) == 60
    assert kills >= 4                                           # most kills landed mid-run
    ledger.recover(db)
    assert ledger.audit(db) == []
    for i, uid in enumerate(users):
        w, fees = ledger.get_wallet(db, uid), _fees(db, uid)
        taken, owed = sum(int(e["amount"]) for e in fees), sum(int(e.get("due_delta") or 0) for e in fees)
        started = db.subscriptions.find_one({"user_id": uid})["started_at"]
        assert len(fees) == 2 and taken + owed == usage.fees.first_month_fee(FEE, started) + FEE
        assert (w.balance, w.due) == ((0 if i % 3 == 0 else 2 * FEE) - taken, owed) and w.balance >= 0
