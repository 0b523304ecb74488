"""The embedded engine as the wallet runs it: mongoeco's SQLite engine, patient with locks and exact about
string `_id` lookups.

1. It waits up to 60 s for another process's write lock. The dashboard, the API and the worker write one
   file; SQLite's default 5 s busy timeout is exceeded on a loaded machine and the write then fails with
   "database is locked". mongoeco opens the file in WAL mode with synchronous=NORMAL (a process crash
   loses nothing, a power cut may lose the last commits); WALLET_SQLITE_SYNC=full makes every commit
   wait for the disk (docs/deploy.md, "Durability").
2. A filter on a string `_id` reads that one row. mongoeco finds a document by its `_id`'s storage key,
   but when none is there (a key never used, a compare-and-set whose guard no longer holds) it falls
   back to a scan of the whole collection: 220-360 ms at 100k calls, for an answer the storage key has
   already given. A string `_id` is stored under exactly one key (`repr` of the string), so a miss there
   is final; a hit is checked against the whole filter. Other `_id` types (numbers compare across
   int/float/Decimal) keep the engine's own path.
3. It delivers no change events. mongoeco's SQLite engine keeps a transactional outbox for change streams,
   and after every write each client dispatches it: it takes a lease (a write and a commit), starts a
   heartbeat thread, reads the outbox, checkpoints each event (a commit each, every other process's
   events included) and releases the lease (another commit). The wallet never watches a collection, so
   that was four extra commits and a thread per write: a guarded update went from 4.5 ms to 1.8 ms
   without it, and two processes no longer replay each other's writes. The outbox would still get one
   row per write all the same (a "gap" marker, built from the whole document serialized once more and
   hashed); writes are therefore made with publication disabled, which skips it. `watch()` is not
   supported.
4. Writers queue on a lock file. SQLite makes a writer that finds the file locked sleep and retry (1, 2,
   5 ... 100 ms), so two API workers writing at once spent most of a lock's wait asleep after it was
   free: with two processes a guarded update ran slower in total than with one. Each write transaction
   now first takes an exclusive `flock` on `<file>-writer`, which the kernel hands to the next waiter
   the moment it is let go; SQLite's own lock and busy timeout stay underneath, for any other writer.
6. A read hinted with a single-field index walks that index (services.index_order): a range on an
   indexed field, sorted and paged, costs what it returns instead of a scan of the collection.
7. Opening the file does not rebuild the indexes. mongoeco deleted and rewrote the entries of every
   single-field index from every document each time a process opened the file, in one write transaction:
   at 100,000 customers, minutes of start-up for the dashboard, each API worker and the worker, with every
   other writer waiting. `create_index` writes an index's entries and every write keeps them, so only an
   index that has none yet (made by an older mongoeco, without a table of entries) needs that rebuild.
8. Reading a stored document asks once whether the codec's decoder takes `preserve_bson_wrappers`:
   mongoeco called inspect.signature on it for every document read, about 40% of reading a ledger entry.
9. A read hands its documents from the engine's thread to the caller up to 1,000 at a time (mongoeco: 64;
   the cap of 1 MB per hand-over stays): a page of 1,000 ledger entries is one hand-over, not sixteen.
10. A value is checked before it is stored without re-walking it at every level (services.bson_check).
11. Processes make indexes one at a time. mongoeco reads a collection's index catalog, then makes what is
   missing in a write transaction: two processes preparing one new file (uvicorn's workers on a first start)
   both read "missing", and the second failed with "index ... already exists", in a loaded suite 20 times
   in a row (services.db.create_index's retries). An exclusive `flock` on `<file>-indexes` now spans the read
   and the write, and that error also drops the collection's cached catalog before the retry.
12. No index on mongoeco's shared `documents` table. mongoeco keeps every collection in that one table and
   made each ordered index an expression index on it, so every write to any document recomputed every
   index of every collection (57 of them: a ledger hold + settle ran at 87-106/s, 126-128/s without them).
   The engine's reads never use them: a filter tests every document of its collection either way, and an
   ordered read walks the index's own entry table (6.; services.index_order). Indexes are made without
   one, and a file made before has them dropped once, when it is opened (its catalog then names none).
13. One physical index serves all of mongoeco's index entries (services.engine_indexes): it made one per
   index over the same columns and rows, so every entry was written into each (48 by issue 29).
"""
from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import inspect
import os
import sqlite3
import threading
import time

