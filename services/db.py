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


def in_order(coll, field: str, *, lo=None, hi=None, projection: dict | None = None, descending: bool = False,
             page: int = 500):
    """Every document with `field` in [lo, hi] (None: open), in the order of `field`, read in pages through
    its single-field index (hinted: an index walk on both engines, services.index_order) so memory stays
    flat. `_id` walks the primary key. Each page starts at the last value given; documents already given
    with that value are told apart by `_id` (exact while they change), or, past a page of them (a large
    group of equal values, as days of rollups), skipped by count (the group is taken as settled). A bound
    is required for a field other than `_id` (documents without the field have no place in its order)."""
    if field != "_id" and lo is None and hi is None:
        raise ValueError("in_order needs a bound on an indexed field other than _id")
    hint = "_id_" if field == "_id" else [(field, 1)]
    proj = None if projection is None else dict(projection, **{field: 1})
    given: set = set()
    edge = hi if descending else lo  # the moving end, and ids given at its value
    while True:
        low, high = (lo, edge) if descending else (edge, hi)
        rng = {k: v for k, v in (("$gte", low), ("$lte", high)) if v is not None}
        cur = coll.find({field: rng} if rng else {}, proj).sort(field, -1 if descending else 1).hint(hint) \
            .batch_size(page)
        by_count = len(given) > page
        docs = list(cur.skip(len(given)).limit(page) if by_count else cur.limit(page + len(given)))
        yield from (d for d in docs if by_count or d["_id"] not in given or d[field] != edge)
        if len(docs) < (page if by_count else page + len(given)):
            return
        last = docs[-1][field]
        at_last = {d["_id"] for d in docs if d[field] == last}
        given = given | at_last if last == edge else at_last
        edge = last
