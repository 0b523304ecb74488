"""Keeping the staff views: wallets changed since the last pass, applied in numbered batches, exactly once.

The totals (`staff_totals/all`: balance, held, wallets, the batch number `n` and the feed time `since`)
and each day's totals (`staff_days/{day}`) are sums over the rows (`staff_rows/{user}`). A change moves a
row and the sums together, which no single write can do; so each batch is first written down whole, and
then applied by steps that are each guarded, so any of them may run twice, in two processes, or be cut
short by a kill, and the sums still count each row once:

1. compute: first finish the batch before (below), so every row stands for the batches committed; then
   read the changed wallets (services.ledger.feed) and their rows: for each wallet whose row does not
   stand for it, the new row and what it adds to the totals and to each day;
2. write the batch `staff_batches/{n+1}` with a token of its own (an insert: one batch per number);
3. A, commit: the totals, in one compare-and-set on `n`: the sums move, `n` becomes n+1 and the token is
   recorded. Any process may commit a written batch: the rows it was computed from cannot have moved,
   since rows move only when a committed batch is spread;
4. B: each day's totals, and today's list of latest entries, guarded by their own `n` (a day moves
   once per batch);
5. C: each row, written only over an older one (`v` < n+1: a late writer never overwrites a newer row);
6. D: the batch document goes, only once B and C are done: a committed batch whose document is still
   there is spread again (B and C are the same writes again) before anything else.
A document whose number is committed under another token was never committed (its writer lost the
number): it is dropped. The feed time moves, in the totals, only at the end of a pass that has applied
every change it read (`set_since`), so a killed pass is read again from where the last whole pass began.
"""
from __future__ import annotations

import uuid
from datetime import date, timedelta

from services import clock, ledger
from services.db import insert_new
from services.staffview import rows

TOTALS = "all"
BATCH = 200


def totals(db) -> dict | None:
    return db.staff_totals.find_one({"_id": TOTALS})


def finish(db) -> bool:
    """Commit and spread what a pass left half-done (False before the views are built)."""
    t = totals(db)
    if t is None:
        return False
    n = int(t["n"])
    cur = db.staff_batches.find_one({"_id": n})
    if cur is not None:
        if cur.get("token") == t.get("token"):
            _spread(db, cur)
        db.staff_batches.delete_one({"_id": n, "token": cur["token"]})
    nxt = db.staff_batches.find_one({"_id": n + 1})
    if nxt is not None and _commit(db, nxt):
        _spread(db, nxt)
        db.staff_batches.delete_one({"_id": n + 1, "token": nxt["token"]})
    return True


def apply(db, changes, today: date) -> tuple[int, bool]:
    """Apply these wallet changes (ledger.Change) in batches: (rows written, whether all were applied).
    Stops early when another process is applying a batch at the same time: it finishes what it took, and
    what is left is read again by the next pass."""
    written, chunk = 0, []
    for c in changes:
        chunk.append(c)
        if len(chunk) >= BATCH:
            n = _one(db, chunk, today)
            if n is None:
                return written, False
            written, chunk = written + n, []
    if chunk:
        n = _one(db, chunk, today)
        if n is None:
            return written, False
        written += n
    return written, True


def _one(db, changes, today: date) -> int | None:
    """One batch: compute, write down, commit, spread. None if another process holds the number."""
    finish(db)
    t = totals(db)
    if t is None:
        return None  # being built again
    k = int(t["n"]) + 1
    batch = _compute(db, changes, today, k, t["b"])
    if not batch["rows"]:
        return 0
    if not insert_new(db.staff_batches, batch):
        return None
    if not _commit(db, batch):
        db.staff_batches.delete_one({"_id": k, "token": batch["token"]})
        return None
    _spread(db, batch)
    db.staff_batches.delete_one({"_id": k, "token": batch["token"]})
    return len(batch["rows"])


def _commit(db, batch: dict) -> bool:
    """Step A for this batch (or it is already done): whether the totals now count it."""
    k = batch["_id"]
    db.staff_totals.update_one(
        {"_id": TOTALS, "n": k - 1, "b": batch["b"]},
        {"$inc": {"balance": batch["balance"], "held": batch["held"], "wallets": batch["wallets"]},
         "$set": {"n": k, "token": batch["token"]}})
    t = totals(db)
    # Past k, batch k (ours or not) was spread before anything else went on: nothing is left to do here.
    return t is not None and int(t["n"]) == k and t.get("token") == batch["token"]


