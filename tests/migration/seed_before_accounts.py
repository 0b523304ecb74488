"""Run by tests/test_accounts_migration.py with the code of main from before accounts (PRE_ACCOUNTS, a
`git archive` of it as the working directory): a database as customers had it then. Not a test.

argv: the number of customers with history, the number of further customers (WALLET_DATA_DIR: where).
"""
from __future__ import annotations

import sys

from services import accounts, calls, ledger, passwords, schema, wallet

HASH = passwords.hash_password("correct-horse-27")


def main(customers: int, more: int) -> None:
    passwords.hash_password = lambda pw: HASH  # one bcrypt for everyone: the seed is about data, not logins
    db = schema.get_db()
    accounts.create_user(db, "root", "correct-horse-27", "Root", "root@example.com", "admin")
    accounts.create_user(db, "ana", "correct-horse-27", "Ana", "ana@example.com", "analyst")
    for i in range(customers):
        name = f"cust{i:03d}"
        accounts.create_user(db, name, "correct-horse-27", f"Customer {i}", f"{name}@example.com")
        wallet.admin_credit(db, admin="root", user_id=name, amount=100 + i, category="promo_credit",
                            reason="seed", key=f"seed-{name}")
        ledger.post(db, name, key=f"rc-{name}", type="credit", category="recharge", amount=5_000 + i)
        for j in range(i % 3 + 1):
            c = calls.start_call(db, name, "+919876543210", "kb1", 3)
            calls.end_call(db, name, c["call_id"], 17 * (j + 1) + i)
        if i % 4 == 0:  # one call still on the line when the old version stopped
            calls.start_call(db, name, "+919876543211", "kb1", 2)
    for i in range(more):
        name = f"bulk{i:04d}"
        accounts.create_user(db, name, "correct-horse-27", f"Bulk {i}", f"{name}@example.com")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
