"""The embedded engine's write path (services/engine.py, points 3-5, 11, 12; services/db.py `_private_sqlite`):
no change-event outbox, writers queued on a lock file and never left holding it (writes run inline from
the sync client), and opening another connection never drops this process's SQLite locks."""
from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
import subprocess
import sys
import threading

import pytest
from pymongo.errors import DuplicateKeyError

from services import db as dbmod, files


def _client(path: str, engine_class):
    from mongoeco import MongoClient
    return MongoClient(engine_class(path, aggregation_materialization_limit=None))


@pytest.fixture
def edb(tmp_path):
    path = str(tmp_path / "w.sqlite")
    client = _client(path, dbmod._patient_engine())
    yield client["t"], path
    client.close()


def _writes(db) -> None:
    db.w.insert_many([{"_id": f"d{i}", "v": 0} for i in range(5)])
    for i in range(20):
        assert db.w.update_one({"_id": "d1", "v": i}, {"$set": {"v": i + 1}}).modified_count == 1
    db.w.insert_one({"_id": "x"})
    db.w.delete_one({"_id": "x"})
    db.w.update_many({}, {"$inc": {"n": 1}})
    db.w.update_one({"_id": "up"}, {"$inc": {"n": 1}}, upsert=True)
    assert db.w.find_one({"_id": "d1"}) == {"_id": "d1", "v": 20, "n": 1}
    assert db.w.count_documents({}) == 6


def _outbox(path: str) -> tuple[int, int]:
    """(change events recorded, change consumers registered) in the file (an event's identity row stays
    after the event itself is delivered and trimmed)."""
    with sqlite3.connect(path) as c:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        count = lambda t: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] if t in tables else 0  # noqa: E731
        return count("change_outbox_identities"), count("change_outbox_consumers")


def test_writes_keep_no_change_events(edb, tmp_path):
    db, path = edb
    _writes(db)
    assert _outbox(path) == (0, 0)
    # mongoeco's own engine, same writes: an event recorded per write (its consumer, dispatching them after
    # each write, is unregistered when the client closes)
    from mongoeco.engines import SQLiteEngine
    plain = _client(str(tmp_path / "plain.sqlite"), SQLiteEngine)
    _writes(plain["t"])
    plain.close()
    events, _ = _outbox(str(tmp_path / "plain.sqlite"))
    assert events >= 20


