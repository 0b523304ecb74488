"""What every route needs, as typed seams: `DB`, `CurrentUser`, `AdminUser`, `Reporter`, `Token`,
`IdempotencyKey` (the `Annotated` dependency aliases of FastAPI's full-stack template), plus exact JSON
numbers (`ExactRoute`). A route names what it needs in its signature, e.g. `def f(user: CurrentUser, db: DB)`.

Who acts on which account: `Caller` is a member (a person's token, on the account named by the
`X-Account` header, else their own) or an API key (`Authorization: Bearer wk_...`, on its own account);
each capability alias (`Balance`, `Calls`, `KeysWrite`...) is a `Caller` that may do that
(services.accounts.roles), else 403. `CurrentUser` is a person: an API key is refused there (403).
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
from services.accounts import Acting
from services.errors import AuthError, Forbidden, NotFound

_lock = threading.Lock()
bearer = HTTPBearer(auto_error=False, description="A token from POST /api/auth/login or /api/auth/signup, or an "
                                                 "API key (wk_live_... / wk_test_..., POST /api/keys)")


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


def client_address(request: Request) -> str | None:
    """The caller's address (the sign-in throttle, the audit log; behind a proxy: uvicorn --proxy-headers)."""
    return request.client.host if request.client else None


Address = Annotated[str | None, Depends(client_address)]


def current_user(token: Token, db: DB) -> dict:
    if accounts.keys.looks_like_key(token):
        raise Forbidden("An API key acts for its account, not as a person: this needs a person's sign-in token.")
    return tokens.resolve_cached(db, token)  # no round trip on most requests; a revocation counts within 1 s


CurrentUser = Annotated[dict, Depends(current_user)]
XAccount = Annotated[str | None, Header(max_length=64, description="The account to act on (one you are a member "
                                                                   "of; default: your own). An API key acts on "
                                                                   "its own account only.")]


def caller(token: Token, db: DB, address: Address, x_account: XAccount = None) -> Acting:
    """The member or API key this request acts as, and on which account (see the module's docstring)."""
    if accounts.keys.looks_like_key(token):
        key = accounts.keys.resolve_cached(db, token, address=address)  # never the password throttle
        if x_account not in (None, key.account):
            raise NotFound(accounts.teams.NOT_YOURS.format(x_account))
        return accounts.keys.acting_for(key)
    user = tokens.resolve_cached(db, token)
    me = user["username"]
    try:
        acting = accounts.teams.acting(db, x_account or me, me)  # cached like the token: no round trip
    except NotFound:
        other = None if x_account else accounts.teams.default_account(db, me)
        if other is None:
            raise
        acting = accounts.teams.acting(db, other, me)
    return Acting(acting.account, acting.role, person=me, person_role=user["role"])


Caller = Annotated[Acting, Depends(caller)]


def _may(capability: str) -> Callable:
    def check(acting: Caller) -> Acting:
        return acting.require(capability)
    check.__name__ = f"may_{capability.replace(':', '_')}"
    return check


# One alias per capability (services.accounts.roles.CAPABILITIES): a route names what it does.
Balance = Annotated[Acting, Depends(_may("balance"))]
Terms = Annotated[Acting, Depends(_may("terms"))]
Transactions = Annotated[Acting, Depends(_may("transactions"))]
Documents = Annotated[Acting, Depends(_may("documents"))]
Pay = Annotated[Acting, Depends(_may("pay"))]
RefundsRead = Annotated[Acting, Depends(_may("refunds:read"))]
RefundsAsk = Annotated[Acting, Depends(_may("refunds:request"))]
AlertsRead = Annotated[Acting, Depends(_may("alerts:read"))]
AlertsWrite = Annotated[Acting, Depends(_may("alerts:write"))]
AutoRead = Annotated[Acting, Depends(_may("autorecharge:read"))]
AutoWrite = Annotated[Acting, Depends(_may("autorecharge:write"))]
Calls = Annotated[Acting, Depends(_may("calls"))]
KeysRead = Annotated[Acting, Depends(_may("keys:read"))]
KeysWrite = Annotated[Acting, Depends(_may("keys:write"))]
MembersRead = Annotated[Acting, Depends(_may("members:read"))]
MembersWrite = Annotated[Acting, Depends(_may("members:write"))]
AccountAudit = Annotated[Acting, Depends(_may("audit"))]


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
