"""Invitations: an owner asks someone, by e-mail, to join the account in a role.

The link carries `<id>.<secret>`: 32 random bytes nobody can guess or forge, stored only as the SHA-256
of the whole token (`invitations/{id}`), valid for VALID (7 days) and used once. Accepting is a
compare-and-set from `pending` to `accepting` naming the person, then the membership, then `accepted`:
two people racing with one link cannot both join, and a crash in between is finished by the same
person trying again. The person accepting must be signed in with the invited e-mail address.

The e-mail itself goes through the alerts' outbox (services.invites: services.alerts sits above this
floor), so it is retried and shows in `make run`'s mail sink like every alert.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from services import auditlog, clock, config, users
from services.accounts import teams
from services.accounts.roles import ROLE_LABELS, Acting
from services.db import insert_new
from services.errors import Conflict, Forbidden, InvalidInput, NotFound

VALID = timedelta(days=7)
PENDING, ACCEPTING, ACCEPTED, REVOKED = "pending", "accepting", "accepted", "revoked"
USED = "This invitation was used already: ask the account's owner for a new one."


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link(token: str) -> str:
    """Where the invitation is accepted: the dashboard's Account page."""
    return f"{config.get().public_url.rstrip('/')}/account?invite={token}"


def invite(db, acting: Acting, email, role, *, address: str | None = None) -> tuple[dict, str]:
    """A new invitation to `acting.account` (an owner's). Returns it and its token (for the e-mail only).
    Inviting an address again replaces its pending invitation (its link stops working)."""
    acting.require("members:write")
    email, role = users.check_email(email), teams.check_role(role)
    account = teams.get(db, acting.account)
    mails = {m["email"] for m in teams.members(db, acting.account)}
    if email in mails:
        raise Conflict(f"{email} is a member of this account already.")
    for old in db.invitations.find({"account": acting.account, "email": email, "status": PENDING}):
        db.invitations.update_one({"_id": old["_id"], "status": PENDING}, {"$set": {"status": REVOKED,
                                                                                  "revoked_by": acting.actor}})
    while True:
        iid = "inv_" + secrets.token_hex(8)
        token = f"{iid}.{secrets.token_urlsafe(32)}"
        t = clock.now()
        doc = {"_id": iid, "account": acting.account, "account_name": account.get("name") or acting.account,
               "email": email, "role": role, "token_hash": _hash(token), "invited_by": acting.actor, "created_at": t,
               "expires_at": t + VALID, "status": PENDING}
        if insert_new(db.invitations, doc):
            break
    auditlog.record(db, acting.actor, "member_invited", email, f"as {ROLE_LABELS[role]}", account=acting.account,
                    address=address)
    return public(doc), token


def pending(db, account_id: str) -> list[dict]:
    """The account's invitations not yet accepted, revoked or expired, newest first."""
    now = clock.now()
    rows = [public(d) for d in db.invitations.find({"account": account_id, "status": PENDING})
            if clock.as_utc(d["expires_at"]) > now]
    return sorted(rows, key=lambda d: d["created_at"], reverse=True)


def revoke(db, acting: Acting, invitation_id: str, *, address: str | None = None) -> dict:
    acting.require("members:write")
    doc = db.invitations.find_one({"_id": invitation_id}) if isinstance(invitation_id, str) else None
    if doc is None or doc["account"] != acting.account:
        raise NotFound(f"No invitation {invitation_id!r} in this account.")
    if doc["status"] == PENDING and db.invitations.update_one(
            {"_id": doc["_id"], "status": PENDING},
            {"$set": {"status": REVOKED, "revoked_by": acting.actor}}).matched_count == 1:
        auditlog.record(db, acting.actor, "invitation_revoked", doc["email"], "", account=acting.account,
                        address=address)
    return public(db.invitations.find_one({"_id": doc["_id"]}))


def peek(db, token) -> dict:
    """The invitation a token stands for, if it can still be accepted (what the page shows first)."""
    doc = _find(db, token)
    if doc["status"] not in (PENDING, ACCEPTING):
        raise Conflict(USED if doc["status"] == ACCEPTED else "This invitation was withdrawn.")
    if clock.as_utc(doc["expires_at"]) <= clock.now():
        raise Conflict("This invitation has expired: ask the account's owner for a new one.")
    return public(doc)


def accept(db, token, username: str, *, address: str | None = None) -> dict:
    """Join the invitation's account as `username` (signed in with the invited address). Once only."""
    doc = _find(db, token)
    peek(db, token)
    me = users.get(db, username)
    if me["email"].lower() != doc["email"]:
        raise Forbidden(f"This invitation is for {doc['email']}: sign in with the account that uses that address.")
    if doc["status"] == PENDING:
        res = db.invitations.update_one({"_id": doc["_id"], "status": PENDING},
                                        {"$set": {"status": ACCEPTING, "accepted_by": username}})
        if res.matched_count != 1:
            doc = db.invitations.find_one({"_id": doc["_id"]})
    elif doc.get("accepted_by") != username:
        raise Conflict(USED)
    doc = db.invitations.find_one({"_id": doc["_id"]})
    if doc["status"] != ACCEPTING or doc.get("accepted_by") != username:
        raise Conflict(USED)
    teams.add(db, doc["account"], username, doc["role"], by=username, address=address,
              via=f", invited by {doc['invited_by']}")
    db.invitations.update_one({"_id": doc["_id"], "status": ACCEPTING},
                              {"$set": {"status": ACCEPTED, "accepted_at": clock.now()}})
    return {"account": doc["account"], "name": doc["account_name"], "role": teams.role_of(db, doc["account"], username)}


def _find(db, token) -> dict:
    if not isinstance(token, str) or not 20 <= len(token) <= 200 or "." not in token:
        raise InvalidInput("This invitation link is not valid: open it from the e-mail again.")
    doc = db.invitations.find_one({"_id": token.split(".", 1)[0]})
    if doc is None or not hmac.compare_digest(doc["token_hash"], _hash(token)):
        raise InvalidInput("This invitation link is not valid: open it from the e-mail again.")
    return doc


def public(doc: dict) -> dict:
    return {"id": doc["_id"], "account": doc["account"], "account_name": doc.get("account_name") or doc["account"],
            "email": doc["email"], "role": doc["role"], "invited_by": doc["invited_by"],
            "created_at": clock.as_utc(doc["created_at"]), "expires_at": clock.as_utc(doc["expires_at"]),
            "status": doc["status"]}
