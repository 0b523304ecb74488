"""13. One physical index for all of mongoeco's index entries (services.engine).

mongoeco keeps the entries of every single-field index in one table, `scalar_index_entries` (and of
multikey indexes in `multikey_entries`), and gave each logical index its own physical SQLite index on it,
`scidx_<hash>`, every one over the same columns (collection_id, index_name, type_score, element_key,
storage_key) and over every row of the table: with 48 indexes, each index entry written was written into
48 identical b-trees (a ledger hold + settle: 175/s, against 202/s for eb57bdf's 13). One of them serves
every read (each read names its index in `index_name` and walks it `INDEXED BY` that one), so every
logical index names the same physical one, `scidx_shared` (`mkidx_shared`). mongoeco creates an index
with a plain CREATE INDEX and drops it with its index: the connection makes the first `IF NOT EXISTS` and
the second a no-op for the shared ones (dropping an index still deletes its entries). A file made before
is migrated once, when opened, in the open's own transaction.
"""
from __future__ import annotations

SHARED_SCALAR, SHARED_MULTIKEY = "scidx_shared", "mkidx_shared"
_COLUMNS = "(collection_id, index_name, type_score, element_key, storage_key)"
_Connection = None


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_CREATES = tuple(f"CREATE INDEX {quoted(n)} " for n in (SHARED_SCALAR, SHARED_MULTIKEY))
_DROPS = tuple(f"DROP INDEX IF EXISTS {quoted(n)}" for n in (SHARED_SCALAR, SHARED_MULTIKEY))


def connection_class():
    """mongoeco's connection class, with the shared indexes' CREATE made idempotent and their DROP a no-op."""
    global _Connection
    if _Connection is None:
        from mongoeco.engines._sqlite_connection import SQLiteConnection

        class SharedIndexConnection(SQLiteConnection):
            def execute(self, sql, *args):
                if type(sql) is str and sql.startswith(("CREATE INDEX ", "DROP INDEX ")):
                    if sql.startswith(_CREATES):
                        sql = "CREATE INDEX IF NOT EXISTS " + sql[len("CREATE INDEX "):]
                    elif sql.startswith(_DROPS):
                        return super().execute("SELECT 1")  # the other indexes still read through it
                return super().execute(sql, *args)

        _Connection = SharedIndexConnection
    return _Connection


def migrate(conn) -> int:
    """Point a file's catalog at the shared indexes and drop the per-index copies; returns how many went."""
    old = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND (name GLOB 'scidx_*' OR name GLOB 'mkidx_*') "
        "AND name NOT IN (?, ?)", (SHARED_SCALAR, SHARED_MULTIKEY))]
    if not old:
        return 0
    conn.execute(f"CREATE INDEX IF NOT EXISTS {quoted(SHARED_SCALAR)} ON scalar_index_entries {_COLUMNS}")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {quoted(SHARED_MULTIKEY)} ON multikey_entries {_COLUMNS}")
    conn.execute("UPDATE indexes SET scalar_physical_name = ? WHERE scalar_physical_name IS NOT NULL AND "
                 "scalar_physical_name != ''", (SHARED_SCALAR,))
    conn.execute("UPDATE indexes SET multikey_physical_name = ? WHERE multikey_physical_name IS NOT NULL AND "
                 "multikey_physical_name != ''", (SHARED_MULTIKEY,))
    for name in old:
        conn.execute(f"DROP INDEX IF EXISTS {quoted(name)}")
    return len(old)
