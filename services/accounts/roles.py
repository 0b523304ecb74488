"""Who may do what on an account: the members' roles, API keys' scopes, and `Acting`, the one answer the
API and the dashboard both ask ("may this caller do X on this account?").

One table, CAPABILITIES: each capability (a group of endpoints and page actions) lists the member roles
and the key scopes that grant it. A key never manages keys or members, whatever its scopes.
"""
from __future__ import annotations

from dataclasses import dataclass

from services.errors import Forbidden

OWNER, FINANCE, DEVELOPER, VIEWER = "owner", "finance", "developer", "viewer"
ROLES = (OWNER, FINANCE, DEVELOPER, VIEWER)
ROLE_LABELS = {OWNER: "Owner", FINANCE: "Finance", DEVELOPER: "Developer", VIEWER: "Viewer"}
ROLE_HELP = {OWNER: "everything: members, API keys, recharges, refunds",
             FINANCE: "recharges, receipts and statements, refund requests, alerts, auto-recharge",
             DEVELOPER: "API keys, calls and campaigns, usage",
             VIEWER: "reads everything, changes nothing"}
SCOPES = ("calls", "wallet:read", "payments")
SCOPE_HELP = {"calls": "start, update and end calls; campaigns; usage and the call terms",
              "wallet:read": "balance, transactions, receipts and statements",
              "payments": "create payment links and orders, and follow them"}

_ALL = ROLES
# capability: (member roles, key scopes)
CAPABILITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "balance": (_ALL, ("wallet:read",)),
    "terms": (_ALL, ("wallet:read", "calls")),
    "transactions": (_ALL, ("wallet:read",)),
    "usage": (_ALL, ("calls",)),
    "documents": ((OWNER, FINANCE, VIEWER), ("wallet:read",)),
    "pay": ((OWNER, FINANCE), ("payments",)),
    "refunds:read": ((OWNER, FINANCE, VIEWER), ()),
    "refunds:request": ((OWNER, FINANCE), ()),
    "alerts:read": ((OWNER, FINANCE, VIEWER), ()),
    "alerts:write": ((OWNER, FINANCE), ()),
    "autorecharge:read": ((OWNER, FINANCE, VIEWER), ()),
    "autorecharge:write": ((OWNER, FINANCE), ()),
    "calls": ((OWNER, DEVELOPER), ("calls",)),
    "keys:read": ((OWNER, DEVELOPER, VIEWER), ()),
    "keys:write": ((OWNER, DEVELOPER), ()),
    "members:read": (_ALL, ()),
    "members:write": ((OWNER,), ()),
    "audit": ((OWNER,), ()),
}
_WHAT = {"balance": "read the balance", "terms": "read the call terms", "transactions": "read the transactions",
         "usage": "read the usage", "documents": "read receipts and statements", "pay": "make payments",
         "refunds:read": "read refunds", "refunds:request": "request refunds", "alerts:read": "read the alerts",
         "alerts:write": "change the alerts", "autorecharge:read": "read the auto-recharge",
         "autorecharge:write": "change the auto-recharge", "calls": "place calls", "keys:read": "see the API keys",
         "keys:write": "manage API keys", "members:read": "see the members", "members:write": "manage members",
         "audit": "read the account's audit log"}


@dataclass(frozen=True)
class Acting:
    """Who acts on which account: a member (person) in a role, or an API key with its scopes."""
    account: str
    role: str                       # the member's role; "key" for an API key
    person: str | None = None       # the signed-in person's username (None for a key)
    key: str | None = None          # the key id (None for a person)
    scopes: tuple[str, ...] = ()    # a key's scopes
    key_name: str = ""
    person_role: str = ""           # the person's own role in the product (user, admin, analyst)

    @property
    def actor(self) -> str:
        """How the audit log names who did it."""
        return self.person if self.person else f"key:{self.key}"

    def may(self, capability: str) -> bool:
        roles, scopes = CAPABILITIES[capability]
        if self.key:
            return any(s in scopes for s in self.scopes)
        return self.role in roles

    def require(self, capability: str) -> "Acting":
        if not self.may(capability):
            who = f"API key {self.key_name or self.key}" if self.key else \
                f"Your role on this account ({ROLE_LABELS.get(self.role, self.role)})"
            raise Forbidden(f"{who} may not {_WHAT.get(capability, capability)}.")
        return self
