"""Processes preparing one new embedded database at once (uvicorn's workers on a first start) all come up:
on the engine's own create_index, 3 processes failed with "index ... already exists" or "database is
locked" in each of 5 trials."""
from __future__ import annotations

from services import db as dbmod, schema
from tests.support import processes


def _prepare(path: str, out, start) -> None:
    try:
        db = dbmod.open_db(uri="", name="wallet", path=path)
        start.wait(60)
        schema.ensure_schema(db)
        out.put("ok")
    except BaseException as exc:  # the parent must hear of it
        out.put(repr(exc)[:200])


def test_three_processes_prepare_one_new_database_at_once(tmp_path):
    ctx = processes.warm()
    for trial in range(3):
        path = str(tmp_path / f"w{trial}.sqlite")
        out, start = ctx.Queue(), ctx.Barrier(3)
        procs = [processes.start(_prepare, path, out, start) for _ in range(3)]
        results = [out.get(timeout=180) for _ in procs]
        for p in procs:
            p.join(30)
        assert results == ["ok"] * 3, (trial, results)
    db = dbmod.open_db(uri="", name="wallet", path=path)
    try:
        assert {"user_id_1_started_at_-1", "status_1"} <= set(db.calls.index_information())
    finally:  # an embedded client left open is closed at interpreter exit, where it may crash the process
        dbmod.client_of(db).close()
