"""Users: who they are, their role, their password, whether their account is enabled. This module alone
reads and writes the `users` collection; services.accounts builds on it (a new customer's wallet, the
end of every token when a session ends).

Sessions end when they should: every user document carries a `session_epoch`, bumped (in the same
write) by a password change or reset, a role change and a disabled account. An API token and a
dashboard session remember the epoch they started at (`session_start`) and are refused once it differs
(`signed_in`); the dashboard's cookie, which cannot be revoked, is refused when it was issued before
`sessions_ended_at`.

New usernames follow `normalize_username`, stricter than the user-id rule (services.ids): every username
is a valid user id.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from services import auditlog, checks, clock, passwords
from services.db import in_order, insert_new
from services.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound

ROLES = ("user", "admin", "analyst")
STAFF_ROLES = ("admin", "analyst")
NAME_MAX = 80
_USERNAME = re.compile(r"^[a-z0-9_-]{3,32}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
_MOBILE = re.compile(r"^(?:\+?91|0)?([6-9][0-9]{9})$")  # an Indian mobile: 10 digits from 6 to 9
MOBILE_RULE = "Enter a 10-digit Indian mobile number (it starts with 6, 7, 8 or 9), for example 98123 45678."
USERNAME_RULE = "Username must be 3-32 characters: lowercase letters, digits, '_' or '-'."
WRONG = "Wrong username or password."
DISABLED = "This account is disabled: ask an administrator to enable it."
ENDED = "Your session has ended (your password, role or account changed): sign in again."
# Indexes for the staff's lists (read through them, hinted: services.index_order on the embedded engine).
COLLECTIONS: dict[str, list] = {"users": [[("role", 1)], [("name", 1)], [("disabled", 1)]]}
KNOWN_ADDRESSES = 10  # the client addresses remembered per user (tokens' throttle trusts them)


def add(db, username: str, password: str, name: str, email: str, role: str = "user") -> dict:
    """Add a user (their wallet is services.accounts' to create). Raises InvalidInput naming every problem
    of the input at once, or Conflict; writes nothing then."""
    found = signup_problems(username, password, name, email, role)
    if found:
        raise InvalidInput(" ".join(found))
    username = normalize_username(username)
    doc = {"_id": username, "name": name.strip(), "email": email.strip().lower(), "role": role,
           "password_hash": passwords.hash_password(password), "created_at": clock.now(),
           "session_epoch": 0, "disabled": False}
    if not insert_new(db.users, doc):
        raise Conflict(f"The username {username!r} is taken.")
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
    try:
        check_email(email)
    except InvalidInput as exc:
        out.append(exc.message)
    out += passwords.problems(password, clean if len(clean) >= 3 else "")
    if role not in ROLES:
        out.append(f"Role must be one of {', '.join(ROLES)}.")
    return out


def check_email(email) -> str:
    """THE e-mail rule (sign-up, invitations): the address, trimmed and lower-cased, or InvalidInput."""
    if not isinstance(email, str) or not _EMAIL.match(email.strip()):
        raise InvalidInput("Enter a valid email address.")
    return email.strip().lower()


def check_mobile(number) -> str:
    """THE mobile-number rule: an Indian mobile, spaces and dashes allowed, as `+91XXXXXXXXXX`, or
    InvalidInput."""
    clean = re.sub(r"[\s-]", "", number) if isinstance(number, str) else ""
    found = _MOBILE.match(clean)
    if not found:
        raise InvalidInput(MOBILE_RULE)
    return "+91" + found.group(1)


def phone(db, username: str) -> str | None:
    """The user's mobile number on file (None: none yet)."""
    doc = db.users.find_one({"_id": username}, {"phone": 1}) if isinstance(username, str) else None
    return (doc or {}).get("phone") or None


def set_phone(db, username: str, number) -> str:
    """Keep the user's mobile number (checked first: a bad one writes nothing). Returns it as stored."""
    clean = check_mobile(number)
    if db.users.update_one({"_id": username}, {"$set": {"phone": clean}}).matched_count != 1:
        raise NotFound(f"No user {username!r}.")
    return clean


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


def with_role(db, role: str) -> list[dict]:
    """Every user of one role, through the role index (cheap for the few staff accounts)."""
    return [public(d) for d in db.users.find({"role": role}).hint([("role", 1)])]


def staff(db) -> dict[str, str]:
    """The staff accounts (admins and analysts) and their roles, by username."""
    return {u["username"]: u["role"] for role in STAFF_ROLES for u in with_role(db, role)}


def disabled_accounts(db) -> list[dict]:
    """Accounts that cannot sign in, through the `disabled` index."""
    return [public(d) for d in db.users.find({"disabled": True}).hint([("disabled", 1)])]


def every(db, *, page: int = 1000):
    """Every user in username order, read in pages (memory stays flat)."""
    return (public(d) for d in in_order(db.users, "_id", page=page))


def count(db) -> int:
    return db.users.count_documents({})


ORDERS = {"username": "_id", "name": "name", "role": "role"}


def ordered(db, by: str, *, descending: bool = False, skip: int = 0, limit: int = 100) -> list[dict]:
    """One page of users in the order of `by` (username, name or role; equal ones by username), read
    through its index."""
    field = ORDERS[by]
    flt, hint = ({}, "_id_") if field == "_id" else ({field: {"$gte": ""}}, [(field, 1)])
    cur = db.users.find(flt).sort(field, -1 if descending else 1).skip(skip).limit(limit).hint(hint)
    return [public(d) for d in cur]


def search(db, text: str, *, most: int = 500, page: int = 1000) -> tuple[list[dict], bool]:
    """Users whose username, name or e-mail contains `text` (any case), or whose phone number contains its
    digits (three or more), in username order: (the first `most` found, whether there are more). Reads users
    in pages until it has found enough."""
    s = (text or "").strip().lower()
    digits = "".join(ch for ch in s if ch.isdigit())
    by_phone = len(digits) >= 3 and digits == s.replace(" ", "").lstrip("+")
    found: list[dict] = []
    for u in every(db, page=page):
        phone = "".join(ch for ch in str(u.get("phone") or "") if ch.isdigit())
        if s in u["username"] or s in u["name"].lower() or s in u["email"].lower() or (by_phone and digits in phone):
            if len(found) == most:
                return found, True
            found.append(u)
    return found, False


# ------------------------------------------------------------------------------ what an admin changes

def set_password(db, username: str, new_password: str, *, by: str) -> dict:
    """Set a password (an admin's reset when `by` is someone else) and end every session of the user."""
    doc = _doc(db, username)
    found = passwords.problems(new_password, doc["_id"])
    if found:
        raise InvalidInput(" ".join(found))
    return _change(db, doc, {"password_hash": passwords.hash_password(new_password), "password_set_by": by,
                             "password_set_at": clock.now()}, by=by,
                   action="password_change" if by == doc["_id"] else "password_reset")


def change_password(db, username: str, current: str, new_password: str) -> dict:
    """A user's own change: the current password first (AuthError if wrong). Ends every session."""
    authenticate(db, username, current)
    return set_password(db, normalize_username(username), new_password, by=normalize_username(username))


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
    auditlog.record(db, by, "enable", doc["_id"])
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
    """Apply `fields` and end every session of the user, in one write (services.accounts then deletes
    their tokens: the epoch alone already ends them, so a crash in between ends nothing late)."""
    ended = clock.now()
    db.users.update_one({"_id": doc["_id"]}, {"$set": dict(fields, sessions_ended_at=ended),
                                              "$inc": {"session_epoch": 1}})
    auditlog.record(db, by, action, doc["_id"], detail)
    return public(dict(doc, **fields))


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

def exists(db, username: str) -> bool:
    return isinstance(username, str) and db.users.find_one({"_id": username}, {"_id": 1}) is not None


def created_at(db, username: str):
    """When the account was opened (UTC), or None."""
    doc = db.users.find_one({"_id": username}, {"created_at": 1}) if isinstance(username, str) else None
    return clock.as_utc(doc.get("created_at")) if doc else None


def any_user(db) -> bool:
    return db.users.find_one({}, {"_id": 1}) is not None


def any_admin(db) -> bool:
    return db.users.find_one({"role": "admin"}, {"_id": 1}) is not None


def credentials(db, usernames) -> dict:
    """The structure streamlit-authenticator wants to restore a session from its cookie, for these users
    only (the cookie's and the session's: never the whole collection, read on every page run). No password
    hashes: the dashboard checks passwords through tokens.sign_in, never through the library."""
    docs = (db.users.find_one({"_id": u}, {"name": 1, "email": 1, "role": 1}) for u in usernames
            if isinstance(u, str))
    return {"usernames": {d["_id"]: {"name": d["name"], "email": d["email"], "roles": [d["role"]]}
                          for d in docs if d is not None}}


def password_resets(db) -> list[tuple[str, str, datetime | None]]:
    """(username, by whom, when) of every account whose password an administrator last set."""
    return [(u["_id"], u["password_set_by"], u.get("password_set_at"))
            for u in db.users.find({"password_set_by": {"$exists": True}}, {"password_set_by": 1, "password_set_at": 1})
            if u.get("password_set_by") and u["password_set_by"] != u["_id"]]


def role_of(db, user_id: str) -> str | None:
    """The user's role, or None for an id with no user behind it."""
    doc = db.users.find_one({"_id": user_id}, {"role": 1}) if isinstance(user_id, str) else None
    return doc.get("role", "user") if doc else None


def normalize_username(username) -> str:
    if not isinstance(username, str) or not _USERNAME.match(username.strip().lower()):
        raise InvalidInput(USERNAME_RULE)
    return username.strip().lower()


def public(doc: dict) -> dict:
    return {"username": doc["_id"], "name": doc["name"], "email": doc["email"], "role": doc["role"],
            "created_at": clock.as_utc(doc.get("created_at")), "disabled": bool(doc.get("disabled"))}
