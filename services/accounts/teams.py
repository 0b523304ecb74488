"""Customer accounts and their members: an account owns a wallet (the ledger's user id is the account's id),
and people belong to it with a role (services.accounts.roles).

`accounts/{id}`: `name`, `created_at`, `created_by`, `v` (version), `members {username: {role, added_at,
added_by}}`. The members live in the account's own document so every change is one compare-and-set on
`v`: two owners demoting each other at the same moment cannot leave the account without an owner (the
second write misses and is judged again on the first one's result). The account a person signs up
with has their username as its id, so a customer from before accounts keeps the wallet and history
they had (services.accounts.migrate).

Membership is read on every request; `acting` keeps the answer for `tokens.CACHE_SECONDS` in its
process (a change made here drops it at once), the same promise as a revoked token.
"""
from __future__ import annotations

import threading
import time

from services import auditlog, clock, tokens, users
from services.accounts.roles import OWNER, ROLE_LABELS, ROLES, Acting
from services.db import insert_new
from services.errors import Conflict, InvalidInput, NotFound

NOT_YOURS = "No account {!r} among yours."


def create(db, account_id: str, name: str, owner: str, *, by: str) -> bool:
    """A new account with `owner` as its only member. False if it exists already (kept as it is)."""
    t = clock.now()
    made = insert_new(db.accounts, {"_id": account_id, "name": name, "created_at": t, "created_by": by, "v": 0,
                                    "members": {owner: {"role": OWNER, "added_at": t, "added_by": by}}})
    forget(account_id)  # a "not a member" this process remembers from a moment ago is wrong now
    return made


def get(db, account_id: str) -> dict:
    doc = db.accounts.find_one({"_id": account_id}) if isinstance(account_id, str) else None
    if doc is None:
        raise NotFound(f"No account {account_id!r}.")
    return doc


def exists(db, account_id: str) -> bool:
    return isinstance(account_id, str) and db.accounts.find_one({"_id": account_id}, {"_id": 1}) is not None


def role_of(db, account_id: str, username: str) -> str | None:
    doc = db.accounts.find_one({"_id": account_id}, {f"members.{username}": 1}) \
        if isinstance(account_id, str) and isinstance(username, str) else None
    return ((doc or {}).get("members") or {}).get(username, {}).get("role")


# ------------------------------------------------------------------------------------- who acts where

_cache_lock = threading.Lock()
_cache: dict[tuple[int, str, str], tuple[float, object, str | None]] = {}


def acting(db, account_id: str, username: str) -> Acting:
    """`username` acting on `account_id` in their role there; NotFound when they are not a member (the
    same answer as for an account that does not exist)."""
    if not isinstance(account_id, str) or not isinstance(username, str):
        raise NotFound(NOT_YOURS.format(account_id))
    key, mono = (id(db), account_id, username), time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[1] is db and mono - hit[0] < tokens.CACHE_SECONDS:
        role = hit[2]
    else:
        role = role_of(db, account_id, username)
        with _cache_lock:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[key] = (mono, db, role)
    if role is None:
        raise NotFound(NOT_YOURS.format(account_id))
    return Acting(account_id, role, person=username)


def forget(account_id: str) -> None:
    """Drop this process's cached memberships of an account (a change made here counts at once)."""
    with _cache_lock:
        for k in [k for k in _cache if k[1] == account_id]:
            _cache.pop(k, None)


def memberships(db, username: str) -> list[dict]:
    """Every account `username` belongs to: id, name, role; their own (id = username) first."""
    if not isinstance(username, str) or not username:
        return []
    out = [{"id": d["_id"], "name": d.get("name") or d["_id"], "role": d["members"][username]["role"]}
           for d in db.accounts.find({f"members.{username}": {"$exists": True}}, {"name": 1, "members": 1})]
    return sorted(out, key=lambda a: (a["id"] != username, a["name"].lower(), a["id"]))