def _compute(db, changes, today: date, k: int, b: str) -> dict:
    out: dict = {"_id": k, "token": uuid.uuid4().hex, "b": b, "rows": [], "days": {}, "balance": 0, "held": 0,
           "wallets": 0, "today": today.isoformat(), "recent": []}
    for c in changes:
        old = db.staff_rows.find_one({"_id": c.user_id})
        if rows.unchanged(old, c, today):
            continue
        new_upto = min(c.days) if c.days else rows.NO_DAY
        old_upto = (old or {}).get("upto", "")
        closed = ledger.archived_days(db, c.user_id, old_upto, new_upto) if old_upto < new_upto else {}
        closed = {d: rows.counters(x) for d, x in closed.items()}
        new = rows.new_row(old, c, closed, today, k, b)
        out["rows"].append(new)
        out["balance"] += new["balance"] - int((old or {}).get("balance", 0))
        out["held"] += new["held"] - int((old or {}).get("held", 0))
        out["wallets"] += old is None
        for d, delta in rows.day_deltas(old, new, closed).items():
            out["days"][d] = _add(out["days"].get(d), delta)
        # Today's entries this row had not counted (the newest RECENT at most): for the list of the latest.
        take = min(c.entries - int(old["n"]) if old and "n" in old else c.entries, rows.today_count(c, today),
                   rows.RECENT)
        if take > 0:
            out["recent"] = rows.latest(out["recent"] + [rows.recent_of(e) for e in
                                                         ledger.last_entries(db, c.user_id, take, c.entries)])
    return out


def _add(a: dict | None, b: dict) -> dict:
    if a is None:
        return b
    out = {k: a[k] + b[k] for k in rows.COUNTERS + ("active",)}
    out["cat"] = {c: a["cat"].get(c, 0) + b["cat"].get(c, 0) for c in set(a["cat"]) | set(b["cat"])}
    out["grants"] = rows.nested(a.get("grants"), b.get("grants"))
    return out


def _spread(db, batch: dict) -> None:
    """Steps B and C of a committed batch, each guarded by the batch number (repeating one is a no-op) and
    by the build it belongs to (`b`: a rebuild's documents are never written over by an older batch)."""
    k, b = batch["_id"], batch["b"]
    for d, delta in batch["days"].items():
        inc = {c: delta[c] for c in rows.COUNTERS + ("active",)}
        inc |= {f"cat.{c}": x for c, x in delta["cat"].items()}
        inc |= {f"grants.{t}.{f}": x for t, g in (delta.get("grants") or {}).items() for f, x in g.items()}
        if db.staff_days.update_one({"_id": d, "n": {"$lt": k}, "b": b},
                                    {"$inc": inc, "$set": {"n": k}}).matched_count:
            continue
        insert_new(db.staff_days, {"_id": d, "n": k, "b": b, "cat": dict(delta["cat"]),
                                   "grants": delta.get("grants") or {},
                                   **{c: delta[c] for c in rows.COUNTERS + ("active",)}})
    if batch.get("recent"):
        add_recent(db, batch["today"], batch["recent"], k, b)
    for r in batch["rows"]:
        fields = {f: x for f, x in r.items() if f != "_id"}
        if not db.staff_rows.update_one({"_id": r["_id"], "v": {"$lt": k}, "b": b}, {"$set": fields}).matched_count:
            insert_new(db.staff_rows, r)  # a new row; an existing newer one stays


def add_recent(db, day: str, entries: list[dict], k: int, b: str) -> None:
    """Merge entries into the day's list of its latest (`staff_recent/{day}`), once per batch `k`."""
    doc = db.staff_recent.find_one({"_id": day}) or {}
    if doc and (int(doc.get("n", -1)) >= k or doc.get("b") != b):
        return
    merged = rows.latest(list(doc.get("entries") or []) + entries)
    if doc:
        db.staff_recent.update_one({"_id": day, "n": doc["n"]}, {"$set": {"entries": merged, "n": k}})
    else:
        insert_new(db.staff_recent, {"_id": day, "entries": merged, "n": k, "b": b})


SINCE_STEP = timedelta(seconds=10)


def set_since(db, t) -> None:
    """The feed time, once a pass has applied every change it read from it (never moved back; and not
    rewritten for less than SINCE_STEP: a staff page's pass writes nothing when nothing changed)."""
    db.staff_totals.update_one({"_id": TOTALS, "since": {"$lt": t - SINCE_STEP}}, {"$set": {"since": t}})


def today() -> date:
    return clock.today()
