"""Reads in index order on the embedded engine: a find or a count hinted with a single-field index.

MongoDB answers `find({f: range}).sort(f).skip(s).limit(n).hint([(f, 1)])` by walking that index. mongoeco's
SQLite engine keeps the entries of such an index in a table of its own (the field's type, an order-keeping
key, the document's storage key), but its reads do not walk it: a filter on an indexed field tests every
document with json_extract (200-500 ms at 100,000 documents), and a sort first scans the collection for
arrays. `plan` answers such a read from the index entries instead, when that gives MongoDB's answer:
- the filter is on the hinted field only: $eq, $gt, $gte, $lt or $lte, every value of one type (numbers,
  strings, dates, booleans). A document without the field, or with an array or an object there, matches
  none of these in MongoDB either;
- the sort, if any, is that field, or that field then `_id` ascending (equal keys come in storage-key
  order, ascending either way: by id);
- no array was ever stored in the field, and the index is neither sparse, partial nor collated.
The `_id_` index is the primary key: string ids in the order of their storage keys (`repr` of the id:
the strings' own order for ids without quotes or backslashes, which is every id this project makes).
Anything else returns None and the engine plans the read as before (the same answer, by a scan).
Cost: what the read returns (plus the skipped entries), whatever the collection's size. A descending
page walks the index backwards to the end of its last run of equal keys and puts each run in id order
(SQLite would sort every entry for `key DESC, id ASC`); a descending read without a limit is sorted.
"""
from __future__ import annotations

DESC_PAGE = 5000  # a descending page up to this far in walks the index backwards (_desc_page)
_OPS = {"GreaterThanCondition": ">", "GreaterThanOrEqualCondition": ">=", "LessThanCondition": "<",
        "LessThanOrEqualCondition": "<=", "EqualsCondition": "="}


def bounds(query_plan, field: str) -> list[tuple[str, object]] | None:
    """[(sql operator, value)] of a filter made only of comparisons on `field` ([] for no filter), else None."""
    kind = type(query_plan).__name__
    if kind == "MatchAll":
        return []
    if kind == "AndCondition":
        out = []
        for clause in query_plan.clauses:
            got = bounds(clause, field)
            if got is None:
                return None
            out += got
        return out
    if kind in _OPS and getattr(query_plan, "field", None) == field:
        if kind == "EqualsCondition" and (query_plan.value is None or query_plan.null_matches_undefined):
            return None  # null also matches a missing field, which has no index entry
        return [(_OPS[kind], query_plan.value)]
    return None


def _order(semantics, field: str) -> str | None:
    """"ASC"/"DESC" for no sort, a sort on `field` alone, or on `field` then `_id` ascending (the order
    equal keys come in anyway); None for any other sort."""
    sort = list(semantics.sort or ())
    if not sort:
        return "ASC"
    if len(sort) == 2 and tuple(sort[1]) == ("_id", 1) and field != "_id":
        sort = sort[:1]
    if len(sort) != 1 or sort[0][0] != field:
        return None
    return "DESC" if sort[0][1] == -1 else "ASC"


def _window(semantics) -> tuple[str, tuple]:
    if semantics.limit is None and not semantics.skip:
        return "", ()
    return " LIMIT ? OFFSET ?", (-1 if semantics.limit is None else int(semantics.limit), int(semantics.skip))


def plan(engine, db_name: str, coll_name: str, semantics, hint):
    """An execution plan reading the hinted index in order, or None (see the module's doc)."""
    from mongoeco.engines.sqlite_planner import SQLiteReadExecutionPlan

    if semantics.collation is not None or semantics.text_query is not None:
        return None
    index = engine._resolve_hint_index(db_name, coll_name, hint)
    if index is None or len(index.get("fields") or ()) != 1:
        return None
    field = index["fields"][0]
    where = bounds(semantics.query_plan, field)
    direction = _order(semantics, field)
    if where is None or direction is None:
        return None
    tail, more = _window(semantics)
    if field == "_id":
        built = _by_storage_key(engine, db_name, coll_name, where, direction)
    elif direction == "DESC" and semantics.limit and 0 < int(semantics.limit) + int(semantics.skip or 0) <= DESC_PAGE:
        built = _desc_page(engine, db_name, coll_name, index, where, int(semantics.skip or 0), int(semantics.limit))
        tail, more = "", ()  # the page is cut already
    else:
        built = _by_entries(engine, db_name, coll_name, index, where, direction)
    if built is None:
        return None
    sql, params = built
    return SQLiteReadExecutionPlan(semantics=semantics, strategy="sql", execution_lineage=(), physical_plan=(),
                                   use_sql=True, sql=sql + tail, params=params + more)


