"""Recovery: finish every posting a crash interrupted, and move old rollup days out of wallets.

After step 2 of a posting the entry is durable inside the wallet (`pending`), written by the same
atomic write as the balance; recovery performs steps 3-5 with the entry exactly as it was computed.
Each step is one a live posting takes too, and each is idempotent, so this is safe at any time, from
any process, beside live traffic (at start, from the worker every 30 s, on demand).
"""
from __future__ import annotations

from services.ledger import cas, packed, rollups, wallets
from services.ledger.batch import record_batch
from services.ledger.record import record


def recover(db, user_id: str | None = None) -> dict:
    """Returns {"pending_finished": entries recorded, "days_archived": rollup days moved}."""
    flt = {"_id": user_id} if user_id else {}
    finished = archived = 0
    for w in db.wallets.find(flt, {"_id": 1, "pending": 1, "days": 1}):
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
