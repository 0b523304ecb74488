"""The ledger's vocabulary and its input checks: entry kinds, categories, identifiers.

User ids, entry ids, keys and hold ids follow the one rule of each in services.ids; the rest is the
ledger's own.
"""
from __future__ import annotations

from services.errors import InvalidInput
from services.ids import check_hold_id, check_key, check_user_id, entry_id  # noqa: F401 (the ledger's ids)

CREDIT, DEBIT = "credit", "debit"
CATEGORIES = ("recharge", "call", "campaign", "manual_credit", "promo_credit", "refund", "adjustment", "expiry",
              "void")
CALL_CATEGORIES = ("call", "campaign")
# Written by the ledger alone (a lot's remainder leaving at its expiry, or voided): never posted.
LOT_CATEGORIES = ("expiry", "void")


def rollup_id(user_id: str, day: str) -> str:
    return f"{user_id}|{day}"


def check_type(type) -> str:
    if type not in (CREDIT, DEBIT):
        raise InvalidInput("Entry type must be 'credit' or 'debit'.")
    return type


def check_category(category) -> str:
    if category not in CATEGORIES:
        raise InvalidInput(f"Unknown category {category!r}.")
    return category


def check_posted_category(category) -> str:
    """A category an operation may post or settle under (expiries and voids are the ledger's own)."""
    if check_category(category) in LOT_CATEGORIES:
        raise InvalidInput(f"Entries of category {category!r} are written by the ledger itself.")
    return category
