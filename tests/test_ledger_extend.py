"""services.ledger.holds.extend (a call's next slice) and hold's limit on open holds: the room and the
daily cap are checked inside the compare-and-set; each (hold, step) applies once."""
from __future__ import annotations

import threading

import pytest

from services import ledger
from services.errors import (Conflict, InsufficientBalance, InvalidAmount, InvalidInput, NotFound, SpendCapReached,
                             TooManyCalls)


def credit(db, uid, paise, key="rch"):
    ledger.post(db, uid, key=key, type="credit", category="recharge", amount=paise)


def test_racing_extensions_never_hold_more_than_the_balance_or_the_cap(db):
    credit(db, "x", 10_000)
    for i in range(8):
        ledger.hold(db, "x", f"h{i}", 500)
    out, errors = {}, []

    def grow(i):
        try:
            out[i] = [ledger.extend(db, "x", f"h{i}", 700, step=s, min_amount=0, daily_cap=9_000)
                      for s in (1, 2)]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
    ts = [threading.Thread(target=grow, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    w = ledger.get_wallet(db, "x")
    assert w.held == sum(h.amount for h in w.holds.values()) == 9_000  # the cap, to the paisa
    assert sorted(out[i][-1] for i in out) == sorted(h.amount for h in w.holds.values())
    assert ledger.audit(db) == []


def test_extend_is_idempotent_per_step_and_exact_without_a_minimum(edb):
    credit(edb, "y", 5_000)
    ledger.hold(edb, "y", "c1", 1_000)
    assert ledger.extend(edb, "y", "c1", 1_000, step=1) == 2_000
    assert ledger.extend(edb, "y", "c1", 1_000, step=1) == 2_000  # the same step again: nothing more
    assert ledger.extend(edb, "y", "c1", 999, step=3) == 2_999     # a later step: applied
    assert ledger.extend(edb, "y", "c1", 1_000, step=2) == 2_999   # an older one: a repeat
    with pytest.raises(InsufficientBalance) as exc:                # exact: all of it or nothing
        ledger.extend(edb, "y", "c1", 2_500, step=4)
    assert exc.value.available == 2_001
    assert ledger.extend(edb, "y", "c1", 2_500, step=4, min_amount=0) == 5_000  # what is left
    assert ledger.extend(edb, "y", "c1", 100, step=5, min_amount=0) == 5_000     # nothing left: recorded
    assert ledger.extend(edb, "y", "c1", 100, step=5, min_amount=0) == 5_000
    with pytest.raises(InsufficientBalance):
        ledger.extend(edb, "y", "c1", 100, step=6, min_amount=1)
    e = ledger.settle(edb, "y", "c1", 4_321, key="call:c1")
    assert e["amount"] == 4_321 and ledger.get_wallet(edb, "y").held == 0
    with pytest.raises(Conflict):  # resolved
        ledger.extend(edb, "y", "c1", 100, step=7, min_amount=0)
    with pytest.raises(NotFound):
        ledger.extend(edb, "y", "nope", 100, step=1)
    for bad in (dict(more=0, step=1), dict(more=100, step=0), dict(more=100, step=True), dict(more=1.5, step=1),
                dict(more=100, step=1, min_amount=-1), dict(more=100, step=1, daily_cap="9")):
        with pytest.raises((InvalidInput, InvalidAmount)):
            ledger.extend(edb, "y", "c1", **bad)
    assert ledger.audit(edb) == []


def test_the_daily_cap_binds_an_extension_like_a_hold(edb):
    credit(edb, "z", 50_000)
    ledger.hold(edb, "z", "c1", 3_000)
    with pytest.raises(SpendCapReached) as exc:
        ledger.extend(edb, "z", "c1", 3_000, step=1, daily_cap=5_000)
    assert (exc.value.cap, exc.value.wanted) == (5_000, 3_000)
    assert ledger.extend(edb, "z", "c1", 3_000, step=1, daily_cap=5_000, min_amount=0) == 5_000
    assert ledger.get_wallet(edb, "z").held == 5_000 and ledger.audit(edb) == []


def test_hold_refuses_past_the_open_holds_limit(edb):
    credit(edb, "m", 50_000)
    ledger.hold(edb, "m", "a", 100, max_open=2)
    ledger.hold(edb, "m", "b", 100, max_open=2)
    assert ledger.hold(edb, "m", "b", 100, max_open=2) == 100  # the same hold again: not a new one
    with pytest.raises(TooManyCalls) as exc:
        ledger.hold(edb, "m", "c", 100, max_open=2)
    assert exc.value.limit == 2 and ledger.get_wallet(edb, "m").held == 200
    ledger.release(edb, "m", "a")
    assert ledger.hold(edb, "m", "c", 100, max_open=2) == 100
    with pytest.raises(InvalidInput):
        ledger.hold(edb, "m", "d", 100, max_open=0)
    assert ledger.audit(edb) == []
