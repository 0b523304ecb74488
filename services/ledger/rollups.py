"""Daily rollups: counters per wallet and day, kept in the same write as the balance.

Days are business days (services.clock: midnight in the business time zone; `rebuild` recounts rollups
kept in another zone). Each entry adds to `days[day]` of its wallet document (credits, debits, counts, per-category
amounts, calls, call seconds, the closing balance). Today's and yesterday's days live there; an older day is
copied to the `rollups` collection (`{user}|{day}`, an idempotent `$set`) and then dropped from the
wallet by the next write on it (services.ledger.cas). Readers take the wallet's copy when both exist:
it is the live one. Charts and admin views read these, never the ledger.
"""
from __future__ import annotations

from datetime import date, timedelta

from services import clock
from services.db import in_order
from services.ledger.ids import CALL_CATEGORIES, CREDIT, rollup_id
from services.ledger.lots import NO_CAMPAIGN

# Days kept inside the wallet document; older ones move to the `rollups` collection.
WALLET_DAYS = 2


# Debits that are not spending: a lot's remainder leaving at its expiry, or voided by an admin.
NOT_SPENT = ("expiry", "void")
_GRANT_FIELD = {"expiry": "expired", "void": "voided"}


def add_to_day(days: dict, entry: dict, balance: int) -> dict:
    """`days` with `entry` counted in its day and `balance` as that day's close (a new map)."""
    d, amt, kind = entry["day"], entry["amount"], entry["type"]
    day = dict(days.get(d) or {})
    side = "credits" if kind == CREDIT else "debits"
    day[side] = int(day.get(side, 0)) + amt
    day[f"{kind}_count"] = int(day.get(f"{kind}_count", 0)) + 1
    cat = dict(day.get("cat") or {})
    cat[entry["category"]] = int(cat.get(entry["category"], 0)) + amt
    day["cat"] = cat
    if entry["category"] in CALL_CATEGORIES:
        day["calls"] = int(day.get("calls", 0)) + 1
        day["call_seconds"] = int(day.get("call_seconds", 0)) + int((entry.get("meta") or {}).get("seconds", 0))
    key = (entry.get("meta") or {}).get("key_id")
    if key and kind != CREDIT:  # spend per API key (services.ledger.budgets), for Insights over any period
        day["keys"] = {**(day.get("keys") or {}), key: int((day.get("keys") or {}).get(key, 0)) + amt}
    service = (entry.get("meta") or {}).get("service")
    if service and kind != CREDIT:  # spend per service (services.usage), for Insights and statements
        day["svc"] = {**(day.get("svc") or {}), service: int((day.get("svc") or {}).get(service, 0)) + amt}
    _count_grants(day, entry)
    day["balance"] = balance
    return {**days, d: day}


def _count_grants(day: dict, entry: dict) -> None:
    """Promotional and manual credit (grants) by campaign: granted, spent, expired, voided (breakage)."""
    lot = entry.get("lot") or {}
    moves = []
    if entry["type"] == CREDIT and lot.get("kind") in ("promo", "manual"):
        moves.append((lot.get("campaign") or NO_CAMPAIGN, "granted", int(entry["amount"])))
    for tag, amt in (entry.get("promo_by") or {}).items():
        moves.append((tag, _GRANT_FIELD.get(entry["category"], "spent"), int(amt)))
    if not moves:
        return
    grants = {k: dict(v) for k, v in (day.get("grants") or {}).items()}
    for tag, field, amt in moves:
        g = grants.setdefault(tag, {})
        g[field] = int(g.get(field, 0)) + amt
    day["grants"] = grants


def checkpoint(db, w: dict, new: tuple) -> None:
    """After a write that starts a day (its first entry), keep the lots as they stood before it in that
    day's rollup document (`open_lots`, `open_n`): balances at a past instant replay from there
    (services.ledger.history). Outside the wallet, so its every write stays small; written after the
    compare-and-set and idempotent: lost in a crash, the replay starts from an older one."""
    days = w.get("days") or {}
    first = next((e for e in new if e["day"] not in days), None)
    if first is None or "lots" not in w or not int(w.get("n", 0)):
        return
    db.rollups.update_one({"_id": rollup_id(w["_id"], first["day"])},
                          {"$set": {"user_id": w["_id"], "day": first["day"], "open_lots": w["lots"],
                                    "open_n": int(w["n"])}}, upsert=True)


