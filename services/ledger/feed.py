"""The ledger as a feed: for readers that follow every wallet's entries in order (low-balance alerts).

A wallet numbers its entries 1, 2, 3 ... (`n`); a follower keeps the last number it handled and asks
for what came after. Entries are read by primary key; one still riding in the wallet's `pending` (its
ledger insert not done yet) ends the batch, so a follower never skips an entry and sees each one as it
will stay.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterator

from services import clock
from services.ledger import ids, queries


def heads(db) -> Iterator[tuple[str, int, datetime | None]]:
    """(user_id, entries so far, created_at) of every wallet, in one pass."""
    for w in db.wallets.find({}, {"n": 1, "created_at": 1}):
        yield w["_id"], int(w.get("n", 0)), clock.as_utc(w.get("created_at"))


def entries_after(db, user_id: str, after: int, upto: int, limit: int = 500) -> list[dict]:
    """The wallet's entries numbered after+1 .. upto (at most `limit`), oldest first, stopping at the
    first one not in the ledger yet."""
    ids.check_user_id(user_id)
    out = []
    for k in range(after + 1, min(upto, after + limit) + 1):
        e = queries.get_entry(db, ids.entry_id(user_id, k))
        if e is None:
            break
        out.append(e)
    return out
