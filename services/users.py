"""Users: who they are, their role, their password, whether their account is enabled; a wallet is
created with every user.

Sessions end when they should: every user document carries a `session_epoch`, bumped (in the same
write) by a password change or reset, a role change and a disabled account. An API token and a
dashboard session remember the epoch they started at (`session_start`) and are refused once it differs
(`signed_in`); the dashboard's cookie, which cannot be revoked, is refused when it was issued before
`sessions_ended_at`. Tokens are also deleted (tokens.revoke_all), but the epoch alone already ends them,
so a crash between the two writes ends nothing late.

Also THE user-id rule (`check_user_id`), which the ledger, calls and campaigns apply to every id they
are given. New usernames follow the stricter `normalize_username`; every username is a valid user id.
"""
from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime
from typing import Any

# users -> ledger (a wallet per user) and ledger -> users (the id rule), users -> tokens (revoke_all) and
# tokens -> users: each side only looks the other up when called, so either may be imported first.
from services import checks, clock, config, ledger, passwords, tokens
from services.db import insert_new
from services.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound

ROLES = ("user", "admin", "analyst")
STAFF_ROLES = ("admin", "analyst")
# A user id lives inside other ids (`{user}:{n}` entries, `{user}|{day}` rollups) and in `_id` fields:
# no dot, no colon, no leading '$'. Ids made by tests and scripts may be shorter than a username.
USER_ID_MAX = 64
NAME_MAX = 80
_USERNAME = re.compile(r"^[a-z0-9_-]{3,32}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
USERNAME_RULE = "Username must be 3-32 characters: lowercase letters, digits, '_' or '-'."
WRONG = "Wrong username or password."
DISABLED = "This account is disabled: ask an administrator to enable it."
ENDED = "Your session has ended (your password, role or account changed): sign in again."
KNOWN_ADDRESSES = 10  # the client addresses remembered per user (tokens' throttle trusts them)


def create_user(db, username: str, password: str, name: str, email: str, role: str = "user") -> dict:
    """Create a user and their wallet (balance 0). Raises InvalidInput naming every problem of the input
    at once, or Conflict; writes nothing then."""
    found = signup_problems(username, password, name, email, role)
    if found:
        raise InvalidInput(" ".join(found))
    username = normalize_username(username)
    doc = {"_id": username, "name": name.strip(), "email": email.strip().lower(), "role": role,
           "password_hash": passwords.hash_password(password), "created_at": clock.now(),
           "session_epoch": 0, "disabled": False}
    if not insert_new(db.users, doc):
        raise Conflict(f"The username {username!r} is taken.")
    ledger.ensure_wallet(db, username)  # a crash before this is healed by get_wallet on first use
    return public(doc)


def signup_problems(username, password, name, email, role: str = "user") -> list[str]:
    """Every problem of a sign-up, as sentences (empty: acceptable), so a form shows them all at once."""
    out = []
    try:
        clean = normalize_username(username)
    except InvalidInput as exc:
        out.append(exc.message)
        clean = username.strip().lower() if isinstance(username, str) else ""
    out += _name_problems(name)
    if not isinstance(email, str) or not _EMAIL.match(email.strip()):
        out.append("Enter a valid email address.")
    out += passwords.problems(password, clean if len(clean) >= 3 else "")
    if role not in ROLES:
        out.append(f"Role must be one of {', '.join(ROLES)}.")
    return out


def _name_problems(name) -> list[str]:
    try:
        checks.text(name.strip() if isinstance(name, str) else "", what="Name", most=NAME_MAX, least=1)
    except InvalidInput as exc:
        return [exc.message]
    return []


def authenticate(db, username, password) -> dict:
    """The user whose password this is. AuthError for a wrong username or password (an unknown
    username spends the time of a bcrypt check too); Forbidden for a disabled account."""
    try:
        username = normalize_username(username)
    except InvalidInput:
        username = None
    doc = db.users.find_one({"_id": username}) if username else None
    if not passwords.matches(password, doc["password_hash"] if doc else None) or doc is None:
        raise AuthError(WRONG)
    if doc.get("disabled"):
        raise Forbidden(DISABLED)
    return public(doc)


def get(db, username: str) -> dict:
    doc = db.users.find_one({"_id": username}) if isinstance(username, str) else None
    if doc is None:
        raise NotFound(f"No user {username!r}.")
    return public(doc)


def list_all(db, *, search: str = "", role: str | None = None, disabled: bool | None = None,
             limit: int = 5000) -> list[dict]:
    flt: dict[str, Any] = {}
    if role:
        flt["role"] = role
    if disabled is not None:
        flt["disabled"] = True if disabled else {"$ne": True}
    out = [public(d) for d in db.users.find(flt).limit(limit)]
    s = (search or "").strip().lower()
    if s:
        out = [u for u in out if s in u["username"] or s in u["name"].lower() or s in u["email"]]
    return out


# ------------------------------------------------------------------------------ what an admin changes

def set_password(db, username: str, new_password: str, *, by: str) -> None:
    """Set a password (an admin's reset when `by` is someone else) and end every session of the user."""
    doc = _doc(db, username)
    found = passwords.problems(new_password, doc["_id"])
    if found:
        raise InvalidInput(" ".join(found))
    _change(db, doc, {"password_hash": passwords.hash_password(new_password), "password_set_by": by,
                      "password_set_at": clock.now()}, by=by,
            action="password_change" if by == doc["_id"] else "password_reset")


def change_password(db, username: str, current: str, new_password: str) -> None:
    """A user's own change: the current password first (AuthError if wrong). Ends every session."""
    authenticate(db, username, current)
    set_password(db, normalize_username(username), new_password, by=normalize_username(username))


def set_role(db, username: str, role: str, *, by: str) -> dict:
    """Give a user another role; their sessions end (a new role signs in afresh). The last enabled
    admin keeps the role, so the product always has someone who can change roles."""
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.")
    doc = _doc(db, username)
    if doc["role"] == role:
        return public(doc)
    if doc["role"] == "admin" and not doc.get("disabled"):
        _keep_an_admin(db, doc["_id"], "take the admin role from")
    return _change(db, doc, {"role": role}, by=by, action="role_change", detail=f"{doc['role']} -> {role}")


def disable(db, username: str, *, by: str) -> dict:
    """Disable an account: it cannot sign in, and every session and token it has ends."""
    doc = _doc(db, username)
    if doc["_id"] == by:
        raise Conflict("You cannot disable your own account.")
    if doc.get("disabled"):
        return public(doc)
    if doc["role"] == "admin":
        _keep_an_admin(db, doc["_id"], "disable")
    return _change(db, doc, {"disabled": True}, by=by, action="disable")


def enable(db, username: str, *, by: str) -> dict:
    doc = _doc(db, username)
    if not doc.get("disabled"):
        return public(doc)
    db.users.update_one({"_id": doc["_id"]}, {"$set": {"disabled": False}})
    audit(db, by, "enable", doc["_id"])
    return public(dict(doc, disabled=False))


def _doc(db, username) -> dict:
    doc = db.users.find_one({"_id": username.strip().lower()}) if isinstance(username, str) else None
    if doc is None:
        raise NotFound(f"No user {username!r}.")
    return doc


def _keep_an_admin(db, username: str, what: str) -> None:
    others = [d for d in db.users.find({"role": "admin"}, {"disabled": 1}) if d["_id"] != username
              and not d.get("disabled")]
    if not others:
        raise Conflict(f"You cannot {what} the last enabled admin: make another admin first.")


def _change(db, doc: dict, fields: dict, *, by: str, action: str, detail: str = "") -> dict:
    """Apply `fields` and end every session of the user, in one write; then delete their tokens."""
    ended = clock.now()
    db.users.update_one({"_id": doc["_id"]}, {"$set": dict(fields, sessions_ended_at=ended),
                                              "$inc": {"session_epoch": 1}})
    tokens.revoke_all(db, doc["_id"])
    audit(db, by, action, doc["_id"], detail)
    return public(dict(doc, **fields))


def audit(db, actor: str, action: str, target: str, detail: str = "") -> None:
    """Log what an admin did to an account (the audit_log admin credits also use)."""
    db.audit_log.insert_many([{"_id": f"user:{uuid.uuid4().hex}", "at": clock.now(), "actor": actor,
                               "action": action, "target": target, "detail": detail}])


# ------------------------------------------------------------------------------------------ sessions

def session_start(db, username: str, *, issued_at: datetime | None = None) -> int:
    """The epoch a session starting now records. `issued_at`: when a restored dashboard cookie was
    issued; AuthError if that was before the user's sessions last ended (or the account is disabled)."""
    doc = db.users.find_one({"_id": username}, {"session_epoch": 1, "sessions_ended_at": 1, "disabled": 1}) \
        if isinstance(username, str) else None
    if doc is None:
        raise AuthError(ENDED)
    if doc.get("disabled"):
        raise AuthError(DISABLED)
    ended = clock.as_utc(doc.get("sessions_ended_at"))
    if issued_at is not None and ended is not None and issued_at < ended:
        raise AuthError(ENDED)
    return int(doc.get("session_epoch", 0))


def signed_in(db, username: str, epoch: int) -> dict:
    """The user behind a session that started at `epoch` (users.public shape); AuthError if the account
    is gone or disabled, or its sessions were ended since."""
    doc = db.users.find_one({"_id": username}) if isinstance(username, str) else None
    if doc is not None and doc.get("disabled"):
        raise AuthError(DISABLED)
    if doc is None or int(doc.get("session_epoch", 0)) != epoch:
        raise AuthError(ENDED)
    return public(doc)


def remember_address(db, username: str, address: str) -> None:
    """Note a client address this user signed in from (the last KNOWN_ADDRESSES are kept)."""
    doc = db.users.find_one({"_id": username}, {"known_addresses": 1})
    if doc is None:
        return
    known = [a for a in doc.get("known_addresses", []) if a != address][-(KNOWN_ADDRESSES - 1):] + [address]
    db.users.update_one({"_id": username}, {"$set": {"known_addresses": known}})


def known_address(db, username: str, address: str) -> bool:
    doc = db.users.find_one({"_id": username}, {"known_addresses": 1})
    return bool(doc) and address in doc.get("known_addresses", [])


# ------------------------------------------------------------------------------------------- reading

def credentials(db) -> dict:
    """The structure streamlit-authenticator wants to restore a session from its cookie, built fresh
    from the users collection. No password hashes: the dashboard checks passwords through
    tokens.sign_in, never through the library."""
    return {"usernames": {d["_id"]: {"name": d["name"], "email": d["email"], "roles": [d["role"]]}
                          for d in db.users.find({}, {"name": 1, "email": 1, "role": 1})}}


def role_of(db, user_id: str) -> str | None:
    """The user's role, or None for an id with no user behind it."""
    doc = db.users.find_one({"_id": user_id}, {"role": 1}) if isinstance(user_id, str) else None
    return doc.get("role", "user") if doc else None


def roles(db) -> dict[str, str]:
    """Every user's role, by username (one read of the users collection)."""
    return {d["_id"]: d.get("role", "user") for d in db.users.find({}, {"role": 1})}


def ensure_first_admin(db) -> dict | None:
    """Create the admin named by WALLET_ADMIN_USER / WALLET_ADMIN_PASSWORD if no admin exists."""
    cfg = config.get()
    user, pw = cfg.admin_user, cfg.admin_password
    if not user or not pw or db.users.find_one({"role": "admin"}, {"_id": 1}):
        return None
    try:
        return create_user(db, user, pw, "Administrator", f"{normalize_username(user)}@localhost.localdomain",
                           "admin")
    except Conflict:  # another API worker starting at the same moment created it first
        return None
    except InvalidInput as exc:  # say which setting to fix: this runs at start-up, far from any form
        raise InvalidInput(f"WALLET_ADMIN_USER / WALLET_ADMIN_PASSWORD refused: {exc.message}") from None


def seed_demo(db, password: str | None = None) -> list[tuple[str, str, str]]:
    """On an empty database: a demo admin, analyst and user, with fresh random passwords unless one is
    given (tests and the browser test pass WALLET_DEMO_PASSWORD)."""
    if db.users.find_one({}, {"_id": 1}):
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


def check_user_id(user_id) -> str:
    """THE user-id rule: 1-64 characters, no '.', no ':', not starting with '$'. Returns the id."""
    if not isinstance(user_id, str) or not 1 <= len(user_id) <= USER_ID_MAX or "." in user_id or \
            ":" in user_id or user_id.startswith("$"):
        raise InvalidInput("Unknown or malformed user id.")
    return user_id


def normalize_username(username) -> str:
    if not isinstance(username, str) or not _USERNAME.match(username.strip().lower()):
        raise InvalidInput(USERNAME_RULE)
    return username.strip().lower()


def public(doc: dict) -> dict:
    return {"username": doc["_id"], "name": doc["name"], "email": doc["email"], "role": doc["role"],
            "created_at": clock.as_utc(doc.get("created_at")), "disabled": bool(doc.get("disabled"))}


def _random_password(username: str) -> str:
    while True:  # a random one that meets the rules (containing the username is the only way to miss)
        pw = secrets.token_urlsafe(9)
        if not passwords.problems(pw, username):
            return pw
