"""People: what spans a user, their account, its wallet and their tokens. A person who signs up gets an
account of their own (its id is their username) with a wallet at Rs. 0; a password, role or status change
ends every session and deletes every token (API keys are the account's, not the person's: they stay).

services.users owns the users themselves, services.ledger the wallets, services.tokens the API tokens;
this floor above them is where they meet, so none of the three needs to know the others.
"""
from __future__ import annotations

import secrets

from services import config, ledger, passwords, tokens, users
from services.accounts import teams
from services.errors import Conflict, InvalidInput


def create_user(db, username: str, password: str, name: str, email: str, role: str = "user") -> dict:
    """Create a user, their own account and its wallet (balance 0). Raises InvalidInput naming every
    problem of the input at once, or Conflict; writes nothing then."""
    user = users.add(db, username, password, name, email, role)
    ledger.ensure_wallet(db, user["username"])  # a crash before this is healed by get_wallet on first use
    # ... and one before this by teams.default_account at their first sign-in
    teams.create(db, user["username"], user["name"], user["username"], by=user["username"])
    return user


def set_password(db, username: str, new_password: str, *, by: str) -> None:
    """Set a password (an admin's reset when `by` is someone else): every session and token ends."""
    tokens.revoke_all(db, users.set_password(db, username, new_password, by=by)["username"])


def change_password(db, username: str, current: str, new_password: str) -> None:
    """A user's own change: the current password first (AuthError if wrong). Ends every session."""
    tokens.revoke_all(db, users.change_password(db, username, current, new_password)["username"])


def set_role(db, username: str, role: str, *, by: str) -> dict:
    """Another role for a user; their sessions end (a new role signs in afresh)."""
    before = users.get(db, username.strip().lower() if isinstance(username, str) else username)
    after = users.set_role(db, username, role, by=by)
    if after["role"] != before["role"]:
        tokens.revoke_all(db, after["username"])
    return after


def disable(db, username: str, *, by: str) -> dict:
    """Disable an account: it cannot sign in, and every session and token it has ends."""
    after = users.disable(db, username, by=by)
    tokens.revoke_all(db, after["username"])
    return after


def enable(db, username: str, *, by: str) -> dict:
    return users.enable(db, username, by=by)


def ensure_first_admin(db) -> dict | None:
    """Create the admin named by WALLET_ADMIN_USER / WALLET_ADMIN_PASSWORD if no admin exists."""
    cfg = config.get()
    user, pw = cfg.admin_user, cfg.admin_password
    if not user or not pw or users.any_admin(db):
        return None
    try:
        return create_user(db, user, pw, "Administrator", f"{users.normalize_username(user)}@localhost.localdomain",
                           "admin")
    except Conflict:  # another API worker starting at the same moment created it first
        return None
    except InvalidInput as exc:  # say which setting to fix: this runs at start-up, far from any form
        raise InvalidInput(f"WALLET_ADMIN_USER / WALLET_ADMIN_PASSWORD refused: {exc.message}") from None


def seed_demo(db, password: str | None = None) -> list[tuple[str, str, str]]:
    """On an empty database: a demo admin, analyst and user, with fresh random passwords unless one is
    given (tests and the browser test pass WALLET_DEMO_PASSWORD)."""
    if users.any_user(db):
        return []
    made = []
    for username, name, role in (("admin", "Demo Admin", "admin"), ("analyst", "Demo Analyst", "analyst"),
                                 ("demo", "Demo User", "user")):
        pw = password or _random_password(username)
        try:
            create_user(db, username, pw, name, f"{username}@example.com", role)
            made.append((username, pw, role))
        except Conflict:
            pass
    return made


def _random_password(username: str) -> str:
    while True:  # a random one that meets the rules (containing the username is the only way to miss)
        pw = secrets.token_urlsafe(9)
        if not passwords.problems(pw, username):
            return pw
