"""Voice calls billed from the wallet: start (holds funds for the longest allowed call), end (bills)."""
from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path

from api import links
from api.deps import DB, CurrentUser, ExactRoute, IdempotencyKey
from api.schemas import CallEndIn, CallEndOut, CallIn, CallStartOut
from services import calls

router = APIRouter(prefix="/api/call", tags=["calls"], route_class=ExactRoute)

CallId = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")]


def call_id_for(username: str, idempotency_key: str) -> str:
    """The call id a client's Idempotency-Key stands for: per user (two users' keys never meet), and in
    the call id alphabet whatever the key holds. services.calls makes a start with a given id idempotent."""
    return "idem_" + hashlib.sha256(f"{username}\n{idempotency_key}".encode()).hexdigest()[:40]


@router.post("", response_model=CallStartOut, responses=links.CALL_STARTED)
def start(body: CallIn, user: CurrentUser, db: DB, idempotency_key: IdempotencyKey = None):
    """Start a call: 402 when the wallet cannot cover the minimum. With an Idempotency-Key header a
    retried request returns the same call instead of starting (and holding for) another."""
    cid = call_id_for(user["username"], idempotency_key) if idempotency_key else None
    return CallStartOut.model_validate(
        calls.start_call(db, user["username"], body.to_number, body.kb_id, body.max_minutes, call_id=cid))


@router.post("/{call_id}/end", response_model=CallEndOut)
def end(body: CallEndIn, call_id: CallId, user: CurrentUser, db: DB):
    """End your call and bill it (ceil to the rate's rule, never above the hold). Repeating returns the
    first bill; another user's call is 404."""
    return CallEndOut.model_validate(calls.end_call(db, user["username"], call_id, body.duration_seconds))
