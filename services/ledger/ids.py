"""The ledger's vocabulary and its input checks: entry kinds, categories, identifiers.

User ids, entry ids, keys and hold ids follow the one rule of each in services.ids; the rest is the
ledger's own.
"""
from __future__ import annotations

from datetime import datetime

from services.errors import InvalidInput
from services.ledger import lots
from services.ids import check_hold_id, check_key, check_user_id, entry_id  # noqa: F401 (the ledger's ids)

CREDIT, DEBIT = "credit", "debit"
CATEGORIES = ("recharge", "call", "campaign", "manual_credit", "promo_credit", "refund", "adjustment", "expiry",
              "void", "usage", "fee")
CALL_CATEGORIES = ("call", "campaign")
# Other services billed from the wallet (services.usage): metered events and monthly fees.
SERVICE_CATEGORIES = ("usage", "fee")
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


_SPEC_KEYS = {"kind", "expires_at", "priority", "campaign"}


def check_spec(spec, type: str, category: str, now: datetime) -> tuple | None:
    """(kind letter, expiry epoch seconds or None, priority, campaign) of the lot a credit creates, from
    its category and the optional `spec`; None for a debit. InvalidInput for anything else."""
    if type != "credit":
        if spec:
            raise InvalidInput("Only a credit creates a lot.")
        return None
    spec = {} if spec is None else spec
    if not isinstance(spec, dict) or set(spec) - _SPEC_KEYS:
        raise InvalidInput(f"A lot is described by {', '.join(sorted(_SPEC_KEYS))}.")
    kind = spec.get("kind") or lots.KINDS[lots.CATEGORY_KIND.get(category, "a")]
    if kind not in lots.KIND_OF_NAME:
        raise InvalidInput(f"A lot's kind is one of {', '.join(lots.KIND_OF_NAME)}.")
    exp = spec.get("expires_at")
    if exp is not None:
        if not isinstance(exp, datetime) or exp.tzinfo is None:
            raise InvalidInput("A lot's expiry must be a date and time with its zone.")
        if exp <= now:
            raise InvalidInput("That expiry is already past.")
    prio = spec.get("priority")
    if prio is not None and (isinstance(prio, bool) or not isinstance(prio, int) or not 0 <= prio <= 9):
        raise InvalidInput("A lot's priority is a whole number from 0 (spent first) to 9.")
    tag = spec.get("campaign") or ""
    check_campaign(tag)
    letter = lots.KIND_OF_NAME[kind]
    return letter, lots.maybe_epoch(exp), lots.DEFAULT_PRIORITY.get(letter, 1) if prio is None else prio, tag


def check_campaign(tag) -> str:
    """A grant's campaign: up to 32 lowercase letters, digits, '-' or '_' ('' for none)."""
    if not isinstance(tag, str) or len(tag) > 32 or any(c not in _TAG_CHARS for c in tag) or tag == lots.NO_CAMPAIGN:
        raise InvalidInput("A campaign name is up to 32 lowercase letters, digits, '-' or '_'.")
    return tag


_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
