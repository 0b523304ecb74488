"""API keys of the account a request acts on: create (the secret answered once), list (with each key's spend),
revoke, rotate with an overlap. Owners and developers only, signed in as themselves: a key never manages
keys. Rules live in services.accounts.keys."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import DB, Address, ExactRoute, KeysRead, KeysWrite
from api.schemas_accounts import KeyIn, KeyOut, KeysOut, NewKeyOut, RotatedOut, RotateIn
from services.accounts import keys

router = APIRouter(prefix="/api/keys", tags=["keys"], route_class=ExactRoute)

KeyId = Annotated[str, Path(max_length=12, pattern=r"^[0-9a-f]{12}$")]


def key_out(k: keys.Key, cls=KeyOut, **extra):
    return cls(id=k.id, name=k.name, prefix=k.prefix, scopes=list(k.scopes), state=k.state, created_by=k.created_by,
               created_at=k.created_at, expires_at=k.expires_at, revoked_at=k.revoked_at, last_used_at=k.last_used_at,
               last_used_from=k.last_used_from, daily_cap_paise=k.daily_cap_paise,
               monthly_cap_paise=k.monthly_cap_paise,
               max_concurrent_calls=k.max_concurrent_calls, spent_today_paise=k.spent_today_paise,
               spent_month_paise=k.spent_month_paise, held_paise=k.held_paise, open_calls=k.open_calls, **extra)


@router.post("", response_model=NewKeyOut, status_code=201)
def create(body: KeyIn, acct: KeysWrite, db: DB, address: Address):
    """A new key for the account. `secret` is in this answer only; the key is stored as a hash. Caps are
    rupees a day and a month (IST), spent or held by calls; `max_concurrent_calls` its calls at once."""
    k, secret = keys.create(db, acct, body.name, body.scopes, expires_at=body.expires_at, daily_cap=body.daily_cap,
                            monthly_cap=body.monthly_cap, max_concurrent_calls=body.max_concurrent_calls,
                            address=address)
    return key_out(k, NewKeyOut, secret=secret)


@router.get("", response_model=KeysOut)
def list_keys(acct: KeysRead, db: DB):
    """Every key of the account, newest first: name, prefix, scopes, caps, who made it, last use (time and
    address), expiry, and what it spent today and this month."""
    return KeysOut(keys=[key_out(k) for k in keys.list_keys(db, acct.account)])


@router.delete("/{key_id}", response_model=KeyOut)
def revoke(key_id: KeyId, acct: KeysWrite, db: DB, address: Address):
    """Revoke a key now: every API process refuses it (401) within a second."""
    return key_out(keys.revoke(db, acct, key_id, address=address))


@router.post("/{key_id}/rotate", response_model=RotatedOut)
def rotate(body: RotateIn, key_id: KeyId, acct: KeysWrite, db: DB, address: Address):
    """A new key with the same name, scopes and caps (its secret in this answer only); the old one keeps
    working for `overlap_minutes`, then is refused."""
    new, secret, old = keys.rotate(db, acct, key_id, body.overlap_minutes, address=address)
    return RotatedOut(new=key_out(new, NewKeyOut, secret=secret), old=key_out(old))
