"""Request body size limits: a pure ASGI middleware that refuses an oversized body with 413 before it is read.

A body announced larger than the limit (Content-Length) is refused without reading a byte of it and
without running the endpoint. A body without a length (chunked) is counted as the endpoint reads it;
the moment it passes the limit the client gets the 413 and the endpoint gets an exception instead of
more bytes, so at most limit + one chunk is ever held. The server (uvicorn) stops reading a socket
whose unread body passes 64 KiB and discards the rest once the response is sent, so an oversized
upload costs neither memory nor a worker thread.

Limits: 64 KiB for every JSON endpoint (the largest real request, a sign-up, is well under 1 KiB);
Razorpay's webhook gets 1 MiB (its payloads are a few KiB, but they are Razorpay's to grow); an admin's
list of grants (CSV in JSON) 512 KiB; a batch of 1,000 usage events 1 MiB.
"""
from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

DEFAULT_MAX_BYTES = 64 * 1024
WEBHOOK_MAX_BYTES = 1024 * 1024
GRANT_LIST_MAX_BYTES = 512 * 1024
USAGE_BATCH_MAX_BYTES = 1024 * 1024  # 1,000 events of up to ~1 KiB each (metadata is capped at 1,000 characters)
PER_PATH = {"/api/payment/webhook": WEBHOOK_MAX_BYTES, "/api/admin/credit/batch": GRANT_LIST_MAX_BYTES,
            "/api/usage/batch": USAGE_BATCH_MAX_BYTES}


class _TooLarge(Exception):
    """Raised into the endpoint from receive(): the 413 has been sent, stop."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # a malformed one: count the bytes instead
    return None


def _describe(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


class BodyLimit:
    def __init__(self, app: ASGIApp, default: int = DEFAULT_MAX_BYTES, per_path: dict[str, int] | None = None):
        self.app = app
        self.default = default
        self.per_path = PER_PATH if per_path is None else per_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        refusal = error_response(413, "too_large", f"The request body is larger than {_describe(limit)}, the most "
                                                   "this endpoint accepts; nothing was written.")
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await refusal(scope, receive, send)
            return
        state = {"read": 0, "started": False, "refused": False}

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > limit:
                    if not state["started"]:
                        state["refused"] = True
                        await refusal(scope, receive, send)
                    raise _TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            if state["refused"]:
                return  # the endpoint's own answer to the exception: the client already has its 413
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _TooLarge:
            if not state["refused"]:
                raise  # the response had started: nothing left to do but drop the connection
