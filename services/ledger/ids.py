"""The ledger's vocabulary and its input checks: entry kinds, categories, identifiers.

User ids follow the one rule in services.users; the rest is the ledger's own.
"""
from __future__ import annotations

import re

from services import users
from services.errors import InvalidInput

CREDIT, DEBIT = "credit", "debit"
CATEGORIES = ("recharge", "call", "campaign", "manual_credit", "promo_credit", "refund", "adjustment")
CALL_CATEGORIES = ("call", "campaign")

_KEY = re.compile(r"^[^\x00-\x1f]{1,200}$")
_HOLD_ID = re.compile(r"^[A-Za-z0-9_:\-]{1,100}$")


def entry_id(user_id: str, n: int) -> str:
    """The n-th entry of a wallet (n = 1, 2, 3 ...): every read of an entry is a primary-key hit."""
    return f"{user_id}:{n:010d}"


def rollup_id(user_id: str, day: str) -> str:
    return f"{user_id}|{day}"


def check_user_id(user_id) -> str:
    return users.check_user_id(user_id)


def check_key(key) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput("Idempotency key must be 1-200 printable characters.")
    return key


def check_hold_id(hold_id) -> str:
    if not isinstance(hold_id, str) or not _HOLD_ID.match(hold_id):
        raise InvalidInput("Hold id must be 1-100 letters, digits, '_', ':' or '-'.")
    return hold_id


def check_type(type) -> str:
    if type not in (CREDIT, DEBIT):
        raise InvalidInput("Entry type must be 'credit' or 'debit'.")
    return type


def check_category(category) -> str:
    if category not in CATEGORIES:
        raise InvalidInput(f"Unknown category {category!r}.")
    return category
