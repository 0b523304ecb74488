"""The database targets of the service tests: the embedded engine in process, real pymongo over the wire
to mongoeco's wire server, and real MongoDB when MONGODB_URI is set (skipped otherwise)."""
from __future__ import annotations

import asyncio
import os
import threading
import uuid

import pytest

from services import schema
from services import db as dbmod

TARGETS = ["embedded", "wire", "mongodb"]


class WireServer:
    """mongoeco's wire-protocol server on a free 127.0.0.1 port, in a thread with its own loop."""

    def __init__(self, path: str):
        from mongoeco.wire import AsyncMongoEcoProxyServer
        self._ready = threading.Event()
        self._box: dict = {}

        def run():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)

            async def main():
                srv = AsyncMongoEcoProxyServer(
                    engine=dbmod._patient_engine()(path, aggregation_materialization_limit=None),
                    host="127.0.0.1", port=0)
                await srv.start()
                self._box.update(srv=srv, loop=loop, stop=asyncio.Event())
                self._ready.set()
                await self._box["stop"].wait()
                await srv.close()

            loop.run_until_complete(main())

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("wire server did not start")
        self.port = self._box["srv"].address.port
        self.uri = f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def stop(self):
        loop = self._box["loop"]
        loop.call_soon_threadsafe(self._box["stop"].set)
        self._thread.join(10)


def make_target(target: str, tmp_path, request):
    """A fresh, empty database on `target` plus the (uri, name, path) needed to reopen it elsewhere."""
    name = "t_" + uuid.uuid4().hex[:12]
    if target == "embedded":
        path = str(tmp_path / "wallet.sqlite")
        db = dbmod.open_db(uri="", name=name, path=path)
        spec = {"uri": "", "name": name, "path": path}
    elif target == "wire":
        srv = request.getfixturevalue("wire_server")
        db = dbmod.open_db(uri=srv.uri, name=name)
        spec = {"uri": srv.uri, "name": name, "path": None}
    else:
        uri = os.environ.get("MONGODB_URI")
        if not uri:
            pytest.skip("MONGODB_URI not set: no real MongoDB to test against")
        db = dbmod.open_db(uri=uri, name=name)
        spec = {"uri": uri, "name": name, "path": None}
        request.addfinalizer(lambda: dbmod.client_of(db).drop_database(name))
    schema.ensure_schema(db)
    request.addfinalizer(dbmod.client_of(db).close)
    return db, spec


def open_spec(spec: dict):
    """Reopen a target's database from its spec (in a child process)."""
    return dbmod.open_db(uri=spec["uri"], name=spec["name"], path=spec["path"])
