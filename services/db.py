"""The database: real MongoDB when MONGODB_URI is set, else the embedded mongoeco engine on SQLite.

Every service takes a `db` (a pymongo-compatible Database) as its first argument, so tests can hand
it any target. `get_db()` is the process-wide default. Where it lives comes from services.config.

The data folder holds password hashes, the ledger and the cookie key: it is 0700 and every file in it
0600 (`private_dir`, `write_private`; the SQLite file is made 0600 before SQLite opens it, and SQLite
gives its -wal and -shm files the mode of the database file).
"""
from __future__ import annotations

import os
import stat
import threading
import time
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
    "login_attempts": [[("username", 1)]],
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
        return pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000)[name]
    from mongoeco import MongoClient
    if path is None:
        path = private_dir(data_dir()) / "wallet.sqlite"
    # No materialisation cap: audits and exports aggregate over the whole ledger.
    engine = _patient_engine()(str(path), aggregation_materialization_limit=None)
    return MongoClient(engine)[name]


def _patient_engine():
    """mongoeco's SQLite engine as the wallet runs it (services.engine)."""
    from services.engine import patient_engine
    return patient_engine()


PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


def private_dir(path: str | os.PathLike) -> Path:
    """`path`, created if missing and made 0700 - unless it is a shared sticky folder such as /tmp,
    which is left alone (what goes into it is 0600 all the same)."""
    p = Path(path)
    p.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    mode = p.stat().st_mode
    if not (mode & stat.S_ISVTX and mode & stat.S_IWOTH) and stat.S_IMODE(mode) != PRIVATE_DIR:
        p.chmod(PRIVATE_DIR)
    return p


def write_private(path: str | os.PathLike, text: str) -> None:
    """Write `text` to a file only this user may read or write: 0600 from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)  # a file that existed keeps its old mode through os.open
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _private_sqlite(path) -> None:
    """Create the SQLite file 0600 before SQLite opens it (its -wal and -shm take the same mode), and
    fix the mode of any of them made before this rule (and of the writer lock file beside them)."""
    path = str(path)
    if path == ":memory:" or path.startswith("file:"):
        return
    # Never open and close a file that exists: closing any descriptor of a file drops every POSIX lock
    # this process holds on it, SQLite's included (sqlite.org/howtocorrupt.html, 2.2). A process opening
    # its second connection did exactly that, and another process's checkpoint then truncated pages
    # under a live reader ("disk I/O error", SQLITE_IOERR_SHORT_READ, after a SIGKILL test's restarts).
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, PRIVATE_FILE))
    except FileExistsError:
        pass
    for p in (path, path + "-wal", path + "-shm", path + "-writer"):  # -writer: services/engine.py WriterLock
        try:
            if stat.S_IMODE(os.stat(p).st_mode) != PRIVATE_FILE:
                os.chmod(p, PRIVATE_FILE)
        except FileNotFoundError:
            pass


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
            _create_index(db[coll], spec)
    from services.calls import days
    days.backfill(db)  # once: calls from before the by-day index


def _create_index(coll, spec, attempts: int = 20) -> None:
    """Create an index (a no-op if it exists). Two processes preparing one new embedded database at once
    (uvicorn's workers) race on it: SQLite then says the index "already exists" or the file "is locked"
    (3 processes: a failure in each of 5 trials). Waiting and asking again finds it made."""
    import sqlite3
    for attempt in range(attempts):
        try:
            coll.create_index(spec)
            return
        except sqlite3.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


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
