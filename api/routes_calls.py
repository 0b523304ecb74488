"""Voice calls billed from the wallet: start (holds funds for the longest allowed call), end (bills)."""
from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, Header, Path

from api.deps import ExactRoute, current_user, get_db
from api.schemas import CallEndIn, CallEndOut, CallIn, CallStartOut, rupees
from services import calls

router = APIRouter(prefix="/api/call", tags=["calls"], route_class=ExactRoute)

CALL_ID = Path(max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")


def call_id_for(username: str, idempotency_key: str) -> str:
    """The call id a client's Idempotency-Key stands for: per user (two users' keys never meet), and in
    the call id alphabet whatever the key holds. services.calls makes a start with a given id idempotent."""
    return "idem_" + hashlib.sha256(f"{username}\n{idempotency_key}".encode()).hexdigest()[:40]


@router.post("", response_model=CallStartOut)
def start(body: CallIn, idempotency_key: str | None = Header(None, max_length=150),
          user=Depends(current_user), db=Depends(get_db)):
    """Start a call: 402 when the wallet cannot cover the minimum. With an Idempotency-Key header a
    retried request returns the same call instead of starting (and holding for) another."""
    cid = call_id_for(user["username"], idempotency_key) if idempotency_key else None
    c = calls.start_call(db, user["username"], body.to_number, body.kb_id, body.max_minutes, call_id=cid)
    return CallStartOut(call_id=c["call_id"], status=c["status"], max_duration_seconds=c["max_duration_seconds"],
                        rate=rupees(c["rate_paise"]), rate_paise=c["rate_paise"], held=rupees(c["held_paise"]),
                        held_paise=c["held_paise"])


@router.post("/{call_id}/end", response_model=CallEndOut)
def end(body: CallEndIn, call_id: str = CALL_ID, user=Depends(current_user), db=Depends(get_db)):
    """End your call and bill it (ceil to the rate's rule, never above the hold). Repeating returns the
    first bill; another user's call is 404."""
    r = calls.end_call(db, user["username"], call_id, body.duration_seconds)
    return CallEndOut(call_id=r["call_id"], status=r["status"], billed_seconds=r["billed_seconds"],
                      cost=rupees(r["cost_paise"]), cost_paise=r["cost_paise"], balance=rupees(r["balance_paise"]),
                      balance_paise=r["balance_paise"], cut_off=bool(r.get("cut_off", False)))