def _held_elsewhere(path: str) -> bool:
    """Whether another owner holds the writer lock (a new open file description asks without waiting)."""
    fd = os.open(path + "-writer", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def test_a_write_waits_for_the_writer_lock_then_goes_at_once(edb):
    db, path = edb
    db.w.insert_many([{"_id": "a", "v": 0}])
    assert stat.S_IMODE(os.stat(path + "-writer").st_mode) == 0o600
    fd = os.open(path + "-writer", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another writer (another process, as flock sees it) is in a write
    done = threading.Event()
    t = threading.Thread(target=lambda: (db.w.update_one({"_id": "a"}, {"$set": {"v": 1}}), done.set()))
    t.start()
    try:
        assert not done.wait(0.5)  # queued on the lock file, not failed
        with sqlite3.connect(path) as c:  # and not written (a reader never waits for the writer lock)
            docs = [r[0].replace(" ", "") for r in c.execute("SELECT document FROM documents WHERE coll_name = 'w'")]
            assert len(docs) == 1 and '"v":0' in docs[0], docs
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert done.wait(30)
    t.join()
    assert db.w.find_one({"_id": "a"})["v"] == 1
    assert not _held_elsewhere(path)


def test_an_index_another_process_is_making_is_waited_for_then_found_made(edb, tmp_path):
    """Point 11: reading the catalog and making the index is one turn per file. Here the other process
    holds the turn and makes the index meanwhile (a plain mongoeco client: no turns); the wait ends with
    the index found, not made twice ("index ... already exists" failed a loaded suite)."""
    from mongoeco.engines import SQLiteEngine
    db, path = edb
    db.w.insert_many([{"_id": "a", "k": 1}])
    db.w.create_index("j")  # this process has read the collection's catalog
    fd = os.open(path + "-indexes", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    out: list = []
    t = threading.Thread(target=lambda: out.append(db.w.create_index("k")))
    t.start()
    try:
        assert not t.join(0.5) and not out, "made an index while another process held the turn"
        other = _client(path, SQLiteEngine)
        other["t"].w.create_index("k")
        other.close()
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    t.join(30)
    assert out == ["k_1"], out  # one attempt, no error
    assert set(db.w.index_information()) == {"_id_", "j_1", "k_1"}
    assert stat.S_IMODE(os.stat(path + "-indexes").st_mode) == 0o600


def test_a_failed_write_lets_go_of_the_writer_lock(edb):
    db, path = edb
    db.w.insert_many([{"_id": "a", "v": 0}])
    with pytest.raises(DuplicateKeyError):
        db.w.insert_one({"_id": "a"})
    assert not _held_elsewhere(path)
    db.w.create_index("k", unique=True)
    db.w.update_one({"_id": "a"}, {"$set": {"k": 1}})
    with pytest.raises(DuplicateKeyError):  # found inside the write, after the lock was taken
        db.w.update_one({"_id": "b"}, {"$set": {"k": 1}}, upsert=True)
    assert not _held_elsewhere(path)
    assert db.w.update_one({"_id": "a", "v": 0}, {"$set": {"v": 1}}).modified_count == 1
    assert not _held_elsewhere(path)


_PROBE = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    c.execute("BEGIN IMMEDIATE")
    print("took it")
except sqlite3.OperationalError:
    print("locked")
"""


def test_opening_another_connection_keeps_this_process_sqlite_locks(tmp_path):
    path = str(tmp_path / "l.sqlite")
    files.private_sqlite(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # this process now holds SQLite's write lock (a POSIX lock)
    files.private_sqlite(path)  # what every new engine connection runs first
    probe = subprocess.run([sys.executable, "-c", _PROBE, path], capture_output=True, text=True, timeout=60,
                           check=False)
    holder.rollback()
    holder.close()
    assert probe.stdout.strip() == "locked", probe.stderr
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# services.bson_check: the same answers as mongoeco's own check, on every kind of value a document holds.
class _Text(str):
    pass


class _Doc(dict):
    pass


def _bson_values():
    import decimal
    import uuid
    from datetime import datetime, timezone
    from bson import Decimal128, ObjectId
    aware = datetime(2026, 12, 7, tzinfo=timezone.utc)
    naive = aware.replace(tzinfo=None)  # what the engine hands back
    ok = ["x", "", True, False, None, 0, 1, -1, 2 ** 31, 2 ** 63 - 1, -(2 ** 63), 1.5, float("nan"), float("inf"),
          aware, naive, b"raw", decimal.Decimal("1.10"), Decimal128("2.5"), uuid.uuid4(), ObjectId(), _Text("sub"),
          _Doc(a=1), (1, "two"), [1, [2, {"c": 3}]], {"a": {"b": {"c": [1, 2, {"d": None}]}}, "when": naive}]
    bad = [2 ** 63, -(2 ** 63) - 1, {1: "int key"}, {"a": {"b": {2: "deep int key"}}}, {"s": {1, 2}},
           [frozenset()], {"a": [2 ** 64]}, _Doc({3: "x"}), {"t": (1, 2 ** 70)}]
    return ok, bad


def _outcome(check, value):
    try:
        check(value)
    except Exception as exc:  # the kind of error is the answer
        return type(exc)
    return None


def test_the_faster_value_check_answers_as_mongoeco_does():
    from mongoeco.core import bson_scalars
    from services import bson_check
    bson_check.install()
    ok, bad = _bson_values()
    for v in ok + bad:
        assert _outcome(bson_check.validate, v) is _outcome(bson_scalars.validate_bson_value, v), v
    assert all(_outcome(bson_check.validate, v) is None for v in ok)
    assert all(_outcome(bson_check.validate, v) is not None for v in bad)


def test_values_the_engine_cannot_store_are_still_refused_and_nothing_is_written(edb):
    db, _ = edb
    ok, bad = _bson_values()
    for i, v in enumerate(bad):
        with pytest.raises((TypeError, OverflowError, ValueError)):
            db.bson_probe.insert_one({"_id": f"bad{i}", "v": v})
    assert db.bson_probe.count_documents({}) == 0
    db.bson_probe.insert_one({"_id": "ok", "v": ok[-1], "n": 2 ** 40})
    assert db.bson_probe.find_one({"_id": "ok"})["n"] == 2 ** 40


def _document_indexes(path: str) -> list[str]:
    with sqlite3.connect(path) as c:
        return [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                        "tbl_name = 'documents' AND name GLOB 'idx_*'")]


def test_indexes_put_no_expression_index_on_the_shared_documents_table_and_reads_still_use_them(edb):
    """Point 12: an index is its catalog entry and its entry table, not an expression index that every write
    to any collection recomputes; a hinted, ordered read walks the entries as before."""
    db, path = edb
    db.w.create_index("k")
    db.w.create_index([("u", 1), ("t", -1)])
    db.w.insert_many([{"_id": f"d{i}", "k": i % 7, "u": "a", "t": i} for i in range(50)])
    assert _document_indexes(path) == []
    assert set(db.w.index_information()) == {"_id_", "k_1", "u_1_t_-1"}
    got = [d["k"] for d in db.w.find({"k": {"$gte": 3}}).sort("k", 1).hint([("k", 1)]).limit(10)]
    assert got == sorted(i % 7 for i in range(50) if i % 7 >= 3)[:10]
    assert [d["t"] for d in db.w.find({"u": "a"}).sort("t", -1).hint([("u", 1), ("t", -1)]).limit(3)] == [49, 48, 47]
    assert list(dbmod.in_order(db.w, "k", lo=6, hi=6))[0]["k"] == 6


def test_a_file_made_before_loses_its_document_indexes_once_and_reads_the_same(tmp_path):
    from mongoeco.engines import SQLiteEngine
    path = str(tmp_path / "old.sqlite")
    old = _client(path, SQLiteEngine)
    old["t"].w.create_index("k")
    old["t"].w.insert_many([{"_id": f"d{i}", "k": i} for i in range(20)])
    old.close()
    assert len(_document_indexes(path)) == 1  # mongoeco's own way
    new = _client(path, dbmod._patient_engine())
    try:
        w = new["t"].w
        assert set(w.index_information()) == {"_id_", "k_1"}  # the engine opens the file on first use
        assert _document_indexes(path) == []
        with sqlite3.connect(path) as c:
            assert c.execute("SELECT count(*) FROM indexes WHERE physical_name IS NOT NULL").fetchone() == (0,)
        assert [d["k"] for d in w.find({"k": {"$lt": 5}}).sort("k", -1).hint([("k", 1)])] == [4, 3, 2, 1, 0]
        w.insert_many([{"_id": "late", "k": -1}])
        assert w.find_one({"k": -1}, hint=[("k", 1)])["_id"] == "late"
    finally:
        new.close()


def _entry_indexes(path) -> list[str]:
    with sqlite3.connect(path) as c:
        return sorted(r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                              "(name GLOB 'scidx_*' OR name GLOB 'mkidx_*')"))


def test_every_index_shares_one_physical_index_and_a_drop_leaves_it_to_the_others(edb):
    """Point 13: mongoeco made one physical index per index over the same columns and rows of its entry
    table, so each entry was written into all of them; one serves every index, and dropping an index (or a
    collection, as the staff view's rebuild does) deletes its entries but not the index the others read."""
    db, path = edb
    db.w.create_index("k")
    db.w.create_index("j")
    db.v.create_index("k")
    db.w.insert_many([{"_id": f"d{i}", "k": i % 5, "j": -i} for i in range(30)])
    db.v.insert_many([{"_id": f"v{i}", "k": i} for i in range(10)])
    assert _entry_indexes(path) in (["scidx_shared"], ["mkidx_shared", "scidx_shared"])
    with sqlite3.connect(path) as c:
        assert {r[0] for r in c.execute("SELECT scalar_physical_name FROM indexes WHERE name != '_id_'")} == \
            {"scidx_shared"}
    db.w.drop_index("k_1")
    db.v.drop()
    assert "scidx_shared" in _entry_indexes(path)
    assert [d["j"] for d in db.w.find({"j": {"$gt": -3}}).sort("j", 1).hint([("j", 1)])] == [-2, -1, 0]
    assert set(db.w.index_information()) == {"_id_", "j_1"}
    db.v.create_index("k")
    db.v.insert_many([{"_id": "x", "k": 3}])
    assert db.v.find_one({"k": 3}, hint=[("k", 1)])["_id"] == "x"


def test_a_file_made_before_keeps_one_entry_index_and_reads_the_same(tmp_path):
    from mongoeco.engines import SQLiteEngine
    path = str(tmp_path / "old.sqlite")
    old = _client(path, SQLiteEngine)
    old["t"].w.create_index("k")
    old["t"].w.create_index("j")
    old["t"].w.insert_many([{"_id": f"d{i}", "k": i, "j": 2 * i} for i in range(20)])
    old.close()
    assert len([n for n in _entry_indexes(path) if n.startswith("scidx_")]) == 2  # mongoeco's own way
    new = _client(path, dbmod._patient_engine())
    try:
        w = new["t"].w
        assert set(w.index_information()) == {"_id_", "k_1", "j_1"}  # the engine opens the file on first use
        assert [n for n in _entry_indexes(path) if n.startswith("scidx_")] == ["scidx_shared"]
        assert [d["k"] for d in w.find({"k": {"$lt": 5}}).sort("k", -1).hint([("k", 1)])] == [4, 3, 2, 1, 0]
        assert [d["j"] for d in w.find({"j": {"$gte": 34}}).sort("j", 1).hint([("j", 1)])] == [34, 36, 38]
        w.insert_many([{"_id": "late", "k": -1, "j": -1}])
        assert w.find_one({"k": -1}, hint=[("k", 1)])["_id"] == "late"
    finally:
        new.close()


def test_opening_waits_out_a_file_locked_by_another_opener():
    """Point 1 from the first statement: switching a new file to WAL is refused at once ("database is
    locked") while another connection holds it; the opening tries again instead of failing the process."""
    from services import engine
    tries = []

    def switch():
        tries.append(1)
        if len(tries) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "wal"
    assert engine._with_retries(switch, seconds=5) == "wal" and len(tries) == 3

    def broken():
        raise sqlite3.OperationalError("no such table: x")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        engine._with_retries(broken, seconds=5)

    def always_locked():
        raise sqlite3.OperationalError("database is locked")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        engine._with_retries(always_locked, seconds=0.2)
