"""Building the staff views from the ledger: once for a database that has none (`backfill`, from
services.schema at start-up), and again after the rollups were recounted (services.ledger.rebuild).

One process builds, under a lease (`staff_totals/build`, renewed as it goes); the others carry on without
the views until it is done. The totals document is written last: a build killed before it leaves no
views, and the next start builds again from the beginning (every write is a `$set` of values computed
afresh). Live traffic may run meanwhile:
1. every wallet, in pages of PAGE; for a page, the wallets first, then their archived days (`rollups`, a
   range of `_id`s): a day counts for its wallet's row (`hist`) and its day's totals when it is before the
   wallet's first live day (`upto`): one archived after its wallet was read is counted once, as that
   wallet's live day; then the page's rows, written together, and the sums of balances, holds, live days;
2. today's latest entries (wallets newest change first, until none further can hold a newer one), the day
   totals, then the totals (with `since`: when step 1 began, so the first refresh applies every change made
   while building).
"""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from services import clock, ledger, procs
from services.db import create_index, insert_new
from services.staffview import batches, rows

LEASE = "build"
LEASE_TIME = timedelta(minutes=5)
PAGE = 1000
INLINE = 5_000  # wallets a start builds before going on; more are built in a thread (minutes at 100,000)


def needed(db) -> bool:
    """Whether the views are missing, or older than the last recount of the rollups."""
    t = batches.totals(db)
    if t is None or t.get("format") != rows.FORMAT:
        return True
    recount = ledger.recounted_at(db)
    return recount is not None and (clock.as_utc(t.get("built_at")) or recount) < recount


def backfill(db, *, wait: bool | None = None) -> dict:
    """Build the views if they are missing or stale and no other process is building them. A database of
    more than INLINE wallets is built in a thread of its own (`wait` False; services.schema calls this at
    every start, and the first page after a start must not wait for it); `wait` True builds here."""
    if not needed(db):
        return {"built": False}
    if wait is None:
        wait = ledger.count_changed(db, None) <= INLINE  # every wallet
    if not wait:
        threading.Thread(target=backfill, args=(db,), kwargs={"wait": True}, daemon=True,
                         name="staff-views-build").start()
        return {"built": False, "building": True}
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
    _empty(db, "staff_rows")
    b = uuid.uuid4().hex  # this build's documents: an older batch never writes over them
    started, today = clock.now(), clock.today()
    day_sums: dict[str, dict] = {}
    sums = {"balance": 0, "held": 0, "wallets": 0}
    page: list = []
    for c in ledger.changed(db, None):
        page.append(c)
        if len(page) == PAGE:
            _page(db, page, today, b, sums, day_sums)
            _renew(db, owner)
            page = []
    _page(db, page, today, b, sums, day_sums)
    db.staff_recent.delete_many({})
    batches.add_recent(db, today.isoformat(), _todays_latest(db, today), 0, b)
    for day, x in day_sums.items():
        db.staff_days.replace_one({"_id": day}, dict(x, n=0, b=b), upsert=True)
    insert_new(db.staff_totals, {"_id": batches.TOTALS, "n": 0, "token": None, "b": b, **sums, "since": started,
                                 "built_at": clock.now(), "format": rows.FORMAT})
    return {"built": True, **sums, "days": len(day_sums)}


def _empty(db, name: str) -> None:
    """An empty collection with its indexes (a drop: deleting 100,000 documents one commit each takes minutes)."""
    from services.staffview import COLLECTIONS  # the package's own declaration of its indexes
    db[name].drop()
    for spec in COLLECTIONS[name]:
        create_index(db[name], spec)


def _page(db, page: list, today, b: str, sums: dict, day_sums: dict) -> None:
    """Rows for a page of wallets (read first), with their archived days read after them: a day archived
    in between is the wallet's live day, not read twice; one archived before is in `rollups` already."""
    if not page:
        return
    wallets = {c.user_id: c for c in page}
    upto = {u: (min(c.days) if c.days else rows.NO_DAY) for u, c in wallets.items()}
    first = (today - timedelta(days=rows.WINDOW_DAYS - 1)).isoformat()
    archived: dict[str, dict] = {}
    # `{user}|{day}` ids of these wallets lie between the least and the greatest `{user}|`.
    lo, hi = min(f"{u}|" for u in wallets), max(f"{u}|~" for u in wallets)
    for d in ledger.every_archived_day(db, lo, hi):
        uid, day = d.get("user_id"), d.get("day")
        if uid not in wallets or day >= upto[uid]:
            continue  # another wallet's, or counted as this wallet's live day
        x = rows.counters(d)
        day_sums[day] = _plus(day_sums.get(day), x)
        if day >= first:
            archived.setdefault(uid, {})[day] = x
    new = [rows.new_row(None, c, archived.get(c.user_id, {}), today, 0, b) for c in page]
    db.staff_rows.insert_many(new)
    for r in new:
        sums["balance"] += r["balance"]
        sums["held"] += r["held"]
        sums["wallets"] += 1
        for d, x in r["days"].items():
            day_sums[d] = _plus(day_sums.get(d), x)


def _todays_latest(db, today) -> list[dict]:
    """Today's latest entries across wallets: wallets by their last change, newest first, each one's entries
    of today; an entry is no newer than its wallet's last change, so once RECENT are in hand and the next
    wallet changed before the oldest of them, none further can hold a newer one."""
    out: list[dict] = []
    for c in ledger.changed_newest_first(db, clock.start_of_day(today)):
        if len(out) >= rows.RECENT and c.updated_at is not None and c.updated_at < out[-1]["created_at"]:
            break
        k = min(rows.today_count(c, today), rows.RECENT)
        if k:
            found = ledger.last_entries(db, c.user_id, k, c.entries)
            out = rows.latest(out + [rows.recent_of(e) for e in found])
    return out


def _plus(a: dict | None, x: dict) -> dict:
    """Day totals `a` with one wallet's day `x` added (and counted active)."""
    if a is None:
        a = {k: 0 for k in rows.COUNTERS} | {"active": 0, "cat": {}}
    out = {k: a[k] + x[k] for k in rows.COUNTERS}
    out["active"] = a["active"] + 1
    out["cat"] = {c: a["cat"].get(c, 0) + x["cat"].get(c, 0) for c in set(a["cat"]) | set(x["cat"])}
    out["grants"] = rows.nested(a.get("grants"), x.get("grants"))
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
