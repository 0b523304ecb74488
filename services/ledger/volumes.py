"""Volumes: what a wallet used of a metered service this business month, counted in the wallet's own
compare-and-set (docs/ledger.md, "Volumes").

A service with volume tiers prices an event by the units the month has used before it (the 10,001st SMS
costs less than the first). That count must move with the debit, or two racing batches would both price
their events as if the other had not happened: so it is the wallet's sub-document
`volumes {counter: {month, units}}`, read and written by the same compare-and-set that takes the money
(services.ledger.batch), like API keys' spend (services.ledger.budgets). A debit the wallet refuses adds
nothing; a crash after the write keeps both the money and the count, before it neither.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services import clock


@dataclass(frozen=True)
class Volume:
    """A debit priced by its month's volume: `quantity` units of `counter` cost `price(units_before)` paise,
    at most the debit's own amount (its list price: what a replay compares)."""
    counter: str
    quantity: int
    price: Callable[[int], int]


def this_month() -> str:
    return clock.day_of(clock.now())[:7]


def of_wallet(w: dict) -> dict[str, int]:
    """{counter: units used this business month} on the wallet document `w` (months gone by count 0)."""
    month = this_month()
    return {k: int(v["units"]) for k, v in (w.get("volumes") or {}).items() if v.get("month") == month}


def after(used: dict[str, int]) -> dict:
    """The wallet's `volumes` holding `used` (this month's counts): other months' counters are dropped, so
    the map stays as small as the services used this month."""
    month = this_month()
    return {k: {"month": month, "units": n} for k, n in sorted(used.items())}


def used_of(db, user_id: str) -> dict[str, int]:
    """{counter: units used this month} of a wallet (one read)."""
    return of_wallet(db.wallets.find_one({"_id": user_id}, {"volumes": 1}) or {})