from services import bson_check, config, engine_indexes, index_order

_Patient = None
READ_BATCH = 1000
_writes = [0]  # write transactions this process has opened on the embedded engine (write_transactions)


def patient_engine():
    """The engine class (built on first use: mongoeco is imported only when the embedded engine is)."""
    global _Patient
    if _Patient is None:
        _Patient = _build()
    return _Patient


def write_transactions() -> int:
    """Write transactions this process has opened on embedded databases so far: each holds the file's
    one write lock, so their count per operation is what bounds its rate (bench/api.py's writes_per_call)."""
    return _writes[0]


def string_id(plan) -> str | None:
    """The string an `_id` equality in `plan` (alone, or one clause of a top-level AND) asks for."""
    from mongoeco.core.query_plan import AndCondition, EqualsCondition
    clauses = plan.clauses if isinstance(plan, AndCondition) else (plan,)
    for c in clauses:
        if isinstance(c, EqualsCondition) and c.field == "_id" and type(c.value) is str:
            return c.value
    return None


def _quiet(context):
    """`context` with change publication disabled (no outbox row: nobody reads the outbox)."""
    from mongoeco.core.operation_context import ChangePublicationPolicy
    return None if context is None else context.derive(publication=ChangePublicationPolicy.DISABLED)


def _rebound(operation, context, quiet):
    """`operation` bound to `quiet` where it was bound to `context` (the engine re-binds it and refuses a
    second, different context)."""
    if context is None or getattr(operation, "context", None) is not context:
        return operation
    return dataclasses.replace(operation, context=quiet)


_BUSY_SECONDS = 60.0


