"""services.ledger.feed: which wallets changed since a time, through the `updated_at` index; and the worker
steps that read it, whose quiet passes read no wallet (recovery, documents, alerts, auto-recharge's
planner, the staff views).

Each reader keeps the time its last pass began: a pass costs the wallets that moved since, not every
wallet. The range starts `LATE` earlier (a write lands a moment after the time it carries); a reader with
no time, or one ahead of the clock, walks every wallet once.
"""
from __future__ import annotations

from datetime import timedelta

from services import accounts, clock, ledger
from services.autorecharge import mandates, planner
from services.ledger import feed
from scripts import worker


def _post(db, uid: str, key: str, amount: int = 1_000) -> None:
    ledger.post(db, uid, key=key, type="credit", category="recharge", amount=amount)


def test_the_wallets_changed_since_a_time(db, monkeypatch):
    for u in ("amy", "bob", "cat"):
        _post(db, u, f"f-{u}")
    assert {c.user_id for c in ledger.changed(db, None)} == {"amy", "bob", "cat"}  # no time yet: every wallet
    later = clock.now() + 2 * ledger.LATE
    monkeypatch.setattr(clock, "now", lambda: later)
    since = clock.now()
    assert list(ledger.changed(db, since)) == [] and ledger.count_changed(db, since) == 0
    _post(db, "bob", "b2")
    [c] = ledger.changed(db, since)
    assert (c.user_id, c.entries, c.balance) == ("bob", 2, 2_000) and c.updated_at == clock.now()
    assert ledger.count_changed(db, since) == 1
    # a write landing after the reader's time, carrying a time up to LATE before it, is still seen
    monkeypatch.setattr(clock, "now", lambda: later - ledger.LATE / 2)
    _post(db, "cat", "c2")
    monkeypatch.setattr(clock, "now", lambda: later)
    assert {c.user_id for c in ledger.changed(db, since)} == {"bob", "cat"}
    # a time ahead of the clock (the clock was set back): every wallet, once
    assert len(list(ledger.changed(db, clock.now() + timedelta(days=1)))) == 3


def test_pages_tell_equal_times_apart(edb, monkeypatch):
    """Wallets changed at the same instant across a page's edge are each given once, in both directions."""
    monkeypatch.setattr(feed, "PAGE", 4)
    t = clock.now()
    monkeypatch.setattr(clock, "now", lambda: t)  # eleven wallets, one instant
    for i in range(11):
        _post(edb, f"w{i:02d}", f"k{i}")
    got = [c.user_id for c in ledger.changed(edb, t)]
    assert sorted(got) == [f"w{i:02d}" for i in range(11)]
    newest = [c.user_id for c in ledger.changed_newest_first(edb, t - timedelta(seconds=1))]
    assert sorted(newest) == sorted(got) and len(newest) == 11


def test_a_quiet_tick_reads_no_wallet(edb, monkeypatch):
    """The worker's steps read the feed: once caught up, a tick on a quiet platform reads no wallet, and
    one posting makes the next tick read that wallet only (once per step that follows it)."""
    for u in ("amy", "bob", "cat", "dan"):
        accounts.create_user(edb, u, "password-xyz-1", u.title(), f"{u}@example.com")
        _post(edb, u, f"f-{u}", 50_000)
    worker.tick(edb)  # first passes: every wallet
    later = clock.now() + 2 * ledger.LATE
    monkeypatch.setattr(clock, "now", lambda: later)
    worker.tick(edb)  # may read the last moments before the jump again, once
    seen = []
    real = feed.view
    monkeypatch.setattr(feed, "view", lambda w: seen.append(w["_id"]) or real(w))
    real_docs = feed.changed_docs
    monkeypatch.setattr(feed, "changed_docs", lambda db, since, fields: [seen.append(w["_id"]) or w for w in
                                                                         real_docs(db, since, fields)])
    worker.tick(edb)
    assert seen == []
    ledger.post(edb, "cat", key="c1", type="debit", category="call", amount=100)
    worker.tick(edb)
    assert set(seen) == {"cat"}


def test_the_planner_looks_again_only_at_what_may_have_changed_its_answer(edb, monkeypatch):
    """Auto-recharge: a mandate is planned for when its wallet changed, it changed itself, or a cap that
    refused reopened; never because time passed on a quiet wallet."""
    t = [clock.now()]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    _post(edb, "amy", "f", 10_000)
    edb.autorecharge_mandates.insert_many([{"_id": "amy", "user_id": "amy", "no": 1, "state": mandates.ACTIVE,
                                            "updated_at": t[0], "in_flight": None}])
    assert [m["_id"] for m in planner.candidates(edb, t[0])] == ["amy"]  # the first pass: every active one
    planner.passed(edb, t[0])

    def step():  # later than the allowance for late writes: what happened before is out of the range
        t[0] += 2 * ledger.LATE
        found = [m["_id"] for m in planner.candidates(edb, t[0])]
        planner.passed(edb, t[0])
        return found

    assert step() == ["amy"]  # still within LATE of the first pass
    assert step() == []  # a quiet wallet, time passing: nothing to look at
    _post(edb, "amy", "g", 100)  # the wallet changed
    assert step() == ["amy"] and step() == []
    m = mandates.get(edb, "amy")
    mandates.set_plan_again(edb, m, t[0] + ledger.LATE)  # a cap refused; it reopens at the next step
    assert step() == ["amy"]
    mandates.set_plan_again(edb, m, None)
    assert step() == []
    mandates.update(edb, m, {"threshold_paise": 5_000})  # the customer changed a setting
    assert step() == ["amy"] and step() == []
