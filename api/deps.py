"""What every route needs, as typed seams: `DB`, `CurrentUser`, `AdminUser`, `Reporter`, `Token`,
`IdempotencyKey` (the `Annotated` dependency aliases of FastAPI's full-stack template), plus exact JSON
numbers (`ExactRoute`). A route names what it needs in its signature, e.g. `def f(user: CurrentUser, db: DB)`.
"""
from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Annotated, Any, Callable

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services import accounts, ledger, schema, tokens
from services.errors import AuthError, Forbidden

_lock = threading.Lock()
bearer = HTTPBearer(auto_error=False, description="A token from POST /api/auth/login or /api/auth/signup")


def prepare(app) -> None:
    """Open (once) and ready the app's database: indexes, the first admin, postings a crash interrupted."""
    with _lock:
        if getattr(app.state, "ready", False):
            return
        if app.state.db is None:
            app.state.db = schema.get_db()
        db = app.state.db
        schema.ensure_schema(db)
        accounts.ensure_first_admin(db)
        ledger.recover(db)
        app.state.ready = True


async def get_db(request: Request):
    # async: no thread-pool hop once the app is ready (startup prepared it), so a request that waits for
    # a pool thread (the webhook has its own) never waits just to be handed the database.
    app = request.app
    if not getattr(app.state, "ready", False):
        await run_in_threadpool(prepare, app)
    return app.state.db


def bearer_token(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    if creds is None or not creds.credentials:
        raise AuthError("Sign in: send Authorization: Bearer <token>.")
    return creds.credentials


DB = Annotated[Any, Depends(get_db)]
Token = Annotated[str, Depends(bearer_token)]


def current_user(token: Token, db: DB) -> dict:
    return tokens.resolve_cached(db, token)  # no round trip on most requests; a revocation counts within 1 s


CurrentUser = Annotated[dict, Depends(current_user)]


def require_role(*roles: str) -> Callable:
    def check(user: CurrentUser) -> dict:
        if user["role"] not in roles:
            raise Forbidden("Your account may not do this.")
        return user
    return check


AdminUser = Annotated[dict, Depends(require_role("admin"))]
Reporter = Annotated[dict, Depends(require_role("admin", "analyst"))]  # reads aggregates, changes nothing
IdempotencyKey = Annotated[str | None, Header(max_length=150, description="A retry with the same key does "
                                                                          "the work once")]


class ExactJSONRequest(Request):
    """JSON numbers parsed as Decimal, so `99.1` reaches the money parser as written, not as a float."""

    async def json(self):
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class ExactRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def exact(request: Request):
            return await handler(ExactJSONRequest(request.scope, request.receive))
        return exact
