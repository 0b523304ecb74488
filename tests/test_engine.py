"""services.engine: a string `_id` filter reads its one row and never scans the collection, and answers
exactly what the engine answered before (hits, misses, guards, projections, upserts, other id types)."""
from __future__ import annotations

import pytest

from services import db as dbmod


@pytest.fixture
def traced(tmp_path):
    """An embedded database with 300 documents, and the SQL it runs from now on."""
    from mongoeco import MongoClient
    engine = dbmod._patient_engine()(str(tmp_path / "e.sqlite"), aggregation_materialization_limit=None)
    client = MongoClient(engine)
    db = client["t"]
    db.calls.insert_many([{"_id": f"call_{i}", "status": "completed", "n": i} for i in range(300)])
    statements: list[str] = []
    engine._require_connection().set_trace_callback(statements.append)
    yield db, statements
    client.close()


def _scans(statements: list[str]) -> list[str]:
    """The statements that read `documents` other than by storage key (a scan of the collection)."""
    return [s for s in statements if "FROM documents" in s and "storage_key = " not in s]


def test_a_missing_string_id_is_answered_without_a_scan(traced):
    db, sql = traced
    assert db.calls.find_one({"_id": "call_missing"}) is None
    assert db.calls.find_one({"_id": "call_missing", "status": "completed"}) is None
    assert list(db.calls.find({"_id": "call_missing"})) == []
    assert db.calls.update_one({"_id": "call_missing"}, {"$set": {"x": 1}}).matched_count == 0
    assert db.calls.find_one_and_update({"_id": "call_missing"}, {"$set": {"x": 1}}) is None
    assert db.calls.delete_one({"_id": "call_missing"}).deleted_count == 0
    assert sql and _scans(sql) == []


def test_a_guard_that_no_longer_holds_is_answered_without_a_scan(traced):
    db, sql = traced
    assert db.calls.update_one({"_id": "call_7", "status": "active"}, {"$set": {"x": 1}}).matched_count == 0
    assert db.calls.find_one({"_id": "call_7", "n": 8}) is None
    assert db.calls.find_one({"_id": "call_7"})["n"] == 7 and "x" not in db.calls.find_one({"_id": "call_7"})
    assert _scans(sql) == []


def test_hits_answer_as_before(traced):
    db, _ = traced
    assert db.calls.find_one({"_id": "call_5"}) == {"_id": "call_5", "status": "completed", "n": 5}
    assert db.calls.find_one({"_id": "call_5"}, {"n": 1, "_id": 0}) == {"n": 5}
    assert db.calls.find_one({"_id": "call_5", "n": {"$gte": 5}})["n"] == 5
    assert list(db.calls.find({"_id": "call_5"}).skip(1)) == []
    assert [d["n"] for d in db.calls.find({"_id": "call_5"}).limit(3)] == [5]
    res = db.calls.update_one({"_id": "call_5", "status": "completed"}, {"$set": {"status": "refunded"}})
    assert res.matched_count == 1 and db.calls.find_one({"_id": "call_5"})["status"] == "refunded"
    assert db.calls.find_one_and_update({"_id": "call_6", "n": 6}, {"$inc": {"n": 1}},
                                        return_document=True)["n"] == 7
    assert db.calls.delete_one({"_id": "call_9", "n": 9}).deleted_count == 1
    assert db.calls.find_one({"_id": "call_9"}) is None
    assert db.calls.count_documents({}) == 299


def test_upserts_on_a_new_string_id_insert_once(traced):
    db, _ = traced
    for _ in range(3):
        db.calls.update_one({"_id": "day:2026-12-02"}, {"$addToSet": {"c": "call_1"}}, upsert=True)
    assert db.calls.find_one({"_id": "day:2026-12-02"}) == {"_id": "day:2026-12-02", "c": ["call_1"]}


def test_other_id_types_keep_the_engines_own_comparison(traced):
    db, _ = traced
    db.other.insert_many([{"_id": 1, "v": "int"}, {"_id": {"k": "a"}, "v": "doc"}])
    assert db.other.find_one({"_id": 1.0})["v"] == "int"   # numbers compare across types
    assert db.other.find_one({"_id": {"k": "a"}})["v"] == "doc"
    assert db.other.find_one({"_id": "1"}) is None           # a string is not the number
