"""Each customer's calls by day: documents per user and UTC day that list the calls started that day,
so a page of call history is a few reads by `_id` (the day, then its calls) instead of a query over the
calls collection. On the embedded engine every query other than by `_id` reads the whole collection: a
one-day window of one user's calls cost 0.6 s at 100k calls, a page of history two or three of them.

A day is a run of chunks `{"_id": "<user>:<YYYY-MM-DD>[#k]", "n": ..., "c": ["<started_ms>|<call_id>|
<campaign_id>|<to_number>", ...]}` of at most CAP entries: an update re-encodes its whole document (7 ms
at 30 entries, 76 ms at 500, 308 ms at 2,000), so one document per day made each call start of a busy
campaign day slower than the last. An entry is one string because the engine encodes a string in one step
and a list element by element: a note into a half-full chunk took 11.5 ms with lists, 5.1 ms with strings.
Chunks written before that hold lists; `parse` reads both. Chunk k+1 is opened only once chunk k is full (`n`, which
only grows, reaches CAP), so a reader stops at the first chunk that is not full.

An entry is added right after its call is inserted, again when a refused or failed call starts over
(under its new start time: the old entry no longer matches the call and is skipped), and by recovery
for a call a crash left without one. A repeat is a no-op within a chunk and dropped by the reader
across chunks. Databases from before this index are filled once by `backfill` (services.db.ensure_schema).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from pymongo.errors import DuplicateKeyError

from services import clock
from services.db import client_of, insert_new

CAP = 100  # entries per chunk: a note re-encodes its chunk, a reader pays a round trip per chunk
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FILLED = "~backfilled"  # the marker of a finished backfill (no user id has "~" followed by no ":")


def ms(t: datetime) -> int:
    """Milliseconds since the epoch, exactly (BSON keeps milliseconds: a call read back gives the same)."""
    return (clock.as_utc(t) - _EPOCH) // timedelta(milliseconds=1)


def from_ms(n: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=n)


def key(user_id: str, day: date, chunk: int = 0) -> str:
    base = f"{user_id}:{day.isoformat()}"
    return base if chunk == 0 else f"{base}#{chunk}"


def entry(call: dict) -> str:
    """The stored form of a call's entry (call ids and campaign ids have no "|"; the number comes last)."""
    return f"{ms(call['started_at'])}|{call['_id']}|{call.get('campaign_id') or ''}|{call.get('to_number') or ''}"


def parse(e: str | list) -> list:
    """[started_ms, call_id, to_number, campaign_id] of a stored entry (a string, or a list as chunks
    written before entries were strings hold)."""
    if not isinstance(e, str):
        return list(e)
    started, call_id, campaign, number = e.split("|", 3)
    return [int(started), call_id, number, campaign or None]


_open: dict[tuple, int] = {}  # (database, user, day) -> the chunk this process last wrote to


def note(db, call: dict) -> None:
    """List `call` under the day it started: one guarded write into the day's open chunk."""
    user, day, e = call["user_id"], clock.as_utc(call["started_at"]).date(), entry(call)
    k_open = (db.name, id(client_of(db)), user, day)
    k = _open.get(k_open, 0)
    for _ in range(10_000):  # a day of 500,000 calls; a loop that cannot end is worse than an error
        try:
            db.call_days.update_one({"_id": key(user, day, k), "n": {"$lt": CAP}},
                                {"$addToSet": {"c": e}, "$inc": {"n": 1}}, upsert=True)
        except DuplicateKeyError:  # chunk k exists and is full, or another process has just opened it
            doc = db.call_days.find_one({"_id": key(user, day, k)}, {"n": 1})
            if doc is not None and doc.get("n", CAP) >= CAP:  # (no "n": a day listed before chunks, taken as full)
                k += 1
            continue
        if len(_open) >= 10_000:  # a key per user and day: a long-lived process forgets the old ones
            _open.clear()
        _open[k_open] = k
        return
    raise RuntimeError(f"call day {key(user, day)} has no open chunk")


def day_entries(db, user_id: str, day: date) -> list[list]:
    """The day's entries as [started_ms, call_id, to_number, campaign_id], newest first."""
    found: dict[tuple, list] = {}
    k = 0
    while (doc := db.call_days.find_one({"_id": key(user_id, day, k)})) is not None:
        found.update(((e[0], e[1]), e) for e in map(parse, doc.get("c") or []))
        if doc.get("n", CAP) < CAP:  # a chunk that is not full is the day's last
            break
        k += 1
    return sorted(found.values(), key=lambda e: (e[0], e[1]), reverse=True)


def chunks(user_id: str, day: date, entries: list[str]) -> list[dict]:
    """A whole day written at once (backfill, benchmark seeding): full chunks, then the open one."""
    entries = sorted(entries, key=lambda e: parse(e)[:2])
    return [{"_id": key(user_id, day, i // CAP), "n": len(entries[i:i + CAP]), "c": entries[i:i + CAP]}
            for i in range(0, len(entries), CAP)]


_first: dict[tuple, date] = {}  # (database, user) -> the first day they called: it never moves


def first_day(db, user_id: str) -> date | None:
    """The first day the user placed a call on, or None (no call yet). How far back a walk goes; found by
    a query once per process, then checked by one read of that day."""
    k = (db.name, id(client_of(db)), user_id)
    day = _first.get(k)
    if day is not None and db.call_days.find_one({"_id": key(user_id, day)}, {"_id": 1}) is not None:
        return day
    docs = list(db.call_days.find({"_id": {"$gte": f"{user_id}:", "$lt": f"{user_id};"}}, {"_id": 1})
                .sort("_id", 1).limit(1))
    if not docs:
        return None  # not remembered: the first call may come at any moment
    _first[k] = date.fromisoformat(docs[0]["_id"].rsplit(":", 1)[1][:10])  # a day's chunk 0 sorts first
    return _first[k]


def matches(call: dict | None, e: list, user_id: str) -> bool:
    """Whether entry `e` still describes `call` (a call that started over has a newer entry)."""
    return call is not None and call.get("user_id") == user_id and ms(call["started_at"]) == e[0]


def backfill(db, batch: int = 2000) -> int:
    """List every call of a database from before this index, once; returns the number listed."""
    if db.call_days.find_one({"_id": _FILLED}) is not None:
        return 0
    days: dict[tuple, list] = {}
    n = 0
    for call in db.calls.find({}, {"user_id": 1, "started_at": 1, "to_number": 1, "campaign_id": 1},
                              batch_size=batch):
        if call.get("started_at") is None or not call.get("user_id"):
            continue
        days.setdefault((call["user_id"], clock.as_utc(call["started_at"]).date()), []).append(call)
        n += 1
    for (user, day), found in days.items():
        # A new day in whole chunks; a day a running start has just listed takes its calls one by one.
        if db.call_days.find_one({"_id": key(user, day)}, {"_id": 1}) is not None or \
                not all(insert_new(db.call_days, d) for d in chunks(user, day, [entry(c) for c in found])):
            for c in found:
                note(db, dict(c, user_id=user))
    insert_new(db.call_days, {"_id": _FILLED, "calls": n, "at": clock.now()})  # another process may have too
    _first.clear()
    _open.clear()
    return n
