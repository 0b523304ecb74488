"""Building the staff views from the ledger: once for a database that has none (`backfill`, from
services.schema at start-up), and again after the rollups were recounted (services.ledger.rebuild).

One process builds, under a lease (`staff_totals/build`, renewed as it goes); the others carry on without
the views until it is done. The totals document is written last: a build killed before it leaves no
views, and the next start builds again from the beginning (every write is a `$set` of values computed
afresh). Live traffic may run meanwhile:
1. every wallet, in pages: its row (the live rollup days it holds, `upto` = the first of them); the sums
   of balances, holds and live days;
2. every archived day (`rollups`), in pages: counted for its day when it is before its wallet's `upto`
   (a day archived after its wallet was read is counted once, as that wallet's live day), and into the
   wallet's debits of the last 90 days;
3. the day totals, the rows' windows of debits, then the totals (with `since`: when step 1 began, so the
   first refresh applies every change made while building).
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from services import clock, ledger, procs
from services.db import insert_new
from services.staffview import batches, rows

LEASE = "build"
LEASE_TIME = timedelta(minutes=5)


def needed(db) -> bool:
    """Whether the views are missing, or older than the last recount of the rollups."""
    t = batches.totals(db)
    if t is None:
        return True
    recount = ledger.recounted_at(db)
    return recount is not None and (clock.as_utc(t.get("built_at")) or recount) < recount


def backfill(db) -> dict:
    """Build the views if they are missing or stale and no other process is building them."""
    if not needed(db):
        return {"built": False}
    owner = procs.owner()
    if not _claim(db, owner):
        return {"built": False, "building_elsewhere": True}
    try:
        return build(db, owner)
    finally:
        db.staff_totals.delete_one({"_id": LEASE, "owner": owner})


def build(db, owner: str) -> dict:
    db.staff_totals.delete_one({"_id": batches.TOTALS})  # no views until this build's totals are written
    db.staff_batches.delete_many({})
    db.staff_days.delete_many({})
    b = uuid.uuid4().hex  # this build's documents: an older batch never writes over them
    started, today = clock.now(), clock.today()
    upto, day_sums = {}, {}
    sums = {"balance": 0, "held": 0, "wallets": 0}
    for i, c in enumerate(ledger.changed(db, None)):
        if i % 500 == 0:
            _renew(db, owner)
        r = rows.new_row(None, c, {}, today, 0, b)
        db.staff_rows.replace_one({"_id": c.user_id}, r, upsert=True)
        upto[c.user_id] = r["upto"]
        sums["balance"] += r["balance"]
        sums["held"] += r["held"]
        sums["wallets"] += 1
        for d, x in r["days"].items():
            day_sums[d] = _plus(day_sums.get(d), x)
    first = (today - timedelta(days=rows.WINDOW_DAYS - 1)).isoformat()
    hist: dict[str, dict[str, list]] = {}
    for i, d in enumerate(ledger.every_archived_day(db)):
        if i % 2000 == 0:
            _renew(db, owner)
        uid, day = d.get("user_id"), d.get("day")
        if uid not in upto or day >= upto[uid]:
            continue  # no wallet, or counted as the wallet's live day
        day_sums[day] = _plus(day_sums.get(day), rows.counters(d))
        if day >= first:
            hist.setdefault(uid, {})[day] = rows.hist_of(d)
    for day, x in day_sums.items():
        db.staff_days.replace_one({"_id": day}, dict(x, n=0, b=b), upsert=True)
    for uid, old in hist.items():
        r = db.staff_rows.find_one({"_id": uid})
        merged = dict(old, **r["hist"])
        db.staff_rows.update_one({"_id": uid}, {"$set": {"hist": merged, **rows.window_sums(merged, today)}})
    insert_new(db.staff_totals, {"_id": batches.TOTALS, "n": 0, "token": None, "b": b, **sums, "since": started,
                                 "built_at": clock.now()})
    return {"built": True, **sums, "days": len(day_sums)}


def _plus(a: dict | None, x: dict) -> dict:
    """Day totals `a` with one wallet's day `x` added (and counted active)."""
    if a is None:
        a = {k: 0 for k in rows.COUNTERS} | {"active": 0, "cat": {}}
    out = {k: a[k] + x[k] for k in rows.COUNTERS}
    out["active"] = a["active"] + 1
    out["cat"] = {c: a["cat"].get(c, 0) + x["cat"].get(c, 0) for c in set(a["cat"]) | set(x["cat"])}
    return out


def _claim(db, owner: str) -> bool:
    now = clock.now()
    if insert_new(db.staff_totals, {"_id": LEASE, "owner": owner, "until": now + LEASE_TIME}):
        return True
    held = db.staff_totals.find_one({"_id": LEASE})
    if held is None or clock.as_utc(held["until"]) > now:
        return False
    res = db.staff_totals.update_one({"_id": LEASE, "owner": held["owner"], "until": held["until"]},
                                     {"$set": {"owner": owner, "until": now + LEASE_TIME}})
    return res.matched_count == 1


def _renew(db, owner: str) -> None:
    res = db.staff_totals.update_one({"_id": LEASE, "owner": owner}, {"$set": {"until": clock.now() + LEASE_TIME}})
    if res.matched_count != 1:
        raise RuntimeError("the staff views' build lease was taken over: another process builds them")
