"""Users: who they are, their role, their password; a wallet is created with every user.

Also THE user-id rule (`check_user_id`), which the ledger, calls and campaigns apply to every id they
are given. New usernames follow the stricter `normalize_username`; every username is a valid user id.
"""
from __future__ import annotations

import re
import secrets

import bcrypt

# users -> ledger (a wallet per user) and ledger -> users (the id rule): each side only looks the other
# up when called, so either may be imported first.
from services import clock, config, ledger
from services.db import insert_new
from services.errors import AuthError, Conflict, InvalidInput, NotFound

ROLES = ("user", "admin", "analyst")
STAFF_ROLES = ("admin", "analyst")
# A user id lives inside other ids (`{user}:{n}` entries, `{user}|{day}` rollups) and in `_id` fields:
# no dot, no colon, no leading '$'. Ids made by tests and scripts may be shorter than a username.
USER_ID_MAX = 64
_USERNAME = re.compile(r"^[a-z0-9_-]{3,32}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")


def create_user(db, username: str, password: str, name: str, email: str, role: str = "user") -> dict:
    """Create a user and their wallet (balance 0). Raises InvalidInput or Conflict; writes nothing then."""
    username = normalize_username(username)
    _check_password(password)
    name = _check_name(name)
    _check_email(email)
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.")
    doc = {"_id": username, "name": name, "email": email.strip().lower(), "role": role,
           "password_hash": _hash(password), "created_at": clock.now()}
    if not insert_new(db.users, doc):
        raise Conflict(f"The username {username!r} is taken.")
    ledger.ensure_wallet(db, username)  # a crash before this is healed by get_wallet on first use
    return public(doc)


def signup_problems(db, username, password, password2, name, email) -> list[InvalidInput | Conflict]:
    """Every problem of a sign-up form at once (create_user stops at the first): the same checks, each
    field on its own, plus the two passwords agreeing and the username being free. [] means it will do."""
    problems = []
    for check, value in ((normalize_username, username), (_check_password, password), (_check_name, name),
                         (_check_email, email)):
        try:
            check(value)
        except InvalidInput as exc:
            problems.append(exc)
    if isinstance(password, str) and password != password2:
        problems.append(InvalidInput("The two passwords differ."))
    if not problems and db.users.find_one({"_id": normalize_username(username)}, {"_id": 1}):
        problems.append(Conflict(f"The username {normalize_username(username)!r} is taken."))
    return problems


def authenticate(db, username: str, password: str) -> dict:
    try:
        username = normalize_username(username)
    except InvalidInput:
        raise AuthError("Wrong username or password.")
    doc = db.users.find_one({"_id": username})
    if not doc or not isinstance(password, str) or not bcrypt.checkpw(password.encode()[:72],
                                                                       doc["password_hash"].encode()):
        raise AuthError("Wrong username or password.")
    return public(doc)


def get(db, username: str) -> dict:
    doc = db.users.find_one({"_id": username}) if isinstance(username, str) else None
    if doc is None:
        raise NotFound(f"No user {username!r}.")
    return public(doc)


def list_all(db, *, search: str = "", role: str | None = None, limit: int = 5000) -> list[dict]:
    flt = {}
    if role:
        flt["role"] = role
    out = [public(d) for d in db.users.find(flt).limit(limit)]
    s = (search or "").strip().lower()
    if s:
        out = [u for u in out if s in u["username"] or s in u["name"].lower() or s in u["email"]]
    return out


def set_password(db, username: str, new_password: str, *, by: str) -> None:
    _check_password(new_password)
    res = db.users.update_one({"_id": username}, {"$set": {"password_hash": _hash(new_password),
                                                          "password_set_by": by,
                                                          "password_set_at": clock.now()}})
    if res.matched_count != 1:
        raise NotFound(f"No user {username!r}.")


def credentials(db) -> dict:
    """The structure streamlit-authenticator wants, built fresh from the users collection."""
    return {"usernames": {d["_id"]: {"name": d["name"], "email": d["email"], "password": d["password_hash"],
                                     "roles": [d["role"]]}
                          for d in db.users.find({}, {"name": 1, "email": 1, "password_hash": 1, "role": 1})}}


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


def seed_demo(db, password: str | None = None) -> list[tuple[str, str, str]]:
    """On an empty database: a demo admin, analyst and user, with fresh random passwords unless one is
    given (tests and the browser test pass WALLET_DEMO_PASSWORD)."""
    if db.users.find_one({}, {"_id": 1}):
        return []
    made = []
    for username, name, role in (("admin", "Demo Admin", "admin"), ("analyst", "Demo Analyst", "analyst"),
                                 ("demo", "Demo User", "user")):
        pw = password or secrets.token_urlsafe(9)
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
        raise InvalidInput("Username must be 3-32 characters: lowercase letters, digits, '_' or '-'.")
    return username.strip().lower()


def public(doc: dict) -> dict:
    return {"username": doc["_id"], "name": doc["name"], "email": doc["email"], "role": doc["role"],
            "created_at": clock.as_utc(doc.get("created_at"))}


def _check_password(pw) -> None:
    if not isinstance(pw, str) or not 8 <= len(pw) or len(pw.encode()) > 72:
        raise InvalidInput("Password must be at least 8 characters (at most 72 bytes).")


def _check_name(name) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= 80:
        raise InvalidInput("Name must be 1 to 80 characters.")
    return name


def _check_email(email) -> None:
    if not isinstance(email, str) or not _EMAIL.match(email.strip()):
        raise InvalidInput("Enter a valid email address.")


def _hash(pw: str) -> str:
    return bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=10)).decode()
