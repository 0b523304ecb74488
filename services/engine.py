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
"""
from __future__ import annotations

from services import config

_Patient = None


def patient_engine():
    """The engine class (built on first use: mongoeco is imported only when the embedded engine is)."""
    global _Patient
    if _Patient is None:
        _Patient = _build()
    return _Patient


def string_id(plan) -> str | None:
    """The string an `_id` equality in `plan` (alone, or one clause of a top-level AND) asks for."""
    from mongoeco.core.query_plan import AndCondition, EqualsCondition
    clauses = plan.clauses if isinstance(plan, AndCondition) else (plan,)
    for c in clauses:
        if isinstance(c, EqualsCondition) and c.field == "_id" and type(c.value) is str:
            return c.value
    return None


def _build():
    from mongoeco.core.filtering import QueryEngine
    from mongoeco.core.projections import apply_projection
    from mongoeco.core.query_plan import AndCondition, EqualsCondition
    from mongoeco.engines import SQLiteEngine
    from mongoeco.engines._sqlite_connection import sqlite_read_scope

    from services.db import _private_sqlite

    class PatientSQLiteEngine(SQLiteEngine):
        def _create_sqlite_connection(self):
            _private_sqlite(self._path)
            conn = super()._create_sqlite_connection()
            conn.execute("PRAGMA busy_timeout = 60000")
            if config.get().sqlite_sync == "full":
                conn.execute("PRAGMA synchronous = FULL")
            return conn

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
