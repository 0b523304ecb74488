"""The FastAPI app: `app = create_app()` for uvicorn; tests call `create_app(db=...)` with their own database.

Run: `make api` (uvicorn api.main:app --host 127.0.0.1 --port ${API_PORT:-8800}). The interactive docs at
`/docs` (Swagger UI) and `/redoc` load their scripts from the installed fastapi-offline package, never
from a CDN, so they work on a machine with no internet.
"""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

import api
from api import deps, errors, limits, routes_admin, routes_auth, routes_calls, routes_health, routes_payment, \
    routes_refunds, routes_transactions, routes_users, routes_wallet
from api import routes_documents, routes_notifications
from api import routes_autorecharge
from api import routes_accounts, routes_keys
from api import routes_gst
from api import routes_usage
from services import config

def operation_id(route) -> str:
    """`<tag>_<function>` (auth_signup, calls_end ...): short, stable ids that api/links.py can name."""
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


ROUTERS = (routes_auth, routes_wallet, routes_payment, routes_transactions, routes_calls, routes_admin,
           routes_health, routes_refunds, routes_notifications, routes_documents,
           routes_autorecharge, routes_users, routes_accounts, routes_keys, routes_gst, routes_usage)


def create_app(db=None) -> FastAPI:
    """An app on `db` (default: services.db.get_db(), opened at startup, not at import)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import anyio.to_thread
        from fastapi.concurrency import run_in_threadpool
        # Sync endpoints share one thread pool. The embedded engine serialises writes anyway, so more
        # threads only add compare-and-set retries and GIL switching; API_THREADS tunes it (default 8).
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.get().api_threads
        await run_in_threadpool(deps.prepare, app)
        yield

    app = FastAPIOffline(title="Voice platform wallet API", version="1.0.0", lifespan=lifespan,
                         description=api.__doc__, responses=errors.ERROR_RESPONSES,
                         # Swagger UI would otherwise fetch a validity badge from validator.swagger.io
                         swagger_ui_parameters={"validatorUrl": None}, generate_unique_id_function=operation_id)
    app.state.db = db
    app.state.ready = False
    errors.install(app)
    app.add_middleware(limits.BodyLimit)  # 413 before an oversized body is read (api/limits.py)
    for module in ROUTERS:
        app.include_router(module.router)
    return app


app = create_app()
