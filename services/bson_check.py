"""The embedded engine's check of a value before it is stored, the same answers at a fraction of the cost.

mongoeco's `validate_bson_value` walks the whole value, and its encoder calls it again on every nested
document it goes into and on every leaf: a ledger entry's values were checked three or four times each,
and every integer was wrapped in a new BsonInt32 just to learn it is in range. Encoding was a quarter of
billing a batch of 1,000 usage events (`bench/api.py`). `validate` settles the values that cannot fail
(text, booleans, null, dates, floats, integers inside int64), walks documents and lists as mongoeco
does, and hands everything else (Decimals, sets, bytes, subclasses of the leaves...) and every document
with a key that is not text to mongoeco's own check, so it raises what mongoeco raises.
`tests/test_engine_writes.py` holds the two to the same answers.
"""
from __future__ import annotations

from datetime import datetime

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_LEAVES = (str, bool, float, datetime, type(None))
_original = None


def validate(value: object) -> None:
    pending = [value]
    while pending:
        current = pending.pop()
        kind = type(current)
        if kind in _LEAVES:
            continue
        if kind is int and INT64_MIN <= current <= INT64_MAX:  # type: ignore[operator]
            continue
        if isinstance(current, dict):  # mongoeco's own check takes any dict the same way
            if all(type(k) is str for k in current):
                pending.extend(current.values())
                continue
        elif isinstance(current, (list, tuple)):
            pending.extend(current)
            continue
        assert _original is not None
        _original(current)  # anything else, and every error: mongoeco's own answer


def install() -> None:
    """Use `validate` where mongoeco's encoder checks values (once per process)."""
    global _original
    from mongoeco.core import bson_scalars, codec
    if _original is None:
        _original = bson_scalars.validate_bson_value
    codec.validate_bson_value = validate