def _with_retries(step, seconds: float = _BUSY_SECONDS):
    """`step`, again while SQLite answers "database is locked" without waiting (changing the journal mode
    may: it is refused at once while another connection holds the file), for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _build():
    import mongoeco.engines.sqlite as mongoeco_sqlite
    from mongoeco.core.filtering import QueryEngine
    from mongoeco.core.projections import apply_projection
    from mongoeco.core.query_plan import AndCondition, EqualsCondition
    from mongoeco.engines import SQLiteEngine
    from mongoeco.engines._sqlite_connection import sqlite_read_scope

    from services.files import private_sqlite

    mongoeco_sqlite._ASYNC_SCAN_QUEUE_BATCH_SIZE = READ_BATCH  # 9.
    bson_check.install()  # 10.

    class PatientSQLiteEngine(SQLiteEngine):
        capabilities = dataclasses.replace(SQLiteEngine.capabilities, change_delivery="none")

        # 5. The sync client drives these operations inline, without an event loop; the engine then does
        # the work in the calling thread instead of handing it to its thread pool and waiting.
        # Only these three: reads and the *_many writes scan through an iterator that asks for the loop.
        sync_inline_collection_operations = frozenset({"insert_one", "insert_many", "update_one"})

        async def _run_blocking(self, func, /, *args, **kwargs):
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # driven inline by the sync client: nothing else runs on this thread
                return func(*args, **kwargs)
            return await super()._run_blocking(func, *args, **kwargs)

        async def insert_document(self, *args, operation_context=None, **kwargs):
            return await super().insert_document(*args, operation_context=_quiet(operation_context), **kwargs)

        async def insert_documents(self, *args, operation_context=None, **kwargs):
            return await super().insert_documents(*args, operation_context=_quiet(operation_context), **kwargs)

        async def update_with_operation(self, db_name, coll_name, operation, *args, operation_context=None,
                                        **kwargs):
            quiet = _quiet(operation_context)
            return await super().update_with_operation(
                db_name, coll_name, _rebound(operation, operation_context, quiet), *args, operation_context=quiet,
                **kwargs)

        async def delete_with_operation(self, db_name, coll_name, operation, *args, operation_context=None,
                                        **kwargs):
            quiet = _quiet(operation_context)
            return await super().delete_with_operation(
                db_name, coll_name, _rebound(operation, operation_context, quiet), *args, operation_context=quiet,
                **kwargs)

        async def merge_document(self, *args, operation_context=None, **kwargs):
            return await super().merge_document(*args, operation_context=_quiet(operation_context), **kwargs)

        def _create_sqlite_connection(self):
            private_sqlite(self._path)
            # mongoeco's own opening (WAL, synchronous NORMAL), on the connection class of 13, and patient (1.)
            # from the first statement: its WAL switch ran under SQLite's default 5 s, and a thread opening a new
            # file beside two processes making its indexes on a loaded machine failed "database is locked".
            conn = sqlite3.connect(self._path, timeout=_BUSY_SECONDS, check_same_thread=False,
                                   factory=engine_indexes.connection_class())
            try:
                if self._path != ":memory:":
                    _with_retries(lambda: conn.execute("PRAGMA journal_mode=WAL"))
                    conn.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                conn.close()
                raise
            if config.get().sqlite_sync == "full":
                conn.execute("PRAGMA synchronous = FULL")
            return conn

        @property
        def _writer(self) -> WriterLock:
            lock = self.__dict__.get("_writer_lock")
            if lock is None:
                lock = self.__dict__["_writer_lock"] = WriterLock(self._path)
            return lock

        def _begin_write(self, conn, context):
            outer = not (conn.in_transaction or self._session_runtime.session_owns_transaction(context))
            if outer:
                self._writer.acquire()
                _writes[0] += 1  # a tally, exact when one thread writes (as bench/api.py counts)
            try:
                super()._begin_write(conn, context)
            except BaseException:
                if outer:
                    self._writer.release()
                raise

        def _commit_write(self, conn, context):
            try:
                super()._commit_write(conn, context)
            finally:
                if not conn.in_transaction:
                    self._writer.release()

        def _rollback_write(self, conn, context):
            try:
                super()._rollback_write(conn, context)
            finally:
                if not conn.in_transaction:
                    self._writer.release()

        def _create_index_sync(self, db_name, coll_name, *args, **kwargs):
            lock = self.__dict__.get("_index_lock")
            if lock is None:
                lock = self.__dict__["_index_lock"] = WriterLock(self._path, "-indexes")
            lock.acquire()  # 11.
            try:
                return super()._create_index_sync(db_name, coll_name, *args, **kwargs)
            except sqlite3.OperationalError as exc:
                if "already exists" in str(exc):
                    self._invalidate_index_cache(db_name, coll_name)
                raise
            finally:
                lock.release()

        def _by_string_id(self, db_name, coll_name, plan, context=None):
            """(storage key, document) of the one document a string-`_id` filter can match, or None."""
            sid = string_id(plan)
            conn = self._require_connection(context)
            with self._bind_connection(conn), sqlite_read_scope(conn):
                row = conn.execute("SELECT storage_key, document FROM documents "
                                   "WHERE db_name = ? AND coll_name = ? AND storage_key = ?",
                                   (db_name, coll_name, self._storage_key(sid))).fetchone()
            if row is None:
                return None
            doc = self._deserialize_document(row[1])
            if doc.get("_id") != sid:
                return None
            if isinstance(plan, AndCondition) and not QueryEngine.match_plan(doc, plan):
                return None  # the other clauses of the filter (a compare-and-set's guard)
            return row[0], doc

        def _decode_codec_payload(self, payload, *, preserve_bson_wrappers: bool):
            # 8. The decoder's signature, asked once per engine.
            takes = self.__dict__.get("_decode_takes_wrappers")
            if takes is None:
                try:
                    takes = "preserve_bson_wrappers" in inspect.signature(self._codec.decode).parameters
                except (TypeError, ValueError):
                    takes = False
                self.__dict__["_decode_takes_wrappers"] = takes
            if not takes:
                return self._codec.decode(payload)
            return self._codec.decode(payload, preserve_bson_wrappers=preserve_bson_wrappers)

        def _physical_index_name(self, db_name, coll_name, index_name):
            return None  # 12. (a hinted read without one scans its collection, as an unhinted one does)

        def _physical_scalar_index_name(self, db_name, coll_name, index_name):
            return engine_indexes.SHARED_SCALAR  # 13.

        def _physical_multikey_index_name(self, db_name, coll_name, index_name):
            return engine_indexes.SHARED_MULTIKEY  # 13.

        def _backfill_scalar_indexes_sync(self, conn):
            # 12. Run inside the open's own transaction, so a file is migrated whole or not at all.
            stale = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                                "tbl_name = 'documents' AND name GLOB 'idx_*'")]
            for name in stale:
                conn.execute(f"DROP INDEX IF EXISTS {self._quote_identifier(name)}")
            if stale:
                conn.execute("UPDATE indexes SET physical_name = NULL WHERE physical_name IS NOT NULL")
            engine_indexes.migrate(conn)  # 13.
            # 7. Only when a single-field index has no table of entries yet (its name is given with them).
            missing = conn.execute("SELECT 1 FROM indexes WHERE (scalar_physical_name IS NULL OR "
                                   "scalar_physical_name = '') AND json_array_length(fields) = 1 LIMIT 1").fetchone()
            if missing is not None:
                super()._backfill_scalar_indexes_sync(conn)

        def _compile_read_execution_plan(self, db_name, coll_name, semantics, *, select_clause="document",
                                         hint=None):
            # 6. Finds and counts both come here; a hinted one may walk its index's entries in order.
            if hint is not None and select_clause == "document":
                ordered = index_order.plan(self, db_name, coll_name, semantics, hint)
                if ordered is not None:
                    return ordered
            return super()._compile_read_execution_plan(db_name, coll_name, semantics, select_clause=select_clause,
                                                        hint=hint)

        def _select_first_document_for_plan(self, db_name, coll_name, plan, *, hint=None, context=None):
            # The one-document path of update_one, delete_one, find_one_and_update and find_one.
            if hint is None and string_id(plan) is not None:
                return self._by_string_id(db_name, coll_name, plan, context)
            return super()._select_first_document_for_plan(db_name, coll_name, plan, hint=hint,
                                                           context=context)

        def _stored(self, db_name, coll_name, sid, context=None) -> bool:
            conn = self._require_connection(context)
            with self._bind_connection(conn), sqlite_read_scope(conn):
                return conn.execute("SELECT 1 FROM documents WHERE db_name = ? AND coll_name = ? AND storage_key = ?",
                                    (db_name, coll_name, self._storage_key(sid))).fetchone() is not None

        def _open_scan_documents_sync(self, reader):
            s = reader.semantics
            sid = string_id(s.query_plan)
            if sid is not None and s.hint is None and s.text_query is None and s.collation is None and \
                    not self._is_profile_namespace(reader.coll_name):
                if isinstance(s.query_plan, EqualsCondition) and s.limit == 1 and not s.skip:
                    # find_one by _id: the engine's own path answers a hit; only its miss would scan
                    if not self._stored(reader.db_name, reader.coll_name, sid, reader.context):
                        return iter(())
                    return super()._open_scan_documents_sync(reader)
                hit = self._by_string_id(reader.db_name, reader.coll_name, s.query_plan, reader.context)
                if hit is None or s.skip:
                    return iter(())
                return iter((apply_projection(hit[1], s.projection, selector_filter=s.filter_spec,
                                              dialect=s.dialect),))
            return super()._open_scan_documents_sync(reader)

    return PatientSQLiteEngine


class WriterLock:
    """An exclusive `flock` on `<sqlite file><suffix>`: `-writer`, held by one write transaction at a time
    of this engine (4.), or `-indexes`, held while an index is made (11.); a no-op for an in-memory
    database. Releasing what is not held does nothing: a commit that fails is followed by a rollback, and
    both let go."""

    def __init__(self, path: str, suffix: str = "-writer"):
        self._path = None if path == ":memory:" or str(path).startswith("file:") else f"{path}{suffix}"
        self._fd: int | None = None
        self._held = False
        self._guard = threading.Lock()

    def acquire(self) -> None:
        if self._path is None:
            return
        with self._guard:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o600)
            fd = self._fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            assert self._fd is not None  # held: acquire() opened it
            fcntl.flock(self._fd, fcntl.LOCK_UN)
