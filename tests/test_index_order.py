"""services.index_order: a find or count hinted with a single-field index walks that index on the embedded
engine (no scan of the collection) and answers exactly what the engine's own plan answers: the same
documents, in the same order, with skip, limit, counts and projections; arrays, missing fields, other
types and updates included. Where it cannot (an array in the field, a filter on another field, a sort on
another field), the engine's own plan runs."""
from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from services import db as dbmod

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every SQL statement run by the connections opened from now on (reads use connections of their own)."""
    out: list[str] = []
    connect = sqlite3.connect

    def traced_connect(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(out.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced_connect)
    return out


@pytest.fixture
def traced(tmp_path, statements):
    """An embedded collection of 1,500 documents with indexed fields of every kind, and the SQL run after."""
    from mongoeco import MongoClient
    engine = dbmod._patient_engine()(str(tmp_path / "e.sqlite"), aggregation_materialization_limit=None)
    client = MongoClient(engine)
    coll = client["t"]["rows"]
    for f in ("v", "s", "t", "arr"):
        coll.create_index([(f, 1)])
    rnd = random.Random(31)
    docs = []
    for i in range(1500):
        d = {"_id": f"id{rnd.randint(0, 99999):05d}-{i}", "arr": i}
        if rnd.random() < 0.9:  # numbers of every width, floats, zero; some missing
            d["v"] = rnd.choice([rnd.randint(-10**6, 10**6), rnd.random() * 1000, 2**40 + i, 0, -(2**33)])
        elif rnd.random() < 0.5:
            d["v"] = rnd.choice(["text", None, {"k": 1}])  # other types: never inside a numeric range
        if rnd.random() < 0.9:
            d["s"] = rnd.choice(["", "a", "ab", "b", "Z", "é", "a" * 5]) + str(rnd.randint(0, 50))
        if rnd.random() < 0.9:
            d["t"] = T0 + timedelta(milliseconds=rnd.randint(0, 10**9))
        docs.append(d)
    coll.insert_many(docs)
    for d in rnd.sample(docs, 200):  # index entries follow updates
        coll.update_one({"_id": d["_id"]}, {"$set": {"v": rnd.randint(-50, 50), "t": T0 + timedelta(days=3)}})
    coll.update_one({"_id": docs[0]["_id"]}, {"$set": {"arr": [1, 2, 3]}})  # an array in `arr` only
    statements.clear()
    yield coll, statements
    client.close()


def _scanned(statements: list[str]) -> bool:
    """Whether a statement tested documents one by one (json_extract over the collection)."""
    return any("FROM documents" in s and "json_" in s for s in statements)


CASES = [  # (field, filter, sort, skip, limit)
    ("v", {"v": {"$gte": 0}}, 1, 0, None),
    ("v", {"v": {"$gt": -100, "$lte": 100}}, -1, 0, None),
    ("v", {"v": {"$gte": 0}}, -1, 5, 20),
    ("v", {"v": {"$lt": 2**41}}, -1, 0, 7),
    ("v", {"v": 0}, 1, 0, None),
    ("v", {"v": {"$gte": 0, "$lt": 10**5}}, 1, 100, None),
    ("s", {"s": {"$gte": "a"}}, 1, 0, None),
    ("s", {"s": {"$gte": "", "$lt": "b"}}, -1, 3, 50),
    ("s", {"s": "ab7"}, 1, 0, None),
    ("t", {"t": {"$gte": T0 + timedelta(days=3)}}, 1, 0, None),
    ("t", {"t": {"$gte": T0 + timedelta(days=3), "$lt": T0 + timedelta(days=5, milliseconds=3)}}, -1, 0, 40),
    ("t", {"t": {"$gte": datetime(2026, 1, 4, 5, 30)}}, 1, 0, None),  # noqa: DTZ001  (a naive bound means UTC)
]


def _ask(coll, field, flt, sort, skip, limit, hinted: bool):
    cur = coll.find(flt, {"_id": 1, field: 1}).sort(field, sort)
    if skip:
        cur = cur.skip(skip)
    if limit:
        cur = cur.limit(limit)
    if hinted:
        cur = cur.hint([(field, 1)])
    return list(cur)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_hinted_reads_answer_what_the_engine_answers_without_a_scan(traced, case):
    coll, sql = traced
    field, flt, sort, skip, limit = CASES[case]
    sql.clear()
    hinted = _ask(coll, field, flt, sort, skip, limit, hinted=True)
    counted = coll.count_documents(flt, hint=[(field, 1)])
    assert sql and not _scanned(sql)
    assert counted == coll.count_documents(flt)
    plain = _ask(coll, field, flt, sort, skip, limit, hinted=False)
    assert hinted and [d[field] for d in hinted] == [d[field] for d in plain]  # the same values in order
    if not skip and not limit:
        assert {d["_id"] for d in hinted} == {d["_id"] for d in plain}
    keys = [d[field] for d in hinted]
    assert keys == sorted(keys, reverse=sort == -1)


@pytest.mark.parametrize("field, flt, direction, skip, limit", [
    ("v", {"v": {"$gte": -50, "$lte": 50}}, -1, 3, 400), ("v", {"v": {"$lte": 0}}, 1, 3, 400),
    ("s", {"s": {"$gte": ""}}, -1, 3, 400), ("s", {"s": {"$gte": ""}}, -1, 0, 1500),
    ("v", {"v": {"$lte": 0}}, -1, 0, 10), ("v", {"v": {"$lte": 0}}, -1, 40, 100),  # a page inside the run of 0s
    ("v", {"v": {"$lte": 0}}, -1, 5000, 10)])  # past the end
def test_a_sort_on_the_field_then_the_id_walks_the_index_and_orders_ties_by_id(traced, field, flt, direction,
                                                                              skip, limit):
    coll, sql = traced
    order = [(field, direction), ("_id", 1)]
    sql.clear()
    hinted = [(d[field], d["_id"]) for d in coll.find(flt).sort(order).skip(skip).limit(limit).hint([(field, 1)])]
    assert sql and not _scanned(sql)
    plain = [(d[field], d["_id"]) for d in coll.find(flt).sort(order).skip(skip).limit(limit)]
    assert hinted == plain
    assert skip >= 1500 or len({v for v, _ in hinted}) < len(hinted), "the data has ties, in id order"
    # the same page without the explicit tie-break: equal keys still by id
    assert [(d[field], d["_id"]) for d in coll.find(flt).sort(field, direction).skip(skip).limit(limit)
            .hint([(field, 1)])] == plain


def test_counts_read_the_index(traced):
    coll, sql = traced
    sql.clear()
    counted = coll.count_documents({"v": {"$gte": 0}}, hint=[("v", 1)])
    assert sql and not _scanned(sql)
    assert counted == sum(1 for d in coll.find({}, {"v": 1}) if type(d.get("v")) in (int, float) and d["v"] >= 0)


def test_string_ids_in_order_by_the_primary_key(traced):
    coll, sql = traced
    sql.clear()
    page = [d["_id"] for d in coll.find({"_id": {"$gt": "id5"}}).sort("_id", 1).limit(30).hint("_id_")]
    back = [d["_id"] for d in coll.find({"_id": {"$lt": "id5"}}).sort("_id", -1).skip(2).limit(10).hint("_id_")]
    assert not _scanned(sql)
    every = sorted(d["_id"] for d in coll.find({}, {"_id": 1}))
    assert page == [i for i in every if i > "id5"][:30]
    assert back == [i for i in reversed(every) if i < "id5"][2:12]


def test_what_it_cannot_answer_is_left_to_the_engine(traced):
    coll, sql = traced
    # An array stored in the field: the scalar entries alone would miss it.
    got = sorted(d["_id"] for d in coll.find({"arr": {"$gte": 2, "$lte": 3}}).hint([("arr", 1)]))
    assert coll.find_one({"arr": [1, 2, 3]})["_id"] in got
    assert got == sorted(d["_id"] for d in coll.find({"arr": {"$gte": 2, "$lte": 3}}))
    # A second field in the filter, a sort on another field, null: the engine's own plan.
    for flt, sort in (({"v": {"$gte": 0}, "s": "a1"}, "v"), ({"v": {"$gte": 0}}, "s"), ({"v": None}, "v")):
        a = [d["_id"] for d in coll.find(flt).sort([(sort, 1), ("_id", 1)]).hint([("v", 1)])]
        b = [d["_id"] for d in coll.find(flt).sort([(sort, 1), ("_id", 1)])]
        assert a == b


def test_another_process_sees_the_index_as_written(tmp_path):
    """Two clients of one file (two processes' engines): entries written by one are read by the other."""
    from mongoeco import MongoClient
    path = str(tmp_path / "two.sqlite")
    ca = MongoClient(dbmod._patient_engine()(path, aggregation_materialization_limit=None))
    cb = MongoClient(dbmod._patient_engine()(path, aggregation_materialization_limit=None))
    a, b = ca["t"]["w"], cb["t"]["w"]
    a.create_index([("at", 1)])
    a.insert_many([{"_id": f"w{i}", "at": T0 + timedelta(seconds=i)} for i in range(50)])
    assert len(list(b.find({"at": {"$gte": T0 + timedelta(seconds=45)}}).hint([("at", 1)]))) == 5
    a.update_one({"_id": "w3"}, {"$set": {"at": T0 + timedelta(hours=1)}})
    got = [d["_id"] for d in b.find({"at": {"$gte": T0 + timedelta(seconds=45)}}).sort("at", 1).hint([("at", 1)])]
    assert got == ["w45", "w46", "w47", "w48", "w49", "w3"]
    ca.close()
    cb.close()


def test_reopening_the_file_keeps_the_entries_without_rebuilding_them(tmp_path, statements):
    """services.engine (7): a process opening the file does not rewrite every index from every document."""
    from mongoeco import MongoClient
    path = str(tmp_path / "again.sqlite")
    first = MongoClient(dbmod._patient_engine()(path, aggregation_materialization_limit=None))
    first["t"]["w"].create_index([("at", 1)])
    first["t"]["w"].insert_many([{"_id": f"w{i}", "at": T0 + timedelta(seconds=i)} for i in range(50)])
    first.close()
    statements.clear()
    again = MongoClient(dbmod._patient_engine()(path, aggregation_materialization_limit=None))
    got = [d["_id"] for d in again["t"]["w"].find({"at": {"$gte": T0 + timedelta(seconds=47)}}).hint([("at", 1)])]
    assert sorted(got) == ["w47", "w48", "w49"]
    assert not any("scalar_index_entries" in s and ("DELETE" in s or "INSERT" in s) for s in statements)
    again.close()


def test_the_trace_sees_a_scan(traced):
    """The check above is not vacuous: the same read without the hint is a scan, and the trace shows it."""
    coll, sql = traced
    sql.clear()
    list(coll.find({"v": {"$gte": 0}}).sort("v", 1).limit(5))
    assert _scanned(sql)
