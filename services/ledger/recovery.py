"""Recovery: finish every posting a crash interrupted, and move old rollup days out of wallets.

After step 2 of a posting the entry is durable inside the wallet (`pending`), written by the same
atomic write as the balance; recovery performs steps 3-5 with the entry exactly as it was computed.
Each step is one a live posting takes too, and each is idempotent, so this is safe at any time, from
any process, beside live traffic (at start, on demand, and from the worker every 30 s: `recover_changed`,
which reads only the wallets changed since its last pass, services.ledger.feed: a crash leaves its entry
in a wallet whose `updated_at` the same write set).
"""
from __future__ import annotations

from services import clock
from services.ledger import cas, feed, packed, rollups, wallets
from services.ledger.batch import record_batch
from services.ledger.record import record

_FIELDS = {"_id": 1, "pending": 1, "days": 1}
CURSOR = "recover"  # ledger_meta/recover: when the worker's last pass started


def recover(db, user_id: str | None = None) -> dict:
    """Every wallet (or `user_id`'s). Returns {"pending_finished": entries recorded, "days_archived": rollup
    days moved}."""
    return _recover(db, db.wallets.find({"_id": user_id}, _FIELDS) if user_id else feed.changed_docs(db, None, _FIELDS))


def recover_changed(db) -> dict:
    """`recover` for the wallets changed since the last pass (the worker's step; the first pass reads all)."""
    t = clock.now()
    since = (db.ledger_meta.find_one({"_id": CURSOR}) or {}).get("since")
    out = _recover(db, feed.changed_docs(db, since, _FIELDS))
    db.ledger_meta.update_one({"_id": CURSOR}, {"$set": {"since": t}}, upsert=True)
    return out


def _recover(db, docs) -> dict:
    finished = archived = 0
    for w in docs:
        pending = w.get("pending") or []
        for e in pending:
            if packed.is_packed(e):  # a batch's entries (services.ledger.batch)
                record_batch(db, e)
            else:
                record(db, e)
            finished += 1
        if pending:
            cas.drop_pending(db, w["_id"], {e["_id"] for e in pending})
        if rollups.closed_days(w):
            archived += cas.archive(db, wallets.read(db, w["_id"]))
    return {"pending_finished": finished, "days_archived": archived}
