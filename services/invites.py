"""An invitation sent: made by services.accounts, its e-mail queued in the alerts' outbox (services.alerts sits
above accounts, so the two meet here). One call for the API and the Account page."""
from __future__ import annotations

from services import alerts
from services.accounts import Acting, invitations
from services.accounts.roles import ROLE_HELP, ROLE_LABELS


def invite(db, acting: Acting, email, role, *, address: str | None = None) -> dict:
    """Invite `email` to `acting.account` in `role` and queue the e-mail with its link (valid 7 days,
    used once). Returns the invitation (never the link: only the e-mail carries it)."""
    inv, token = invitations.invite(db, acting, email, role, address=address)
    who = inv["invited_by"]
    alerts.mail_invitation(db, inv["account"], inv["id"], to=inv["email"],
                           headline=f"{who} invited you to {inv['account_name']} on the Voice AI wallet",
                           text=(f"{who} invited you to join the account {inv['account_name']} as "
                                 f"{ROLE_LABELS[inv['role']]} ({ROLE_HELP[inv['role']]}). Sign in (or create your "
                                 f"login with this e-mail address), then accept. The link works once, until "
                                 f"{inv['expires_at']:%d %b %Y}."),
                           action_url=invitations.link(token), action_label="Accept the invitation")
    return inv
