"""What an operation keeps with its hold (services.ledger.holdstate): its state rides in the same
compare-and-set as the money, a state value only grows, a settle decided on a state never bills over a
later one, and a voided hold id refuses a late hold (the calls layer's start/recovery race)."""
from __future__ import annotations

import threading

import pytest

from services import ledger
from services.errors import Conflict, InvalidAmount, NotFound


def _credit(db, uid, paise):
    ledger.post(db, uid, key=f"c-{uid}", type=ledger.CREDIT, category="recharge", amount=paise)


def test_state_rides_with_the_hold_and_its_extension(edb):
    _credit(edb, "s", 10000)
    ledger.hold(edb, "s", "h1", 1000, state={"target": 60, "usage": 0})
    h = ledger.get_wallet(edb, "s").holds["h1"]
    assert (h.amount, h.step, h.state) == (1000, 0, {"target": 60, "usage": 0})
    seq = ledger.get_wallet(edb, "s").seq
    assert ledger.extend(edb, "s", "h1", 500, step=1, state={"target": 90, "usage": 55}) == 1500
    w = ledger.get_wallet(edb, "s")
    assert (w.seq, w.held, w.holds["h1"].step, w.holds["h1"].state) == (seq + 1, 1500, 1, {"target": 90, "usage": 55})
    # A step of nothing more still moves the state; a repeated step changes nothing.
    assert ledger.extend(edb, "s", "h1", 0, step=2, state={"target": 120, "usage": 80}) == 1500
    assert ledger.extend(edb, "s", "h1", 700, step=2, state={"target": 999, "usage": 999}) == 1500
    assert ledger.get_wallet(edb, "s").holds["h1"].state == {"target": 120, "usage": 80}
    with pytest.raises(InvalidAmount):
        ledger.extend(edb, "s", "h1", 0, step=3)  # nothing to hold and nothing to record: bad input
    assert ledger.audit(edb) == []


def test_note_hold_only_raises_and_writes_only_when_it_does(edb):
    _credit(edb, "n", 10000)
    ledger.hold(edb, "n", "h", 1000, state={"usage": 10})
    seq = ledger.get_wallet(edb, "n").seq
    assert ledger.note_hold(edb, "n", "h", "usage", 5) == 10
    assert ledger.get_wallet(edb, "n").seq == seq  # lower: no write
    assert ledger.note_hold(edb, "n", "h", "usage", 40) == 40
    out: list[int] = []
    ts = [threading.Thread(target=lambda v=v: out.append(ledger.note_hold(edb, "n", "h", "usage", v)))
          for v in (70, 50, 60, 45)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    w = ledger.get_wallet(edb, "n")
    assert w.holds["h"].state == {"usage": 70} and (w.balance, w.held) == (10000, 1000)
    with pytest.raises(NotFound):
        ledger.note_hold(edb, "n", "nope", "usage", 1)
    ledger.release(edb, "n", "h")
    with pytest.raises(Conflict):
        ledger.note_hold(edb, "n", "h", "usage", 99)
    assert ledger.audit(edb) == []


def test_settle_with_expect_refuses_a_hold_that_moved(edb):
    _credit(edb, "e", 10000)
    ledger.hold(edb, "e", "h", 2000, state={"usage": 30})
    ledger.note_hold(edb, "e", "h", "usage", 45)  # an update lands after the state was read
    with pytest.raises(Conflict):
        ledger.settle(edb, "e", "h", 500, key="k-e", expect={"step": 0, "usage": 30})
    w = ledger.get_wallet(edb, "e")
    assert (w.balance, w.held) == (10000, 2000)  # nothing moved
    e = ledger.settle(edb, "e", "h", 750, key="k-e", expect={"step": 0, "usage": 45})
    assert e is not None and e["amount"] == 750
    w = ledger.get_wallet(edb, "e")
    assert (w.balance, w.held, w.resolved("h")) == (9250, 0, e["_id"])
    assert ledger.audit(edb) == []


def test_a_voided_hold_id_refuses_a_late_hold_and_an_open_one_is_left_alone(edb):
    _credit(edb, "v", 10000)
    assert ledger.void_hold(edb, "v", "late") is None
    assert ledger.get_wallet(edb, "v").resolved("late") == ""
    with pytest.raises(Conflict):
        ledger.hold(edb, "v", "late", 1000)
    ledger.hold(edb, "v", "first", 1000)
    h = ledger.void_hold(edb, "v", "first")  # the hold came first: it stays open
    assert h is not None and h.amount == 1000 and ledger.get_wallet(edb, "v").held == 1000
    seq = ledger.get_wallet(edb, "v").seq
    assert ledger.void_hold(edb, "v", "late") is None and ledger.get_wallet(edb, "v").seq == seq  # no second write
    ledger.release(edb, "v", "first")
    w = ledger.get_wallet(edb, "v")
    assert (w.balance, w.held) == (10000, 0) and ledger.audit(edb) == []
