"""The call history's by-day index (services.calls.days): every call listed once under the day it started,
whatever crashes and retries happen; pages across days, filters and budgets that lose nothing; and the
backfill of a database from before the index."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from services import calls, clock, db as dbmod, ledger
from services.calls import days
from services.errors import InsufficientBalance, InvalidInput
from tests.support import processes

KB = "kb_sales"
T0 = datetime(2026, 11, 20, 23, 30, tzinfo=timezone.utc)


class Crash(BaseException):
    """Stands for the process dying at this point."""


@pytest.fixture
def clockwork(monkeypatch):
    """clock.now() under the test's control: `t[0]`."""
    t = [T0]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    return t


def fund(db, uid, paise):
    ledger.post(db, uid, key=f"fund-{uid}", type="credit", category="recharge", amount=paise)


def place(db, uid, n, **kw):
    g = calls.start_call(db, uid, f"+9198765{n:05d}", KB, 1, **kw)
    if g["status"] == "active":
        calls.end_call(db, uid, g["call_id"], 10)
    return g["call_id"]


def place_series(db, clockwork, uid, n, every_hours):
    """Fund `uid` and place `n` calls, one every `every_hours` from T0; their ids, oldest first."""
    fund(db, uid, 100_000)
    placed = []
    for i in range(n):
        clockwork[0] = T0 + timedelta(hours=every_hours * i)
        placed.append(place(db, uid, i))
    return placed


def walk(db, uid, f=calls.Filters(), limit=2, budget=400):
    """Every page from the first, following cursors: the call ids in order and the number of pages."""
    out, cursor, pages = [], None, 0
    while True:
        page, cursor = calls.history(db, uid, f, before=cursor, limit=limit, budget=budget)
        out += [c["call_id"] for c in page]
        pages += 1
        if cursor is None:
            return out, pages
        assert pages < 200, "the cursor does not move"


def test_pages_cross_days_newest_first_and_lose_nothing(db, clockwork):
    placed = place_series(db, clockwork, "asha", 7, 5)  # a call every 5 hours: across three UTC days
    got, pages = walk(db, "asha", limit=2)
    assert got == placed[::-1] and pages == 4
    assert walk(db, "asha", calls.filters(number="98765 00003"))[0] == [placed[3]]
    since = calls.filters(start=T0 + timedelta(hours=9), end=T0 + timedelta(hours=21))
    assert walk(db, "asha", since)[0] == placed[2:5][::-1]


def test_a_rare_status_over_a_small_budget_comes_back_short_and_finds_everything(db, clockwork):
    placed = place_series(db, clockwork, "asha", 12, 3)
    got, pages = walk(db, "asha", calls.filters(status="completed"), limit=50, budget=4)
    assert got == placed[::-1] and pages > 3
    none, _ = walk(db, "asha", calls.filters(status="refused"), limit=50, budget=4)
    assert none == []


def test_a_start_that_died_before_listing_its_call_is_listed_by_its_retry_or_by_recovery(edb, clockwork, monkeypatch):
    fund(edb, "asha", 100_000)
    real = days.note

    def die(*_a, **_k):
        raise Crash()

    monkeypatch.setattr(days, "note", die)
    with pytest.raises(Crash):
        calls.start_call(edb, "asha", "+919876500001", KB, 1, call_id="retried")
    with pytest.raises(Crash):
        calls.start_call(edb, "asha", "+919876500002", KB, 1, call_id="abandoned")
    monkeypatch.setattr(days, "note", real)
    assert walk(edb, "asha")[0] == []
    calls.start_call(edb, "asha", "+919876500001", KB, 1, call_id="retried")   # the client repeats it
    assert walk(edb, "asha")[0] == ["retried"]
    clockwork[0] = T0 + timedelta(minutes=5)
    calls.recover_stale_calls(edb)
    assert sorted(walk(edb, "asha")[0]) == ["abandoned", "retried"]
    assert calls.get_call(edb, "asha", "abandoned")["status"] == "failed"


def test_a_refused_call_started_over_is_listed_once_at_its_new_time(edb, clockwork):
    with pytest.raises(InsufficientBalance):
        calls.start_call(edb, "asha", "+919876500001", KB, 1, call_id="again")   # nothing in the wallet
    fund(edb, "asha", 100_000)
    clockwork[0] = T0 + timedelta(days=2)
    calls.start_call(edb, "asha", "+919876500001", KB, 1, call_id="again")
    page, _ = calls.history(edb, "asha")
    assert [(c["call_id"], c["started_at"], c["status"]) for c in page] == [("again", clockwork[0], "active")]
    assert len(edb.call_days.find_one({"_id": days.key("asha", T0.date())})["c"]) == 1  # the stale entry stays


