"""Input checks shared by every service: one definition each, one message style.

Money has its own module (services.money); identifiers that belong to a concept (user ids, call ids)
live with that concept. What is here is generic: a bounded whole number and a bounded piece of text.
"""
from __future__ import annotations

from services.errors import InvalidInput


def whole_number(value, lo: int | None = None, hi: int | None = None, *, what: str = "Value",
                 unit: str = "") -> int:
    """`value` if it is an int (never a bool) within [lo, hi]; else InvalidInput naming `what`."""
    ok = not isinstance(value, bool) and isinstance(value, int) and \
        (lo is None or value >= lo) and (hi is None or value <= hi)
    if ok:
        return value
    unit = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        raise InvalidInput(f"{what} must be a whole number{unit} from {lo:,} to {hi:,}.")
    if lo is not None:
        raise InvalidInput(f"{what} must be a whole number{unit} of at least {lo:,}.")
    if hi is not None:
        raise InvalidInput(f"{what} must be a whole number{unit} of at most {hi:,}.")
    raise InvalidInput(f"{what} must be a whole number{unit}.")


def text(value, *, what: str, most: int, least: int = 0) -> str:
    """`value` if it is a str of `least`..`most` characters; else InvalidInput naming `what`."""
    if not isinstance(value, str) or not least <= len(value) <= most:
        span = f"{least} to {most}" if least else f"at most {most}"
        raise InvalidInput(f"{what} must be text of {span} characters.")
    return value
