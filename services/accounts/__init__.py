"""Accounts: the floor above users, the ledger and tokens, where they meet. A customer account owns a wallet
(the ledger's user id is the account's id); people are its members with a role; API keys act on it with
scopes and budgets. One module per concern:

- `people`       a person's life: sign-up (user, own account, wallet), password, role, status, first admin, demo
- `roles`        member roles, key scopes, what each may do (CAPABILITIES), `Acting`
- `teams`        accounts and their members (one compare-and-set per change), who acts where (cached briefly)
- `invitations`  signed, single-use, 7-day invitations by e-mail, and accepting them
- `keys`         API keys: made once, stored hashed, revoked at once, rotated with an overlap, budgets
- `trail`        the account's audit trail for its owners
- `migrate`      the start-up backfill: every person from before accounts owns an account of their own
"""
from services.accounts import invitations, keys, roles, teams, trail
from services.accounts.migrate import backfill
from services.accounts.people import (change_password, create_user, disable, enable, ensure_first_admin, seed_demo,
                                      set_password, set_role)
from services.accounts.roles import OWNER, ROLES, SCOPES, Acting

COLLECTIONS = {"accounts": [], "accounts_meta": [], "invitations": [[("account", 1)]], "api_keys": [[("account", 1)]]}

__all__ = ["Acting", "OWNER", "ROLES", "SCOPES", "backfill", "change_password", "create_user", "disable", "enable",
           "ensure_first_admin", "invitations", "keys", "roles", "seed_demo", "set_password", "set_role", "teams",
           "trail"]
