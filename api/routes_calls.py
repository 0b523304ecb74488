"""Voice calls billed from the wallet with rolling authorisation: start (the first slice), update (the
next slices, or the second to end), end (one bill from the final usage and outcome)."""
from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path

from api import links
from api.deps import DB, Calls, ExactRoute, IdempotencyKey
from api.schemas import CallEndIn, CallEndOut, CallGrantOut, CallIn, CallStartOut, CallUpdateIn
from services import calls

router = APIRouter(prefix="/api/call", tags=["calls"], route_class=ExactRoute)

CallId = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")]


def call_id_for(account: str, idempotency_key: str) -> str:
    """The call id a client's Idempotency-Key stands for: per account (two accounts' keys never meet), and
    in the call id alphabet whatever the key holds. services.calls makes a start with a given id idempotent."""
    return "idem_" + hashlib.sha256(f"{account}\n{idempotency_key}".encode()).hexdigest()[:40]


@router.post("", response_model=CallStartOut, responses=links.CALL_STARTED)
def start(body: CallIn, acct: Calls, db: DB, idempotency_key: IdempotencyKey = None):
    """Start a call: its first slice (the lesser of its maximum length and the slice setting, 5 minutes by
    default) is authorised and held. 402 when the wallet cannot cover the minimum, 429 (Retry-After) at
    the simultaneous-call limit. With an Idempotency-Key header a retried request returns the same call
    instead of starting (and holding for) another. With an API key, its caps and simultaneous calls bind
    the call too: 402 `spend_cap_reached` / 429 `too_many_calls`, the message naming the key's limit."""
    cid = call_id_for(acct.account, idempotency_key) if idempotency_key else None
    return CallStartOut.model_validate(
        calls.start_call(db, acct.account, body.to_number, body.kb_id, body.max_minutes, call_id=cid, key_id=acct.key))


@router.post("/{call_id}/update", response_model=CallGrantOut)
def update(body: CallUpdateIn, call_id: CallId, acct: Calls, db: DB):
    """Report the seconds talked so far. With less than a slice left, the next slice is held and
    `authorized_seconds` grows; when the wallet covers only part of it, `end_at_seconds` is the exact
    second the call must end. Safe to repeat; an ended call answers its final state."""
    return CallGrantOut.model_validate(calls.update_call(db, acct.account, call_id, body.usage_seconds))


@router.post("/{call_id}/end", response_model=CallEndOut)
def end(body: CallEndIn, call_id: CallId, acct: Calls, db: DB):
    """End your call and bill it once at the tariff of its start: answered calls for their seconds (never
    past what was authorised), the others the attempt fee only. Repeating returns the first bill; another
    user's call is 404."""
    return CallEndOut.model_validate(calls.end_call(db, acct.account, call_id, body.duration_seconds,
                                                    body.outcome))
