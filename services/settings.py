"""Product settings with their defaults; every change records who, when, old, new and when it takes effect.

A change takes effect at a time the admin chooses (default: now), so customers can be told in advance.
Each settings document (`settings/global`, `settings/user:{id}`, `settings/plans`) keeps, per name, a
timeline `sched.{name}`: the changes in effect order, each {id, at, value}. The value in force at t is
the last change at or before t; a document written before timelines existed keeps its plain field as
the value before every change. Writing a change folds away those past their time except the one in
force, so a timeline stays a few entries long. Writes are a compare-and-set on the document's `v`.
"""
from __future__ import annotations

import threading
import time
import uuid
from datetime import MINYEAR, datetime, timedelta, timezone

from services import clock
from services.checks import whole_number
from services.db import insert_new
from services.errors import InvalidInput, NotFound
from services.money import DEFAULT_MAX_PAISE

# The longest call anyone may ask for, in minutes (calls and campaigns check requests against it).
COLLECTIONS: dict[str, list] = {"settings": [], "settings_history": [[("at", -1)]]}
MAX_CALL_MINUTES = 240

# The product's rules, in one place.
DEFAULTS = {
    "call_rate_paise": 1000,          # Rs. 10 per minute (the standard plan's rate)
    "min_call_balance_paise": 1000,   # Rs. 10 needed to start a call
    "min_recharge_paise": 1000,       # Rs. 10 smallest recharge
    "low_balance_paise": 2000,        # warn below Rs. 20
    "max_amount_paise": DEFAULT_MAX_PAISE,  # Rs. 1,00,000 per operation
    "default_call_minutes": 10,       # a call may run this many minutes unless told otherwise
    "call_slice_seconds": 300,        # a call is authorised (held for) this many seconds at a time
    "silent_call_grace_seconds": 120,  # after its last authorised second, a silent call is closed
    "max_concurrent_calls": 10,       # simultaneous calls per customer, unless set for them
    "refund_approval_required": 0,    # 1: a self-serve refund waits for an admin's approval
    "paid_validity_days": 0,          # a recharge's lot expires this many days after it (0: never)
}
# What an admin may set, and the bounds that keep a typo from becoming a disaster.
CALL_RATE_MAX_PAISE = 100_000
_BOUNDS = {
    "call_rate_paise": (1, CALL_RATE_MAX_PAISE),
    "min_call_balance_paise": (0, 1_000_000),
    "min_recharge_paise": (100, 1_000_000),
    "low_balance_paise": (0, 10_000_000),
    "max_amount_paise": (100, 100_000_000),
    "default_call_minutes": (1, MAX_CALL_MINUTES),
    "call_slice_seconds": (30, 3600),
    "silent_call_grace_seconds": (30, 3600),
    "max_concurrent_calls": (1, 1000),
    "refund_approval_required": (0, 1),
    "paid_validity_days": (0, 3650),
}
USER_KEYS = ("call_rate_paise", "daily_cap_paise", "max_concurrent_calls")
_USER_BOUNDS = {"call_rate_paise": _BOUNDS["call_rate_paise"], "daily_cap_paise": (1, 10**12),
                "max_concurrent_calls": _BOUNDS["max_concurrent_calls"]}
MAX_AHEAD = timedelta(days=366)
_PAST_SLACK = timedelta(minutes=1)  # a form filled in a minute ago still means "now"


# ---------------------------------------------------------------------------------------- reading

def get(db, at: datetime | None = None) -> dict:
    """Every global setting in force at `at` (default now)."""
    doc = scope_doc(db, "global")
    t = at or clock.now()
    return {k: int(value_at(doc, k, t, v)) for k, v in DEFAULTS.items()}


def user_overrides(db, user_id: str, at: datetime | None = None) -> dict:
    """The user's own settings in force at `at` (call rate, daily spend cap, simultaneous calls)."""
    doc = scope_doc(db, f"user:{user_id}")
    t = at or clock.now()
    out = {}
    for k in USER_KEYS:
        v = value_at(doc, k, t)
        if v is not None:
            out[k] = int(v)
    return out


def limits_for(db, user_id: str) -> dict:
    """What bounds this user's calls now: daily_cap_paise (None: no cap) and max_concurrent_calls."""
    own = user_overrides(db, user_id)
    return {"daily_cap_paise": own.get("daily_cap_paise"),
            "max_concurrent_calls": own.get("max_concurrent_calls") or get(db)["max_concurrent_calls"]}


def scope_doc(db, scope: str) -> dict:
    """A settings document as this process last loaded it (`_docs`): no round trip on the hot path."""
    return _docs(db).get(scope) or {}


