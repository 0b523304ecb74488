"""Accounts: the accounts a person belongs to, the one a request acts on, its members (roles, removal, leaving),
invitations by e-mail and accepting them, and the account's audit trail. Rules live in services.accounts;
the invitation e-mail goes out through services.invites (the alerts' outbox)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import DB, AccountAudit, Address, Caller, CurrentUser, ExactRoute, MembersRead, MembersWrite
from api.schemas import OkOut
from api.schemas_accounts import (AcceptedOut, AcceptIn, AccountAuditOut, AccountOut, AccountsOut, InvitationOut,
                                  InvitationsOut, InviteIn, MemberOut, MemberRoleIn, MembersOut)
from services import invites
from services.accounts import invitations, teams, trail

router = APIRouter(prefix="/api", tags=["accounts"], route_class=ExactRoute)

Username = Annotated[str, Path(max_length=32, pattern=r"^[a-z0-9_-]{3,32}$")]
InvitationId = Annotated[str, Path(max_length=40, pattern=r"^inv_[0-9a-f]{16}$")]


@router.get("/accounts", response_model=AccountsOut)
def mine(user: CurrentUser, db: DB):
    """The accounts you belong to and your role on each (your own first). Send `X-Account: <id>` to act
    on another than your own."""
    return AccountsOut(accounts=[AccountOut(**a) for a in teams.memberships(db, user["username"])])


@router.get("/account", response_model=AccountOut)
def current(acct: Caller, db: DB):
    """The account this request acts on, and your role on it (an API key: `key` and its scopes)."""
    return AccountOut(id=acct.account, name=teams.get(db, acct.account).get("name") or acct.account,
                      role="key" if acct.key else acct.role, scopes=list(acct.scopes))


@router.get("/account/members", response_model=MembersOut)
def members(acct: MembersRead, db: DB):
    return MembersOut(members=[MemberOut(**m) for m in teams.members(db, acct.account)])


@router.put("/account/members/{username}", response_model=MemberOut)
def set_member_role(body: MemberRoleIn, username: Username, acct: MembersWrite, db: DB, address: Address):
    """Owners: another role for a member. The last owner keeps theirs (409)."""
    teams.set_role(db, acct.account, username, body.role, by=acct.actor, address=address)
    return next(MemberOut(**m) for m in teams.members(db, acct.account) if m["username"] == username)


@router.delete("/account/members/{username}", response_model=OkOut)
def remove_member(username: Username, acct: Caller, db: DB, address: Address):
    """Owners: take a member out. Anyone: your own name leaves the account. The last owner cannot (409)."""
    if username != acct.person:
        acct.require("members:write")
    teams.remove(db, acct.account, username, by=acct.actor, address=address)
    return OkOut(ok=True)


@router.get("/account/invitations", response_model=InvitationsOut)
def pending_invitations(acct: MembersRead, db: DB):
    """Invitations not yet accepted, withdrawn or expired."""
    return InvitationsOut(invitations=[InvitationOut(**i) for i in invitations.pending(db, acct.account)])


@router.post("/account/invitations", response_model=InvitationOut, status_code=201)
def invite(body: InviteIn, acct: MembersWrite, db: DB, address: Address):
    """Owners: invite someone by e-mail. The e-mail carries a link valid 7 days, used once; inviting the
    same address again replaces its pending invitation. The link is never in the answer."""
    return InvitationOut(**invites.invite(db, acct, body.email, body.role, address=address))


@router.delete("/account/invitations/{invitation_id}", response_model=InvitationOut)
def withdraw_invitation(invitation_id: InvitationId, acct: MembersWrite, db: DB, address: Address):
    return InvitationOut(**invitations.revoke(db, acct, invitation_id, address=address))


@router.post("/invitations/accept", response_model=AcceptedOut)
def accept_invitation(body: AcceptIn, user: CurrentUser, db: DB, address: Address):
    """Join the account an invitation names, signed in with the invited address (403 otherwise); the link
    works once (409 after)."""
    return AcceptedOut(**invitations.accept(db, body.token, user["username"], address=address))


@router.get("/account/audit", response_model=AccountAuditOut)
def audit(acct: AccountAudit, db: DB):
    """Owners: every member and API key change of the account, newest first: who, when, from where."""
    return AccountAuditOut(entries=trail.of_account(db, acct))

