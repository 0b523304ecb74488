"""Every collection, the one package that owns it, and its indexes; the process-wide database, opened and
prepared once (`get_db`).

A collection has one owner: only that package reads or writes it (tests/test_layers.py walks the code to
check), so its documents have one shape. Each owner declares `COLLECTIONS` (name -> index specs) and, when
old data needs mending once, `backfill(db)`. No unique secondary index on a growing collection: uniqueness
lives in `_id` (the embedded engine's unique indexes slow down as the collection grows; `_id` does not).
"""
from __future__ import annotations

import threading

from services import (accounts, alerts, auditlog, autorecharge, calls, campaigns, documents, ledger, payments,
                      settings, staffview, tds, tokens, usage, users)
from services.db import create_index, open_db

OWNERS = (users, tokens, auditlog, settings, ledger, accounts, documents, calls, payments, campaigns, alerts,
          autorecharge, usage, tds, staffview)  # staffview last: its backfill reads what the others have mended


def _owners() -> dict[str, str]:
    out: dict[str, str] = {}
    for pkg in OWNERS:
        for name in pkg.COLLECTIONS:
            if name in out:
                raise RuntimeError(f"collection {name!r} declared by {out[name]} and {pkg.__name__}")
            out[name] = pkg.__name__
    return out


OWNER_OF = _owners()
_lock = threading.Lock()
_default = None


def ensure_schema(db) -> None:
    """Indexes (idempotent), then each owner's backfill (each runs its own once-only check)."""
    for pkg in OWNERS:
        for name, specs in pkg.COLLECTIONS.items():
            for spec in specs:
                create_index(db[name], spec)
    for pkg in OWNERS:
        if hasattr(pkg, "backfill"):
            pkg.backfill(db)


def get_db():
    """The process-wide database, opened and prepared once."""
    global _default
    with _lock:
        if _default is None:
            db = open_db()
            ensure_schema(db)
            _default = db
        return _default