# Settings are read on every call and change a few times a day: each process keeps the whole (small)
# settings collection and loads it again when the version stamp `settings/stamp` moves. The stamp is
# checked at most every STAMP_CHECK_SECONDS, so a change made in another process is seen within that;
# a change made in this one at once. A scheduled change needs no reload: value_at reads the timeline.
STAMP_ID = "stamp"
STAMP_CHECK_SECONDS = 1.0
_MAX_AGE_SECONDS = 60.0   # reload even without a new stamp (a writer that died before stamping)
_cache_lock = threading.Lock()
_cache: dict[int, dict] = {}   # id(db) -> {db, docs, stamp, checked, loaded}


def _docs(db) -> dict:
    now = time.monotonic()
    with _cache_lock:
        c = _cache.get(id(db))
    if c is not None and c["db"] is db:
        if now - c["checked"] < STAMP_CHECK_SECONDS:
            return c["docs"]
        if now - c["loaded"] < _MAX_AGE_SECONDS and _stamp(db) == c["stamp"]:
            c["checked"] = now
            return c["docs"]
    stamp = _stamp(db)  # before the documents: a change landing in between is picked up next time
    docs = {d["_id"]: d for d in db.settings.find({"_id": {"$ne": STAMP_ID}})}
    with _cache_lock:
        if len(_cache) > 32:  # tests open many databases; a server one
            _cache.clear()
        _cache[id(db)] = {"db": db, "docs": docs, "stamp": stamp, "checked": now, "loaded": now}
    return docs


def _stamp(db) -> int:
    doc = db.settings.find_one({"_id": STAMP_ID})  # absent until the first change: a read writes nothing
    return int(doc.get("n") or 0) if doc else 0


def note_change(db) -> None:
    """After any write to `settings`: move the stamp (other processes reload) and drop this process's copy."""
    db.settings.update_one({"_id": STAMP_ID}, {"$inc": {"n": 1}}, upsert=True)
    with _cache_lock:
        _cache.pop(id(db), None)


def value_at(doc: dict, name: str, t: datetime, default=None):
    """The value of `name` in force at `t` in a settings document (None value: removed)."""
    found = None
    for e in (doc.get("sched") or {}).get(name) or []:
        if clock.as_utc(e["at"]) > t:
            break
        found = e
    if found is not None:
        return default if found["value"] is None else found["value"]
    plain = doc.get(name)
    return default if plain is None else plain


def ahead(doc: dict, name: str, t: datetime) -> list[dict]:
    """The changes of `name` that take effect after `t`: [{id, at, value}], in effect order."""
    return [dict(e, at=clock.as_utc(e["at"])) for e in (doc.get("sched") or {}).get(name) or []
            if clock.as_utc(e["at"]) > t]


def changes_ahead(db) -> list[dict]:
    """Every change still to take effect, soonest first: [{id, scope, name, at, value}] (the settings
    collection is a few documents: global, plans and the users an admin gave their own terms)."""
    now = clock.now()
    out = [dict(e, scope=doc["_id"], name=name) for doc in db.settings.find({}, {"sched": 1})
           for name in (doc.get("sched") or {}) for e in ahead(doc, name, now)]
    return sorted(out, key=lambda e: e["at"])


def changes_between(db, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """The settings history recorded in [start, end) (either bound may be open), as stored."""
    rng: dict = {}
    if start:
        rng["$gte"] = start
    if end:
        rng["$lt"] = end
    return list(db.settings_history.find({"at": rng} if rng else {}))


def history(db, limit: int = 50) -> list[dict]:
    docs = list(db.settings_history.find({}).sort("at", -1).limit(limit))
    for d in docs:
        d["at"] = clock.as_utc(d["at"])
        d["effective_at"] = clock.as_utc(d.get("effective_at")) or d["at"]
    return docs


# ---------------------------------------------------------------------------------------- writing

def set_value(db, name: str, value: int, *, by: str, at: datetime | None = None) -> dict:
    """Set one global setting (an int in its own unit) from `at` (default now). Returns the record."""
    if name not in _BOUNDS:
        raise InvalidInput(f"Unknown setting {name!r}.")
    lo, hi = _BOUNDS[name]
    whole_number(value, lo, hi, what=name)
    return schedule(db, "global", name, value, by=by, at=at, default=DEFAULTS[name])


def check_user_value(name: str, value: int | None) -> None:
    if name not in USER_KEYS:
        raise InvalidInput(f"Unknown per-user setting {name!r}.")
    if value is not None:
        lo, hi = _USER_BOUNDS[name]
        whole_number(value, lo, hi, what=name, unit="of paise" if name.endswith("_paise") else "")


def check_when(at) -> datetime:
    """When a change takes effect: now (None), or a time up to a year ahead; never in the past."""
    now = clock.now()
    if at is None:
        return now
    if not isinstance(at, datetime):
        raise InvalidInput("The time a change takes effect must be a date and time.")
    try:
        at = clock.as_utc(at)
    except OverflowError:  # 0001-01-01 with a positive offset, 9999-12-31 with a negative one: no UTC instant
        at = (datetime.min.replace(tzinfo=timezone.utc) if at.year == MINYEAR
              else datetime.max.replace(tzinfo=timezone.utc))
    if at < now - _PAST_SLACK:
        raise InvalidInput("A change cannot take effect in the past; choose now or a later time.")
    if at > now + MAX_AHEAD:
        raise InvalidInput("A change can be scheduled at most a year ahead.")
    at = max(at, now)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)  # what BSON keeps


