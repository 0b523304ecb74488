"""Rebuilding the daily rollups from the ledger: the documented, idempotent step behind business days.

Rollups are counted per business day (services.clock: midnight in `WALLET_BUSINESS_TZ`). Rollups counted
in another zone (before business days existed they were UTC days) are recounted from the entries: every
wallet's `days` and its `rollups` documents are replaced by the counts of its entries by the business day
of their `created_at`, and rollup documents of days that no longer exist are deleted. The marker
`ledger_meta/rollups` records the zone they were counted in: `make run` calls `rebuild_rollups` at every
start (scripts/run.py), and it does nothing while the marker names the configured zone. A crash half-way
leaves the marker unset, so the next start recounts from scratch.

Entries are not touched (they are immutable): an old entry's `day` field keeps the day it was counted in
when it was written; `created_at` is what the recount reads.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from services import clock
from services.ledger import cas, queries, rollups, wallets
from services.ledger.ids import rollup_id
from services.ledger.recovery import recover

MARK = "rollups"
_ATTEMPTS = 100  # a wallet busy with live traffic is counted again; a ledger with holes never adds up
_FIELDS = {"user_id": 1, "n": 1, "type": 1, "category": 1, "amount": 1, "balance_after": 1, "created_at": 1,
           "meta.seconds": 1, "lot": 1, "promo_by": 1}


@dataclass
class _Counts:
    """One wallet's entries counted by business day (the last entry of a day gives its closing balance)."""
    days: dict = field(default_factory=dict)
    last_n: dict = field(default_factory=dict)
    entries: int = 0

    def add(self, e: dict) -> None:
        n, day = int(e["n"]), clock.day_of(e["created_at"])
        prev = self.days.get(day) or {}
        close = int(e["balance_after"]) if n > self.last_n.get(day, 0) else int(prev["balance"])
        self.days = rollups.add_to_day(self.days, {**e, "day": day, "amount": int(e["amount"])}, close)
        self.last_n[day] = max(n, self.last_n.get(day, 0))
        self.entries += 1


def rebuild_rollups(db, *, force: bool = False) -> dict:
    """Recount every rollup by business day unless they already are (see the module docstring)."""
    tz = clock.zone_name()
    mark = db.ledger_meta.find_one({"_id": MARK})
    if mark is not None and mark.get("tz") == tz and not force:
        return {"rebuilt": False, "tz": tz}
    recover(db)  # entries still riding in `pending` go to the ledger first
    counts: dict[str, _Counts] = {}
    for e in db.ledger.find({}, _FIELDS, batch_size=2000):
        counts.setdefault(e["user_id"], _Counts()).add(e)
    before = {d["_id"] for d in db.rollups.find({}, {"_id": 1})}
    kept: set[str] = set()
    done = 0
    for w in db.wallets.find({}, {"_id": 1}):
        kept |= _rebuild_wallet(db, w["_id"], counts.get(w["_id"]))
        done += 1
    stale = sorted(before - kept)
    for i in range(0, len(stale), 500):
        db.rollups.delete_many({"_id": {"$in": stale[i:i + 500]}})
    db.ledger_meta.update_one({"_id": MARK}, {"$set": {"tz": tz, "at": clock.now(), "wallets": done}},
                              upsert=True)
    return {"rebuilt": True, "tz": tz, "wallets": done, "stale_days_removed": len(stale)}


def _rebuild_wallet(db, user_id: str, counted: _Counts | None) -> set[str]:
    """Write one wallet's recounted days: closed ones to `rollups`, live ones into the wallet (a CAS, so a
    concurrent posting makes it count again). Returns the ids of its rollup documents."""
    for _ in range(_ATTEMPTS):
        w = wallets.read(db, user_id)
        if counted is None or counted.entries != int(w.get("n", 0)):
            counted = _count_wallet(db, w)
            if counted is None:
                continue
        cutoff = rollups.cutoff_day()
        ids = set()
        for day, vals in counted.days.items():
            if day < cutoff:
                ids.add(rollup_id(user_id, day))
                db.rollups.replace_one({"_id": rollup_id(user_id, day)}, {"user_id": user_id, "day": day, **vals},
                                       upsert=True)
        if cas.set_days(db, w, {d: v for d, v in counted.days.items() if d >= cutoff}):
            return ids
    raise RuntimeError(f"wallet {user_id}: its entries could not be counted (entries missing from the ledger? "
                       "run the ledger audit)")


def _count_wallet(db, w: dict) -> _Counts | None:
    """Count one wallet's entries as of the document `w` (None: it moved on meanwhile; read it again)."""
    c = _Counts()
    for e in queries.iter_entries(db, user_id=w["_id"]):
        if int(e["n"]) <= int(w.get("n", 0)):
            c.add(e)
    if c.entries != int(w.get("n", 0)):
        recover(db, w["_id"])
        return None
    return c