def checkpoint_before(db, user_id: str, day: str, k: int) -> dict | None:
    """The newest checkpoint of `user_id` on or before `day` whose entry number is below k, or None."""
    doc = db.rollups.find_one({"_id": rollup_id(user_id, day)}) if day else None
    if doc is not None and doc.get("open_lots") is not None and int(doc.get("open_n", k)) < k:
        return doc
    older = db.rollups.find({"user_id": user_id, "day": {"$lt": day}, "open_n": {"$lt": k}},
                            {"open_lots": 1, "open_n": 1, "day": 1})
    return max((d for d in older if d.get("open_lots") is not None), key=lambda d: d["day"], default=None)


def spent(day: dict) -> int:
    """A day's debits that are spending (an expiry or a void is money leaving, not spent)."""
    cat = day.get("cat") or {}
    return int(day.get("debits", 0)) - sum(int(cat.get(c, 0)) for c in NOT_SPENT)


def today(w: dict) -> dict:
    """Today's counters of a wallet document ({} before its first entry of the day)."""
    return (w.get("days") or {}).get(clock.day_of(clock.now())) or {}


def closed_days(w: dict) -> list[str]:
    """Days of a wallet document old enough to move out of it."""
    cutoff = cutoff_day()
    return [d for d in (w.get("days") or {}) if d < cutoff]


def cutoff_day() -> str:
    """The oldest business day a wallet document keeps; older ones live in the `rollups` collection."""
    return (clock.today() - timedelta(days=WALLET_DAYS - 1)).isoformat()


def copy_out(db, w: dict) -> dict:
    """Copy the closed days to `rollups` (idempotent). Returns the days the wallet keeps."""
    old = closed_days(w)
    for d in old:
        db.rollups.update_one({"_id": rollup_id(w["_id"], d)},
                              {"$set": {"user_id": w["_id"], "day": d, **w["days"][d]}}, upsert=True)
    return {d: v for d, v in (w.get("days") or {}).items() if d not in old}


# ------------------------------------------------------------------------------------------ readers

def day_totals(db, user_id: str, first_day: str, last_day: str, *, wallet: dict | None = None) -> dict:
    """Rollup counters per active day in [first_day, last_day] (ISO dates) of one wallet: the `rollups`
    collection for closed days (a range of its primary key), the wallet's own copy for the live ones (it
    wins where both exist)."""
    rows = archived_days(db, user_id, first_day, last_day + "~")  # "~" sorts after a day: up to it
    w = wallet if wallet is not None else (db.wallets.find_one({"_id": user_id}, {"days": 1}) or {})
    for day, vals in (w.get("days") or {}).items():
        if first_day <= day <= last_day:
            rows[day] = dict(vals, day=day)
    return rows


def service_users(db, service: str, first_day: str) -> set[str]:
    """The wallets that spent on `service` (services.usage) on a business day from `first_day` (ISO) on: closed
    days from the `rollups` collection (its `day` index), live ones from the wallet documents written since
    that day began (`updated_at`), which keep the days not yet copied out."""
    found = {d["user_id"] for d in db.rollups.find({"day": {"$gte": first_day}, f"svc.{service}": {"$exists": True}},
                                                   {"user_id": 1})}
    since = clock.start_of_day(date.fromisoformat(first_day))  # an entry's day is that of the write that made it
    for w in db.wallets.find({"updated_at": {"$gte": since}}, {"days": 1}):
        if any(day >= first_day and service in (v.get("svc") or {}) for day, v in (w.get("days") or {}).items()):
            found.add(w["_id"])
    return found


def archived_days(db, user_id: str, first: str, before: str) -> dict[str, dict]:
    """One wallet's days in the `rollups` collection from `first` up to, not including, `before` (ISO
    dates; "" for the first): a range of `_id`s (`{user}|{day}`), read in order through the primary key."""
    lo, hi = rollup_id(user_id, first), rollup_id(user_id, before)
    return {d["day"]: d for d in db.rollups.find({"_id": {"$gte": lo, "$lt": hi}}).sort("_id", 1).hint("_id_")
            if d.get("user_id") == user_id}


def every_archived_day(db, lo: str | None = None, hi: str | None = None, page: int = 2000):
    """The documents of the `rollups` collection (with `_id` in [lo, hi], `{user}|{day}`), in `_id` order
    and in pages (memory stays flat)."""
    return in_order(db.rollups, "_id", lo=lo, hi=hi, page=page)


def recounted_at(db):
    """When the rollups were last recounted from the ledger (services.ledger.rebuild; None: never). A read
    model built from rollups before that time counts days that were counted again since."""
    return clock.as_utc((db.ledger_meta.find_one({"_id": "rollups"}) or {}).get("at"))