def schedule(db, scope: str, name: str, value, *, by: str, at: datetime | None = None,
             default=None) -> dict:
    """THE writer: `name` of settings document `scope` becomes `value` at `at` (default now), audited
    (who, when recorded, effective when, old value then, new). Callers check the value first."""
    when = check_when(at)
    cid = uuid.uuid4().hex
    entry = {"id": cid, "at": when, "value": value}
    while True:
        doc = db.settings.find_one({"_id": scope})
        old = value_at(doc or {}, name, when, default)
        if doc is None:
            if insert_new(db.settings, {"_id": scope, "v": 1, "sched": {name: [entry]}}):
                break
            continue
        line = _fold(doc, name, entry)
        res = db.settings.update_one({"_id": scope, "v": doc.get("v")},
                                     {"$set": {f"sched.{name}": line, "v": int(doc.get("v") or 0) + 1}})
        if res.matched_count == 1:
            break
    note_change(db)
    return _record(db, cid, scope, name, old, value, by, when)


def cancel(db, change_id: str, *, by: str) -> dict:
    """Withdraw a change that has not taken effect yet (audited). NotFound if it is unknown or past."""
    rec = db.settings_history.find_one({"_id": change_id}) if isinstance(change_id, str) else None
    if rec is None:
        raise NotFound("No such scheduled change.")
    scope, name = rec["scope"], rec["name"]
    while True:
        doc = db.settings.find_one({"_id": scope}) or {}  # fresh: the compare-and-set below needs its `v`
        line = (doc.get("sched") or {}).get(name) or []
        if not any(e["id"] == change_id and clock.as_utc(e["at"]) > clock.now() for e in line):
            raise NotFound("That change is no longer ahead: it took effect or was withdrawn.")
        keep = [e for e in line if e["id"] != change_id]
        res = db.settings.update_one({"_id": scope, "v": doc.get("v")},
                                     {"$set": {f"sched.{name}": keep, "v": int(doc.get("v") or 0) + 1}})
        if res.matched_count == 1:
            break
    note_change(db)
    return _record(db, uuid.uuid4().hex, scope, name, rec["new"], rec["old"], by, clock.as_utc(rec["effective_at"]),
                   cancels=change_id)


def _fold(doc: dict, name: str, entry: dict) -> list[dict]:
    """The timeline with `entry` in effect order (after equal times), past changes but the one in force
    dropped."""
    now = clock.now()
    line = [dict(e, at=clock.as_utc(e["at"])) for e in (doc.get("sched") or {}).get(name) or []]
    i = sum(1 for e in line if e["at"] <= entry["at"])
    line.insert(i, entry)
    past = [e for e in line if e["at"] <= now]
    return past[-1:] + [e for e in line if e["at"] > now]


def _record(db, cid: str, scope: str, name: str, old, new, by: str, when: datetime, **extra) -> dict:
    rec = {"_id": cid, "scope": scope, "name": name, "old": old, "new": new, "by": by, "at": clock.now(),
           "effective_at": when, **extra}
    db.settings_history.insert_many([rec])
    return rec


# ---------------------------------------------------------------------------------- a named scope

def fields(db, scope: str) -> dict:
    """A scope's document as stored now (fresh: for the page that changes it), without its `_id`."""
    doc = db.settings.find_one({"_id": scope}) or {}
    doc.pop("_id", None)
    return doc


def set_fields(db, scope: str, changed: dict, old: dict, *, by: str) -> None:
    """Write `changed` into a scope's document at once (its owner checked them as a whole), each field's
    change recorded in the history with its value before (`old`)."""
    if not changed:
        return
    db.settings.update_one({"_id": scope}, {"$set": changed}, upsert=True)
    note_change(db)
    for k, v in changed.items():
        _record(db, uuid.uuid4().hex, scope, k, old.get(k), v, by, clock.now())
