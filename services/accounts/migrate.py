"""The start-up migration from before accounts: every person becomes the owner of an account of their own,
whose id is their username, so the wallet (keyed by that id) keeps its balance and history untouched.

Runs from services.schema at every start (the API, the dashboard, the worker, `make run`); once it has
finished, a mark (`accounts_meta/backfill`) makes it a single read. It is idempotent and killable: each
account is one insert that a repeat finds done, and the mark is written last, so a kill -9 at any point
is finished by the next start and ends the same way.
"""
from __future__ import annotations

from services import clock, users
from services.accounts import teams

MARK = "backfill"


def backfill(db) -> int:
    """Accounts for every person who has none yet; the number made (0 once done)."""
    if db.accounts_meta.find_one({"_id": MARK}) is not None:
        return 0
    made = 0
    for u in users.list_all(db, limit=10**9):
        made += teams.create(db, u["username"], u["name"], u["username"], by="migration")
    db.accounts_meta.update_one({"_id": MARK}, {"$set": {"at": clock.now(), "made": made}}, upsert=True)
    return made