def _by_entries(engine, db_name, coll_name, index, where, direction):
    found = _entries(engine, db_name, coll_name, index, where)
    if found is None:
        return None
    cond, params, _ = found
    e = "scalar_index_entries"
    sql = (f"SELECT documents.document FROM {e} INDEXED BY {engine._quote_identifier(index['scalar_physical_name'])} "
           f"JOIN documents ON documents.db_name = ? AND documents.coll_name = ? "
           f"AND documents.storage_key = {e}.storage_key WHERE {cond}")
    sql += f" ORDER BY {e}.element_key {direction}, {e}.storage_key"  # equal keys by id, either way
    return sql, (db_name, coll_name) + params


def _desc_page(engine, db_name, coll_name, index, where, skip: int, limit: int):
    """A page in descending order with equal keys by id ascending. SQLite cannot walk the index for
    `key DESC, storage_key ASC` and sorted every entry of it (96 ms for 10 rows at 100,000); so the
    entries are walked backwards (index order) up to the page's last key, each run of equal keys put in id
    order, and the last run, which may be long (30,000 customers with the same balance), read forwards for
    the ids the page still needs; then the page's documents are read by storage key."""
    found = _entries(engine, db_name, coll_name, index, where)
    if found is None:
        return None
    cond, params, (base, base_params) = found
    e, want = "scalar_index_entries", skip + limit
    indexed = f"{e} INDEXED BY {engine._quote_identifier(index['scalar_physical_name'])}"
    entries = f"{indexed} WHERE {cond}"
    conn = engine._require_connection()
    runs: list[tuple[object, list]] = []
    taken = 0
    for key, sk in conn.execute(f"SELECT {e}.element_key, {e}.storage_key FROM {entries} "
                                f"ORDER BY {e}.element_key DESC, {e}.storage_key DESC", params):
        if not runs or runs[-1][0] != key:
            runs.append((key, []))
        runs[-1][1].append(sk)
        taken += 1
        if taken == want:  # the last run: its first ids, read in order
            last, seen = runs.pop()
            rest = conn.execute(f"SELECT {e}.storage_key FROM {indexed} WHERE {base} AND {e}.element_key = ? "
                                f"ORDER BY {e}.storage_key LIMIT ?", base_params + (last, len(seen))).fetchall()
            runs.append((last, [r[0] for r in reversed(rest)]))
            break
    page = [sk for _, sks in runs for sk in reversed(sks)][skip:want]
    if not page:
        return "SELECT document FROM documents WHERE 0", ()
    rows = ", ".join("(?, ?)" for _ in page)
    sql = (f"WITH page(pos, sk) AS (VALUES {rows}) SELECT documents.document FROM page JOIN documents "
           "ON documents.db_name = ? AND documents.coll_name = ? AND documents.storage_key = page.sk ORDER BY page.pos")
    return sql, tuple(x for i, sk in enumerate(page) for x in (i, sk)) + (db_name, coll_name)


def _entries(engine, db_name, coll_name, index, where):
    """The WHERE clause and its parameters selecting the index entries of `where`, and the same for all
    of the index's entries of that type (no bounds); or None."""
    phys = index.get("scalar_physical_name")
    if not where or not phys or index.get("sparse") or index.get("partial_filter_expression") or \
            index.get("collation"):
        return None
    keys, scores = [], set()
    for op, value in where:
        sig = engine._multikey_value_signature(value)
        if sig is None or sig[0] in ("null", "undefined"):
            return None
        scores.add(engine._multikey_type_score(sig[0]))
        keys.append((op, sig[1]))
    if len(scores) != 1:
        return None  # bounds of two types match nothing in MongoDB; leave that to the engine
    conn = engine._require_connection()
    cid = engine._lookup_collection_id(conn, db_name, coll_name)
    if cid is None or _has_arrays(engine, conn, index, cid):
        return None
    e = "scalar_index_entries"
    base = (f"{e}.collection_id = ? AND {e}.index_name = ? AND {e}.type_score = ?", (cid, index["name"], scores.pop()))
    rng = "".join(f" AND {e}.element_key {op} ?" for op, _ in keys)
    return base[0] + rng, base[1] + tuple(key for _, key in keys), base


def _has_arrays(engine, conn, index, cid: int) -> bool:
    """Whether an array was ever stored in the field: its elements then live among the multikey entries
    (the index's `multikey` flag is set on every index, so it says nothing)."""
    mk = index.get("multikey_physical_name")
    if not mk:
        return False
    row = conn.execute(f"SELECT 1 FROM multikey_entries INDEXED BY {engine._quote_identifier(mk)} "
                       "WHERE collection_id = ? AND index_name = ? LIMIT 1", (cid, index["name"])).fetchone()
    return row is not None


def _by_storage_key(engine, db_name, coll_name, where, direction):
    if any(type(value) is not str for _, value in where):
        return None
    sql = "SELECT document FROM documents WHERE db_name = ? AND coll_name = ?"
    params = [db_name, coll_name]
    for op, value in where:
        sql += f" AND storage_key {op} ?"
        params.append(engine._storage_key(value))
    return sql + f" ORDER BY storage_key {direction}", tuple(params)
