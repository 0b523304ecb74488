"""User administration (admins only): roles, disabled accounts, password resets, sign-in locks.

Every change but `enable` and `unlock` ends all the user's sessions and tokens (services.users).
"""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import DB, AdminUser, ExactRoute
from api.schemas import AccountOut, LockedOut, PasswordIn, RoleIn, UnlockOut
from services import accounts, tokens, users

router = APIRouter(prefix="/api/admin/users", tags=["admin"], route_class=ExactRoute)


@router.get("/locked", response_model=list[LockedOut])
def locked(_admin: AdminUser, db: DB):
    """Usernames whose sign-ins are being slowed now: by address, and whether the username is guarded."""
    return [LockedOut.model_validate(row) for row in tokens.locked(db)]


@router.post("/{username}/role", response_model=AccountOut)
def set_role(username: str, body: RoleIn, admin: AdminUser, db: DB):
    """Give the user another role (409 for the last enabled admin). Their sessions end."""
    return AccountOut.model_validate(accounts.set_role(db, username, body.role, by=admin["username"]))


@router.post("/{username}/disable", response_model=AccountOut)
def disable(username: str, admin: AdminUser, db: DB):
    """The account can no longer sign in; its sessions end (409 for yourself or the last enabled admin)."""
    return AccountOut.model_validate(accounts.disable(db, username, by=admin["username"]))


@router.post("/{username}/enable", response_model=AccountOut)
def enable(username: str, admin: AdminUser, db: DB):
    return AccountOut.model_validate(accounts.enable(db, username, by=admin["username"]))


@router.post("/{username}/password", response_model=AccountOut)
def reset_password(username: str, body: PasswordIn, admin: AdminUser, db: DB):
    """Set a new password (the same rules as sign-up); every session and token of the user ends."""
    accounts.set_password(db, username, body.password, by=admin["username"])
    return AccountOut.model_validate(users.get(db, username.strip().lower()))


@router.post("/{username}/unlock", response_model=UnlockOut)
def unlock(username: str, admin: AdminUser, db: DB):
    """Clear the sign-in counts of a username: every address may try again at once."""
    return UnlockOut(username=username.strip().lower(), cleared=tokens.unlock(db, username, by=admin["username"]))
