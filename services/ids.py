"""What identifiers look like: a user id, a call id, a ledger entry's id, an idempotency key, a hold id.

A leaf: every floor above applies these rules to the ids it is given, and none of them needs to know
who is behind an id to check its shape.
"""
from __future__ import annotations

import re

from services.errors import InvalidInput

# A user id lives inside other ids (`{user}:{n}` entries, `{user}|{day}` rollups) and in `_id` fields:
# no dot, no colon, no leading '$'. Ids made by tests and scripts may be shorter than a username.
USER_ID_MAX = 64
_CALL_ID = re.compile(r"^[A-Za-z0-9_\-]{1,90}$")  # room for the ":<attempt>" of later hold ids
_KEY = re.compile(r"^[^\x00-\x1f]{1,200}$")
_HOLD_ID = re.compile(r"^[A-Za-z0-9_:\-]{1,100}$")


def check_user_id(user_id) -> str:
    """THE user-id rule: 1-64 characters, no '.', no ':', not starting with '$'. Returns the id."""
    if not isinstance(user_id, str) or not 1 <= len(user_id) <= USER_ID_MAX or "." in user_id or \
            ":" in user_id or user_id.startswith("$"):
        raise InvalidInput("Unknown or malformed user id.")
    return user_id


def check_call_id(call_id) -> str:
    if not isinstance(call_id, str) or not _CALL_ID.match(call_id):
        raise InvalidInput("Malformed call id.")
    return call_id


def entry_id(user_id: str, n: int) -> str:
    """The n-th entry of a wallet (n = 1, 2, 3 ...): every read of an entry is a primary-key hit."""
    return f"{user_id}:{n:010d}"


def check_key(key) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput("Idempotency key must be 1-200 printable characters.")
    return key


def check_hold_id(hold_id) -> str:
    if not isinstance(hold_id, str) or not _HOLD_ID.match(hold_id):
        raise InvalidInput("Hold id must be 1-100 letters, digits, '_', ':' or '-'.")
    return hold_id
