"""The business's burn order: which lots a debit or a hold draws on first (services.ledger.lots.RULES).

One setting for the whole business, never chosen per operation: `ledger_meta/lots` holds its name. Holds
and debits read it on the hot path, so each process keeps it and reads it again at most every
CHECK_SECONDS: a change reaches every process within that (services.wallet audits who made it).
"""
from __future__ import annotations

import threading
import time

from services import clock
from services.ledger import lots

META_ID = "lots"
CHECK_SECONDS = 5.0
_lock = threading.Lock()
_cache: dict[int, tuple] = {}   # id(db) -> (db, rule, read at)


def rule(db) -> str:
    """The burn order in force (the default until an admin chooses one)."""
    now = time.monotonic()
    with _lock:
        hit = _cache.get(id(db))
    if hit is not None and hit[0] is db and now - hit[2] < CHECK_SECONDS:
        return hit[1]
    doc = db.ledger_meta.find_one({"_id": META_ID}) or {}
    name: str = doc["rule"] if doc.get("rule") in lots.RULES else lots.DEFAULT_RULE
    with _lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[id(db)] = (db, name, now)
    return name


class Lazy:
    """The burn order as a sort key, read only when there is something to order: a wallet with one usable
    lot (most of them) costs no read, even when this process's copy is due for a refresh."""

    def __init__(self, db):
        self.db, self._key = db, None

    def __call__(self, lot):
        if self._key is None:
            self._key = lots.RULES[rule(self.db)]
        return self._key(lot)


def set_rule(db, name: str, *, by: str) -> str:
    """Switch the burn order (for every later debit and hold). Returns the previous rule."""
    lots.check_rule(name)
    old = (db.ledger_meta.find_one({"_id": META_ID}) or {}).get("rule") or lots.DEFAULT_RULE
    db.ledger_meta.update_one({"_id": META_ID}, {"$set": {"rule": name, "by": by, "at": clock.now()}}, upsert=True)
    with _lock:
        _cache.pop(id(db), None)
    return old
