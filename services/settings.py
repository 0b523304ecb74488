"""Product settings with their defaults; every change records who, when, old and new."""
from __future__ import annotations

import uuid

from services import clock
from services.checks import whole_number
from services.errors import InvalidInput, NotFound
from services.money import DEFAULT_MAX_PAISE, parse_rupees

# The longest call anyone may ask for, in minutes (calls and campaigns check requests against it).
MAX_CALL_MINUTES = 240

# The product's rules, in one place.
DEFAULTS = {
    "call_rate_paise": 1000,          # Rs. 10 per minute
    "min_call_balance_paise": 1000,   # Rs. 10 needed to start a call
    "min_recharge_paise": 1000,       # Rs. 10 smallest recharge
    "low_balance_paise": 2000,        # warn below Rs. 20
    "max_amount_paise": DEFAULT_MAX_PAISE,  # Rs. 1,00,000 per operation
    "default_call_minutes": 10,       # a call's hold covers this many minutes unless told otherwise
    "stale_call_minutes": 180,        # a call never ended is released after this long
    "refund_approval_required": 0,    # 1: a self-serve refund waits for an admin's approval
}
# What an admin may set, and the bounds that keep a typo from becoming a disaster.
_BOUNDS = {
    "call_rate_paise": (1, 100_000),
    "min_call_balance_paise": (0, 1_000_000),
    "min_recharge_paise": (100, 1_000_000),
    "low_balance_paise": (0, 10_000_000),
    "max_amount_paise": (100, 100_000_000),
    "default_call_minutes": (1, MAX_CALL_MINUTES),
    "stale_call_minutes": (5, 10_080),
    "refund_approval_required": (0, 1),
}
USER_KEYS = ("call_rate_paise", "daily_cap_paise")


def get(db) -> dict:
    doc = db.settings.find_one({"_id": "global"}) or {}
    return {k: int(doc.get(k, v)) for k, v in DEFAULTS.items()}


def set_value(db, name: str, value: int, *, by: str) -> dict:
    """Set one global setting (an int in its own unit). Returns the history record."""
    if name not in _BOUNDS:
        raise InvalidInput(f"Unknown setting {name!r}.")
    lo, hi = _BOUNDS[name]
    whole_number(value, lo, hi, what=name)
    old = get(db)[name]
    db.settings.update_one({"_id": "global"}, {"$set": {name: value}}, upsert=True)
    return _record(db, "global", name, old, value, by)


def set_call_rate(db, rupees_per_minute, *, by: str, user_id: str | None = None) -> dict:
    """Set the per-minute call rate from rupees (`"15"`, `0.5`), globally or for one user.

    `rupees_per_minute=None` with a user_id removes that user's own rate.
    """
    if user_id is not None and rupees_per_minute is None:
        return set_user_value(db, user_id, "call_rate_paise", None, by=by)
    paise = parse_rupees(rupees_per_minute, maximum=_BOUNDS["call_rate_paise"][1], what="Call rate")
    if user_id is None:
        return set_value(db, "call_rate_paise", paise, by=by)
    return set_user_value(db, user_id, "call_rate_paise", paise, by=by)


def set_user_value(db, user_id: str, name: str, value: int | None, *, by: str) -> dict:
    """A per-user override (call rate, daily spend cap); None removes it."""
    if name not in USER_KEYS:
        raise InvalidInput(f"Unknown per-user setting {name!r}.")
    if db.users.find_one({"_id": user_id}, {"_id": 1}) is None:
        raise NotFound(f"No user {user_id!r}.")
    if value is not None:
        whole_number(value, 1, what=name, unit="of paise")
    old = user_overrides(db, user_id).get(name)
    op = {"$set": {name: value}} if value is not None else {"$unset": {name: ""}}
    db.settings.update_one({"_id": f"user:{user_id}"}, op, upsert=True)
    return _record(db, f"user:{user_id}", name, old, value, by)


def user_overrides(db, user_id: str) -> dict:
    doc = db.settings.find_one({"_id": f"user:{user_id}"}) or {}
    return {k: int(doc[k]) for k in USER_KEYS if doc.get(k) is not None}


def call_rate_for(db, user_id: str) -> int:
    """Paise per minute for this user's next call: their own rate if an admin set one, else global."""
    return user_overrides(db, user_id).get("call_rate_paise") or get(db)["call_rate_paise"]


def history(db, limit: int = 50) -> list[dict]:
    docs = list(db.settings_history.find({}).sort("at", -1).limit(limit))
    for d in docs:
        d["at"] = clock.as_utc(d["at"])
    return docs


def _record(db, scope: str, name: str, old, new, by: str) -> dict:
    rec = {"_id": uuid.uuid4().hex, "scope": scope, "name": name, "old": old, "new": new, "by": by,
           "at": clock.now()}
    db.settings_history.insert_many([rec])
    return rec
