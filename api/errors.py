"""The one place service errors become HTTP: one JSON shape, `{"error": {"code", "message"}}`.

InsufficientBalance and SpendCapReached are both 402: the request was fine, the wallet cannot pay for it
now (a cap is a spending limit like the balance, not a permission), so a client handles them alike.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from services import errors as E

log = logging.getLogger("api")

# Most specific first: BelowMinimum is an InvalidAmount, so order by the class's own MRO below.
STATUS: dict[type, int] = {
    E.InsufficientBalance: 402,
    E.SpendCapReached: 402,
    E.InvalidAmount: 400,
    E.BelowMinimum: 400,
    E.InvalidPayment: 400,
    E.InvalidInput: 400,
    E.PaymentUnavailable: 503,
    E.AuthError: 401,
    E.Forbidden: 403,
    E.NotFound: 404,
    E.Conflict: 409,
    E.RateLimited: 429,
}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def _describe(status: int) -> dict:
    return {"model": ErrorBody, "description": {
        400: "Bad input (amount, field, signature); nothing was written",
        401: "Missing, unknown, expired or revoked bearer token or API key",
        402: "Insufficient balance, or a spend cap reached (the wallet's daily cap or an API key's)",
        403: "The caller's role on the account (or the key's scopes, or the staff role) may not do this",
        404: "Not found (or not yours, or an account you do not belong to)",
        405: "Method not allowed",
        409: "Conflict: idempotency key reused for something else, or a state change not allowed",
        413: "The request body is larger than the endpoint accepts (api/limits.py); nothing was written",
        422: "The request does not match the schema",
        429: "Too many failed sign-ins, or too many simultaneous calls of the customer or the key (see Retry-After)",
        500: "Unexpected error",
        503: "Payments are not configured or the payment gateway is unavailable",
    }[status]}


# Declared on every operation so the OpenAPI schema lists every status the API may answer.
ERROR_RESPONSES = {s: _describe(s) for s in (400, 401, 402, 403, 404, 405, 409, 413, 422, 429, 500, 503)}


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def status_of(exc: E.WalletError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400  # a WalletError the map does not name yet: still the caller's problem, with its message


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}


def _allowed(request: Request) -> str:
    """Every method the path answers: Starlette's 405 names only those of the first route on the path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        regex, allowed = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and allowed and regex.match(request.url.path):
            methods |= set(allowed)
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(E.WalletError)
    async def wallet_error(_: Request, exc: E.WalletError):
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if status == 429 and isinstance(exc, E.RateLimited) and exc.retry_after:
            headers = {"Retry-After": str(int(exc.retry_after))}
        return error_response(status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError):
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header"))
            parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
        return error_response(422, "invalid_request", "; ".join(parts) or "The request is not valid.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        msg = exc.detail if isinstance(exc.detail, str) else "Request refused."
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = dict(headers or {}, Allow=_allowed(request))
        return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), msg, headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Something went wrong on our side. Nothing you did; "
                                                     "try again, and tell support if it repeats.")