def default_account(db, username: str) -> str | None:
    """The account a person acts on unless they choose another: their own, else the first they belong to.
    A person whose own account was never made (a crash between their user and their account) gets it now."""
    if role_of(db, username, username):
        return username
    mine = memberships(db, username)
    if mine:
        return mine[0]["id"]
    if not exists(db, username) and users.exists(db, username):
        create(db, username, users.get(db, username)["name"], username, by=username)
        return username
    return None


# ---------------------------------------------------------------------------------------- members

def members(db, account_id: str) -> list[dict]:
    """The members with their names and e-mail addresses, owners first."""
    doc = get(db, account_id)
    out = []
    for name, m in doc["members"].items():  # a handful: a point read of each person
        try:
            p = users.get(db, name)
        except NotFound:
            p = {"name": name, "email": ""}
        out.append({"username": name, "name": p["name"], "email": p["email"], "role": m["role"],
                    "added_at": clock.as_utc(m.get("added_at")), "added_by": m.get("added_by") or ""})
    return sorted(out, key=lambda m: (ROLES.index(m["role"]), m["username"]))


def check_role(role) -> str:
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.")
    return role


def add(db, account_id: str, username: str, role: str, *, by: str, address: str | None = None,
        via: str = "") -> dict:
    """Make `username` a member in `role` (an accepted invitation). A member already keeps their role."""
    check_role(role)

    def change(ms: dict) -> dict | None:
        if username in ms:
            return None
        return {**ms, username: {"role": role, "added_at": clock.now(), "added_by": by}}
    if _write(db, account_id, change):
        auditlog.record(db, by, "member_added", username, f"as {ROLE_LABELS[role]}{via}", account=account_id,
                        address=address)
    return {"username": username, "role": role_of(db, account_id, username)}


def set_role(db, account_id: str, username: str, role: str, *, by: str, address: str | None = None) -> dict:
    """Another role for a member. The last owner keeps theirs (Conflict)."""
    check_role(role)
    before: list[str] = []

    def change(ms: dict) -> dict | None:
        m = _member(ms, username, account_id)
        if m["role"] == role:
            return None
        if m["role"] == OWNER:
            _keep_an_owner(ms, username, "take the owner role from")
        before[:] = [m["role"]]
        return {**ms, username: dict(m, role=role)}
    if _write(db, account_id, change):
        auditlog.record(db, by, "member_role", username, f"{ROLE_LABELS[before[0]]} -> {ROLE_LABELS[role]}",
                        account=account_id, address=address)
    return {"username": username, "role": role}


def remove(db, account_id: str, username: str, *, by: str, address: str | None = None) -> None:
    """Take a member out of the account (`by` == `username`: they leave). The last owner stays (Conflict)."""
    def change(ms: dict) -> dict | None:
        m = _member(ms, username, account_id)
        if m["role"] == OWNER:
            _keep_an_owner(ms, username, "leave" if by == username else "remove")
        return {k: v for k, v in ms.items() if k != username}
    _write(db, account_id, change)
    auditlog.record(db, by, "member_left" if by == username else "member_removed", username, "", account=account_id,
                    address=address)


def _member(ms: dict, username: str, account_id: str) -> dict:
    if not isinstance(username, str) or username not in ms:
        raise NotFound(f"{username!r} is not a member of this account.")
    return ms[username]


def _keep_an_owner(ms: dict, username: str, what: str) -> None:
    if not any(v["role"] == OWNER for k, v in ms.items() if k != username):
        you = "you" if what == "leave" else "them"
        raise Conflict(f"The account's last owner cannot {what}{'' if what == 'leave' else ' ' + you}: "
                       "make another member an owner first.")


def _write(db, account_id: str, change) -> bool:
    """Compare-and-set the account's members: `change(members)` gives the new map (None: nothing to do;
    it raises to refuse). True if a change was written."""
    while True:
        doc = get(db, account_id)
        new = change(dict(doc.get("members") or {}))
        if new is None:
            return False
        res = db.accounts.update_one({"_id": account_id, "v": doc.get("v", 0)},
                                     {"$set": {"members": new, "v": int(doc.get("v", 0)) + 1}})
        if res.matched_count == 1:
            forget(account_id)
            return True
