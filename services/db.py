"""The database: real MongoDB when MONGODB_URI is set, else the embedded mongoeco engine on SQLite.

Every service takes a `db` (a pymongo-compatible Database) as its first argument, so tests can hand
it any target. Where it lives comes from services.config. This floor knows no collection: each package
declares its own (indexes, backfills), and services.schema collects them and opens the process-wide
database (`schema.get_db()`).

The data folder and its files are private (services.files).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from services import config, files


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
        path = files.private_dir(data_dir()) / "wallet.sqlite"
    # No materialisation cap: audits and exports aggregate over the whole ledger.
    engine = _patient_engine()(str(path), aggregation_materialization_limit=None)
    return MongoClient(engine)[name]


def _patient_engine():
    """mongoeco's SQLite engine as the wallet runs it (services.engine)."""
    from services.engine import patient_engine
    return patient_engine()


def create_index(coll, spec, attempts: int = 20) -> None:
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