def test_backfill_lists_the_calls_of_a_database_from_before_the_index(db, clockwork):
    placed = place_series(db, clockwork, "asha", 5, 7)
    db.call_days.delete_many({})            # as a database from before the index
    assert walk(db, "asha")[0] == []
    assert days.backfill(db) == 5
    assert walk(db, "asha")[0] == placed[::-1]
    assert days.backfill(db) == 0            # once
    clockwork[0] = T0 + timedelta(hours=36)
    assert walk(db, "asha")[0][0] == placed[-1]


def bare_call(uid, i, at=T0):
    """A call document as days.note reads it (no wallet, no ledger: the index alone)."""
    return {"_id": f"{uid}-{i:05d}", "user_id": uid, "started_at": at + timedelta(seconds=i), "to_number": "+91",
            "campaign_id": None}


def chunk_sizes(db, uid, day):
    docs = sorted(db.call_days.find({"_id": {"$gte": days.key(uid, day), "$lt": days.key(uid, day) + "$"}}),
                  key=lambda d: int(d["_id"].partition("#")[2] or 0))
    return [(d["n"], len(d["c"])) for d in docs]


def test_a_busy_day_grows_in_bounded_chunks_and_reads_back_whole(edb):
    n = 2 * days.CAP + 7  # a note re-encodes its chunk: one growing document made each call slower than the last
    for i in range(n):
        days.note(edb, bare_call("asha", i))
    days._open.clear()                                   # a fresh process finds the open chunk
    days.note(edb, bare_call("asha", n))
    days.note(edb, bare_call("asha", 3))                 # a repeat: written again (into the open chunk), read once
    assert chunk_sizes(edb, "asha", T0.date()) == [(days.CAP, days.CAP)] * 2 + [(9, 9)]
    got = days.day_entries(edb, "asha", T0.date())
    assert [e[1] for e in got] == [f"asha-{i:05d}" for i in range(n, -1, -1)]


def _note_many(path, uid, lo, hi, start):
    db = dbmod.open_db(uri="", name="wallet", path=path)
    start.wait(60)
    try:
        for i in range(lo, hi):
            days.note(db, bare_call(uid, i))
    finally:
        dbmod.client_of(db).close()


def test_threads_and_processes_noting_one_day_list_every_call_once(tmp_path):
    path = str(tmp_path / "days.sqlite")
    db = dbmod.open_db(uri="", name="wallet", path=path)
    start = processes.warm().Barrier(4)
    procs = [processes.start(_note_many, path, "asha", 60 * k, 60 * (k + 1), start) for k in (0, 1)]
    threads = [threading.Thread(target=_note_many, args=(path, "asha", 60 * k, 60 * (k + 1), start)) for k in (2, 3)]
    for t in threads:
        t.start()
    for w in procs + threads:
        w.join(300)
    assert [p.exitcode for p in procs] == [0, 0]
    sizes = chunk_sizes(db, "asha", T0.date())
    assert all(listed <= n <= days.CAP for n, listed in sizes) and all(n == days.CAP for n, _ in sizes[:-1])
    assert sorted(e[1] for e in days.day_entries(db, "asha", T0.date())) == [f"asha-{i:05d}" for i in range(240)]


def test_backfill_writes_a_busy_day_in_chunks(db):
    db.call_days.delete_many({})  # as a database from before the index
    db.calls.insert_many([bare_call("asha", i) for i in range(days.CAP + 1)])
    assert days.backfill(db) == days.CAP + 1
    assert chunk_sizes(db, "asha", T0.date()) == [(days.CAP, days.CAP), (1, 1)]
    assert len(days.day_entries(db, "asha", T0.date())) == days.CAP + 1


def test_malformed_cursors_are_refused():
    for bad in ("nonsense", "2026-13-01T00:00:00|c1", "2026-11-20T00:00:00|bad id!"):
        with pytest.raises(InvalidInput):
            calls.history(None, "asha", before=bad)


def test_entries_are_stored_as_strings_and_chunks_of_lists_still_read(edb):
    """An entry is one string (a note re-encodes its chunk, and the engine encodes a list element by
    element); chunks written before then hold lists and read the same."""
    legacy = [[days.ms(T0 + timedelta(seconds=i)), f"asha-{i:05d}", "+919876500001", "cmp1" if i else None]
              for i in range(2)]
    edb.call_days.insert_many([{"_id": days.key("asha", T0.date()), "n": 2, "c": legacy}])
    call = dict(bare_call("asha", 2), to_number="+919876500002", campaign_id="cmp2")
    days.note(edb, call)
    stored = edb.call_days.find_one({"_id": days.key("asha", T0.date())})["c"]
    assert stored[:2] == legacy and stored[2] == f"{days.ms(call['started_at'])}|asha-00002|cmp2|+919876500002"
    assert days.parse(stored[2]) == [days.ms(call["started_at"]), "asha-00002", "+919876500002", "cmp2"]
    assert days.day_entries(edb, "asha", T0.date()) == [days.parse(e) for e in reversed(stored)]
    assert days.parse(days.entry(bare_call("ravi", 1)))[3] is None  # no campaign reads back as None
