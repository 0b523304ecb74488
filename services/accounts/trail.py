"""The account's own audit trail: every member and key change (who, when, from where), as its owners read it.
The records are services.auditlog's (the admin's audit log reads the same ones, services.audit)."""
from __future__ import annotations

from services import auditlog, clock
from services.accounts.roles import Acting

ACTIONS = {"member_invited": "Invited a member", "invitation_revoked": "Withdrew an invitation",
           "member_added": "Joined the account", "member_role": "Changed a member's role",
           "member_removed": "Removed a member", "member_left": "Left the account",
           "key_created": "Created an API key", "key_rotated": "Rotated an API key",
           "key_revoked": "Revoked an API key"}


def of_account(db, acting: Acting, limit: int = 500) -> list[dict]:
    """The account's member and key changes, newest first: at, actor, action (in words), target, detail,
    address. Owners only."""
    acting.require("audit")
    return [{"at": clock.as_utc(d["at"]), "actor": d.get("actor", ""), "action": ACTIONS.get(d["action"], d["action"]),
             "target": d.get("target", ""), "detail": d.get("detail", ""), "address": d.get("address") or ""}
            for d in auditlog.of_account(db, acting.account, limit) if d.get("action") in ACTIONS]
