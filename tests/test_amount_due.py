"""The ledger's amount due (services/ledger/dues.py) on every database target: a refund beyond the balance
never makes it negative, the rest is due and the next credits pay it first in the same compare-and-set;
once per key under races; the audit checks `due == Σ due_delta` and catches a tampered one."""
from __future__ import annotations

import threading

import pytest

from services import ledger, wallet
from services.errors import Conflict, InvalidAmount, InvalidInput


def credit(db, uid, amount, key):
    return ledger.post(db, uid, key=key, type="credit", category="recharge", amount=amount)


def state(db, uid="u1"):
    w = ledger.get_wallet(db, uid)
    return w.balance, w.held, w.due


def test_a_refund_takes_what_is_there_and_the_rest_is_due(db):
    credit(db, "u1", 50000, "r1")
    ledger.post(db, "u1", key="call", type="debit", category="call", amount=45000)
    e = ledger.debit_owing(db, "u1", key="rf1", amount=50000, source="rfnd_1")
    assert (e["amount"], e["due_delta"], e["balance_after"]) == (5000, 45000, 0)
    assert state(db) == (0, 0, 45000)
    assert ledger.debit_owing(db, "u1", key="rf1", amount=50000)["_id"] == e["_id"]  # once per key
    with pytest.raises(Conflict):
        ledger.debit_owing(db, "u1", key="rf1", amount=40000)
    assert state(db) == (0, 0, 45000) and ledger.audit(db) == []


def test_a_refund_of_an_empty_wallet_is_a_zero_entry_listed_with_refunds(db):
    e = ledger.debit_owing(db, "u1", key="rf0", amount=1234)
    assert (e["amount"], e["due_delta"]) == (0, 1234) and state(db) == (0, 0, 1234)
    [listed], _ = ledger.entries(db, "u1", category="refund")
    assert listed["_id"] == e["_id"]
    assert ledger.audit(db) == []


def test_the_next_credits_pay_the_due_first_in_the_same_write(db):
    ledger.debit_owing(db, "u1", key="rf", amount=30000)
    c = credit(db, "u1", 10000, "r1")
    assert state(db) == (0, 0, 20000)
    [due, cr], _ = ledger.entries(db, "u1", limit=2)
    assert (cr["_id"], cr["balance_after"]) == (c["_id"], 10000)
    assert (due["type"], due["category"], due["amount"], due["due_delta"], due["balance_after"], due["source"]) == \
        ("debit", "refund", 10000, -10000, 0, c["_id"])
    assert due["seq"] == cr["seq"] and due["n"] == cr["n"] + 1
    credit(db, "u1", 50000, "r2")
    assert state(db) == (30000, 0, 0)
    credit(db, "u1", 100, "r3")  # nothing due: a plain credit
    assert state(db) == (30100, 0, 0) and len(ledger.entries(db, "u1", limit=100)[0]) == 6
    assert wallet.amounts_due(db) == [] and ledger.audit(db) == []


def test_a_refund_with_a_hold_takes_the_hold_first_and_releases_the_rest(db):
    credit(db, "u1", 10000, "r1")
    ledger.hold(db, "u1", "rq-1", 6000)
    ledger.hold(db, "u1", "call-1", 4000)
    e = ledger.debit_owing(db, "u1", key="rf", amount=5000, hold_id="rq-1")
    assert (e["amount"], e.get("due_delta")) == (5000, None)
    assert state(db) == (5000, 4000, 0) and set(ledger.get_wallet(db, "u1").holds) == {"call-1"}
    assert ledger.release(db, "u1", "rq-1") is False  # resolved by the refund
    # A hold released before the refund came: it takes from what is available, the rest is due.
    ledger.hold(db, "u1", "rq-2", 1000)
    ledger.release(db, "u1", "rq-2")
    e = ledger.debit_owing(db, "u1", key="rf2", amount=3000, hold_id="rq-2")
    assert (e["amount"], e["due_delta"]) == (1000, 2000) and state(db) == (4000, 4000, 2000)
    # The call releases its hold: the worker's sweep pays the due from it.
    ledger.release(db, "u1", "call-1")
    assert wallet.collect_dues(db) == 2000 and state(db) == (2000, 0, 0)
    assert wallet.collect_dues(db) == 0 and ledger.pay_due(db, "u1") is None
    assert ledger.audit(db) == []


def test_credits_and_refunds_racing_keep_the_due_exact(db):
    credit(db, "u1", 1000, "seed")
    errors = []

    def refunds():
        try:
            for i in range(15):
                ledger.debit_owing(db, "u1", key=f"rf{i}", amount=700)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def credits():
        try:
            for i in range(15):
                credit(db, "u1", 500, f"c{i}")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (refunds, refunds, credits)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    balance, held, due = state(db)
    # money in 1000 + 15 * 500; refunds 15 * 700 (the second thread repeats the same keys)
    assert balance - due == 1000 + 15 * 500 - 15 * 700 and balance >= 0 and due >= 0
    assert min(balance, due) == 0  # a credit pays the due first, so both are never positive together
    assert ledger.audit(db) == []


def test_the_audit_catches_a_due_that_is_not_its_entries(db):
    ledger.debit_owing(db, "u1", key="rf", amount=500)
    db.wallets.update_one({"_id": "u1"}, {"$set": {"due": 400}})
    [row] = ledger.audit(db)
    assert any("amount due 400 != ledger 500" in p for p in row["problems"])
    db.wallets.update_one({"_id": "u1"}, {"$set": {"due": -1}})
    assert any("negative" in p for p in ledger.audit(db)[0]["problems"])


@pytest.mark.parametrize("kw, exc", [({"amount": 0}, InvalidAmount), ({"amount": -5}, InvalidAmount),
                                     ({"amount": 1.5}, InvalidAmount), ({"amount": True}, InvalidAmount),
                                     ({"amount": 5, "key": ""}, InvalidInput),
                                     ({"amount": 5, "category": "gift"}, InvalidInput),
                                     ({"amount": 5, "hold_id": "bad id!"}, InvalidInput)])
def test_bad_input_writes_nothing(db, kw, exc):
    credit(db, "u1", 100, "seed")
    before = ledger.get_wallet(db, "u1")
    with pytest.raises(exc):
        ledger.debit_owing(db, "u1", **{"key": "k", **kw})
    assert ledger.get_wallet(db, "u1") == before and ledger.find_entry(db, "k") is None
