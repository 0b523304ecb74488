"""Each customer's calls by day: one document per user and UTC day that lists the calls started that day,
so a page of call history is a few reads by `_id` (the day, then its calls) instead of a query over the
calls collection. On the embedded engine every query other than by `_id` reads the whole collection: a
one-day window of one user's calls cost 0.6 s at 100k calls, a page of history two or three of them.

A day is `{"_id": "<user>:<YYYY-MM-DD>", "c": [[started_ms, call_id, to_number, campaign_id], ...]}`.
An entry is added right after its call is inserted, again when a refused or failed call starts over
(under its new start time: the old entry no longer matches the call and is skipped), and by recovery
for a call a crash left without one. `$addToSet` makes each repeat a no-op. Databases from before this
index are filled once by `backfill` (services.db.ensure_schema).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from services import clock
from services.db import client_of, insert_new

COLL = "call_days"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FILLED = "~backfilled"  # the marker of a finished backfill (no user id has "~" followed by no ":")


def ms(t: datetime) -> int:
    """Milliseconds since the epoch, exactly (BSON keeps milliseconds: a call read back gives the same)."""
    return (clock.as_utc(t) - _EPOCH) // timedelta(milliseconds=1)


def from_ms(n: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=n)


def key(user_id: str, day: date) -> str:
    return f"{user_id}:{day.isoformat()}"


def entry(call: dict) -> list:
    return [ms(call["started_at"]), call["_id"], call.get("to_number") or "", call.get("campaign_id")]


def note(db, call: dict) -> None:
    """List `call` under the day it started (idempotent)."""
    day = clock.as_utc(call["started_at"]).date()
    db[COLL].update_one({"_id": key(call["user_id"], day)}, {"$addToSet": {"c": entry(call)}}, upsert=True)


def day_entries(db, user_id: str, day: date) -> list[list]:
    """The day's entries, newest first."""
    doc = db[COLL].find_one({"_id": key(user_id, day)})
    return sorted((e for e in (doc or {}).get("c") or []), key=lambda e: (e[0], e[1]), reverse=True)


_first: dict[tuple, date] = {}  # (database, user) -> the first day they called: it never moves


def first_day(db, user_id: str) -> date | None:
    """The first day the user placed a call on, or None (no call yet). How far back a walk goes; found by
    a query once per process, then checked by one read of that day."""
    k = (db.name, id(client_of(db)), user_id)
    day = _first.get(k)
    if day is not None and db[COLL].find_one({"_id": key(user_id, day)}, {"_id": 1}) is not None:
        return day
    docs = list(db[COLL].find({"_id": {"$gte": f"{user_id}:", "$lt": f"{user_id};"}}, {"_id": 1})
                .sort("_id", 1).limit(1))
    if not docs:
        return None  # not remembered: the first call may come at any moment
    _first[k] = date.fromisoformat(docs[0]["_id"].rsplit(":", 1)[1])
    return _first[k]


def matches(call: dict | None, e: list, user_id: str) -> bool:
    """Whether entry `e` still describes `call` (a call that started over has a newer entry)."""
    return call is not None and call.get("user_id") == user_id and ms(call["started_at"]) == e[0]


def backfill(db, batch: int = 2000) -> int:
    """List every call of a database from before this index, once; returns the number listed."""
    if db[COLL].find_one({"_id": _FILLED}) is not None:
        return 0
    days: dict[str, list] = {}
    n = 0
    for call in db.calls.find({}, {"user_id": 1, "started_at": 1, "to_number": 1, "campaign_id": 1},
                              batch_size=batch):
        if call.get("started_at") is None or not call.get("user_id"):
            continue
        days.setdefault(key(call["user_id"], clock.as_utc(call["started_at"]).date()), []).append(entry(call))
        n += 1
    for k, entries in days.items():
        # A new day whole (an $addToSet of a thousand entries compares each with all: minutes at 100k calls);
        # a day a running start has just listed merges.
        if not insert_new(db[COLL], {"_id": k, "c": entries}):
            db[COLL].update_one({"_id": k}, {"$addToSet": {"c": {"$each": entries}}})
    insert_new(db[COLL], {"_id": _FILLED, "calls": n, "at": clock.now()})  # another process may have too
    _first.clear()
    return n
