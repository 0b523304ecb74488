"""The FastAPI app: `app = create_app()` for uvicorn; tests call `create_app(db=...)` with their own database.

Run: `make api` (uvicorn api.main:app --host 127.0.0.1 --port ${API_PORT:-8800}).
"""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import deps, errors, routes_admin, routes_auth, routes_calls, routes_health, routes_payment, \
    routes_transactions, routes_wallet

ROUTERS = (routes_auth, routes_wallet, routes_payment, routes_transactions, routes_calls, routes_admin,
           routes_health)


def create_app(db=None) -> FastAPI:
    """An app on `db` (default: services.db.get_db(), opened at startup, not at import)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from fastapi.concurrency import run_in_threadpool
        await run_in_threadpool(deps.prepare, app)
        yield

    app = FastAPI(title="Voice platform wallet API", version="1.0.0", lifespan=lifespan,
                  description=__import__("api").__doc__, responses=errors.ERROR_RESPONSES)
    app.state.db = db
    app.state.ready = False
    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    return app


app = create_app()
