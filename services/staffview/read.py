"""Reading the staff views: each answer costs what it shows, not the number of customers.

Totals are one document; a day's totals one more; every list walks one index of `staff_rows` in order
(a hinted read: services.index_order on the embedded engine) and stops as soon as the answer is known.
"""
from __future__ import annotations

from datetime import date, timedelta

from services import clock
from services.staffview import batches, rows

PAGE = 200
MIN_DATE = clock.as_utc(clock.start_of_day(date(2000, 1, 1)))
FIELDS = {"balance": "balance", "available": "available", "last_activity": "active_at"}


def totals(db) -> dict | None:
    """{balance, held, wallets, since} as of the last pass (None before the views are built)."""
    t = batches.totals(db)
    if t is None:
        return None
    return {"balance": int(t["balance"]), "held": int(t["held"]), "wallets": int(t["wallets"]),
            "since": clock.as_utc(t.get("since"))}


def day(db, d: date) -> dict:
    """One business day's totals across wallets (zeros for a day without activity)."""
    return days(db, d, d)[d.isoformat()]


def days(db, first: date, last: date) -> dict[str, dict]:
    """Each day's totals in [first, last], by ISO day: credits, debits, counts, calls, call seconds,
    per-category amounts, free credit by campaign (`grants`: {tag: {granted, spent, expired, voided}}) and
    the wallets active that day."""
    out = {}
    d = first
    while d <= last:
        out[d.isoformat()] = {k: 0 for k in rows.COUNTERS} | {"active": 0, "cat": {}, "grants": {}}
        d += timedelta(days=1)
    flt = {"_id": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
    for doc in db.staff_days.find(flt).sort("_id", 1).hint("_id_"):
        out[doc["_id"]] = {k: int(doc.get(k, 0)) for k in rows.COUNTERS + ("active",)} | \
            {"cat": {c: int(x) for c, x in (doc.get("cat") or {}).items() if int(x)},
             "grants": {rows.grant_tag(k): g for k, g in rows.nested(doc.get("grants")).items()}}
    return out


def ranked(db, field: str, *, descending: bool, below=None, skip: int = 0, limit: int = PAGE):
    """Rows in the order of `field` (an indexed one), from `skip`, at most `limit` (below: values under it)."""
    rng = {"$gte": MIN_DATE if field == "active_at" else 0}
    if below is not None:
        rng["$lt"] = below
    return list(db.staff_rows.find({field: rng}).sort(field, -1 if descending else 1).skip(skip).limit(limit)
                .hint([(field, 1)]))


def first(db, field: str, n: int, *, descending: bool, below=None, leave_out=()) -> list[dict]:
    """The first `n` rows in the order of `field`, leaving out the ids in `leave_out` (a few staff
    wallets). Equal values come in the index's order: by id on the embedded engine (services.index_order)."""
    got = ranked(db, field, descending=descending, below=below, limit=n + len(leave_out))
    return [r for r in got if r["_id"] not in leave_out][:n]


def count_below(db, field: str, below) -> int:
    return db.staff_rows.count_documents({field: {"$gte": 0, "$lt": below}}, hint=[(field, 1)])


def of(db, user_ids) -> dict[str, dict]:
    """The rows of these wallets (point reads)."""
    out = {}
    for uid in user_ids:
        r = db.staff_rows.find_one({"_id": uid})
        if r is not None:
            out[uid] = r
    return out


def between(db, first: str, last: str) -> dict[str, dict]:
    """The rows of wallets whose ids are in [first, last] (one range of the primary key), by id."""
    return {r["_id"]: r for r in db.staff_rows.find({"_id": {"$gte": first, "$lte": last}}).hint("_id_")}


def top_spenders(db, first: date, last: date, top: int) -> list[dict]:
    """The `top` wallets by what they spent (services.spending's rule) over [first, last] (inside the last
    WINDOW_DAYS days): [{username, spent_paise}], largest first, then by name. Walks the smallest kept window
    that covers the range in the order of its stored sums, then ids, recomputing each row's sum for the
    range. A stored sum is never below the range's (days only drop out of a window), so the walk stops at
    the first row that cannot enter: stored below the `top`-th sum, or equal to it with a later name (the
    rows after it are no better). Many customers tie at the cut (3,300 at 100,000 customers in the bench):
    the tie is read only up to its first names, not through."""
    window = next(w for w in rows.WINDOWS if w >= (clock.today() - first).days + 1)
    field = rows.window_field(window)
    lo, hi = first.isoformat(), last.isoformat()
    best: list[tuple[int, str]] = []
    skip = 0
    while True:
        # `_id` second: MongoDB's order for equal sums; the embedded engine's index walk gives it anyway
        page = list(db.staff_rows.find({field: {"$gt": 0}}).sort([(field, -1), ("_id", 1)]).skip(skip)
                    .limit(PAGE).hint([(field, 1)]))
        for r in page:
            if len(best) >= top and (int(r[field]), best[top - 1][1]) < (best[top - 1][0], r["_id"]):
                return _spenders(best[:top])
            spent = rows.summed(r, lo, hi)["spent"]
            if spent > 0:  # only the best `top` are kept: re-sorting every tied row was quadratic
                best.append((spent, r["_id"]))
                best.sort(key=lambda x: (-x[0], x[1]))
                del best[top:]
        if len(page) < PAGE:
            return _spenders(best[:top])
        skip += PAGE


def _spenders(best) -> list[dict]:
    return [{"username": uid, "spent_paise": spent} for spent, uid in best]


def recent(db, d: date, limit: int) -> list[dict]:
    """The day's latest entries across wallets, newest first (at most RECENT): {_id, user_id, created_at,
    type, amount, category, note}."""
    doc = db.staff_recent.find_one({"_id": d.isoformat()}) or {}
    return [dict(e, created_at=clock.as_utc(e["created_at"])) for e in (doc.get("entries") or [])[:limit]]
