"""The database: real MongoDB when MONGODB_URI is set, else the embedded mongoeco engine on SQLite.

Every service takes a `db` (a pymongo-compatible Database) as its first argument, so tests can hand
it any target. `get_db()` is the process-wide default. Where it lives comes from services.config.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from services import config

_lock = threading.Lock()
_default = None

# Collection -> indexes, created idempotently by `ensure_schema`. No unique secondary index on a
# growing collection: uniqueness lives in `_id` (the embedded engine's unique indexes slow down as
# the collection grows; `_id` does not).
INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "ledger": [[("user_id", 1), ("seq", -1)], [("created_at", 1)]],
    "rollups": [[("user_id", 1), ("day", 1)], [("day", 1)]],
    "settings_history": [[("at", -1)]],
    "payment_links": [[("user_id", 1), ("created_at", -1)], [("status", 1)], [("payment_link_id", 1)],
                      [("order_id", 1)]],
    "payment_events": [[("kind", 1), ("at", -1)]],
    "calls": [[("user_id", 1), ("started_at", -1)], [("status", 1)], [("campaign_id", 1)]],
    "campaigns": [[("user_id", 1), ("created_at", -1)]],
    "audit_log": [[("at", -1)]],
    "tokens": [[("username", 1)], [("expires_at", 1)]],
    "alerts": [[("status", 1)]],
}


def data_dir() -> Path:
    return config.get().data_dir


def open_db(uri: str | None = None, name: str | None = None, path: str | os.PathLike | None = None):
    """Open a database. `uri` → real MongoDB via pymongo; else the embedded engine at `path`."""
    cfg = config.get()
    uri = uri if uri is not None else cfg.mongodb_uri
    name = name or cfg.mongodb_db
    if uri:
        import pymongo
        client = pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000)
        return client[name]
    from mongoeco import MongoClient
    if path is None:
        data_dir().mkdir(parents=True, exist_ok=True)
        path = data_dir() / "wallet.sqlite"
    # No materialisation cap: audits and exports aggregate over the whole ledger.
    engine = _patient_engine()(str(path), aggregation_materialization_limit=None)
    return MongoClient(engine)[name]


_Patient = None


def _patient_engine():
    """mongoeco's SQLite engine, waiting up to 60 s for another process's write lock.

    The dashboard, the API and the worker write one file; SQLite's default 5 s busy timeout is
    exceeded on a loaded machine and the write then fails with "database is locked".
    mongoeco opens the file in WAL mode with synchronous=NORMAL (a process crash loses nothing, a power
    cut may lose the last commits); WALLET_SQLITE_SYNC=full makes every commit wait for the disk
    (docs/deploy.md, "Durability").
    """
    global _Patient
    if _Patient is None:
        from mongoeco.engines import SQLiteEngine

        class PatientSQLiteEngine(SQLiteEngine):
            def _create_sqlite_connection(self):
                conn = super()._create_sqlite_connection()
                conn.execute("PRAGMA busy_timeout = 60000")
                if config.get().sqlite_sync == "full":
                    conn.execute("PRAGMA synchronous = FULL")
                return conn

        _Patient = PatientSQLiteEngine
    return _Patient


def get_db():
    """The process-wide database, opened and prepared once."""
    global _default
    with _lock:
        if _default is None:
            db = open_db()
            ensure_schema(db)
            _default = db
        return _default


def ensure_schema(db) -> None:
    for coll, specs in INDEXES.items():
        for spec in specs:
            db[coll].create_index(spec)


def insert_new(coll, doc: dict) -> bool:
    """Insert `doc`; False if its `_id` exists. This is how "seen before?" is asked everywhere: on the
    embedded engine a lookup that misses scans the collection, a duplicate-key insert does not.
    insert_many, because the embedded engine's insert_one takes a slow path."""
    from pymongo.errors import BulkWriteError, DuplicateKeyError
    try:
        coll.insert_many([doc])
        return True
    except DuplicateKeyError:
        return False
    except BulkWriteError as exc:
        errs = exc.details.get("writeErrors", [])
        if errs and all(e.get("code") == 11000 for e in errs):
            return False
        raise


def client_of(db):
    """The client behind a database (pymongo names it `client`, mongoeco `_client`)."""
    return db._client if hasattr(db, "_client") else db.client


def ping(db) -> bool:
    try:
        db.command("ping")
        return True
    except Exception:
        return False
