"""Budgets: an API key's daily and monthly caps and its limit of open holds, checked in the wallet's own
compare-and-set (docs/ledger.md, "Budgets").

A hold taken under a budget carries the budget's key (`holds[id].budget`). What a key has reserved now
is the sum of its open holds, so holds, extensions and releases need no counter of their own; what it
has spent is the wallet's sub-document `budgets {key: {day, spent_day, month, spent_month}}`, added to
by `settle` in the same write as the debit. A cap counts what is spent and what is held (each open hold
may still be billed), exactly as the wallet's own daily cap does, on the very wallet state the
compare-and-set writes over: racing holds on one key cannot pass its cap together.
"""
from __future__ import annotations

from dataclasses import dataclass

from services import checks, clock
from services.errors import InvalidInput, SpendCapReached, TooManyCalls
from services.money import format_rupees


@dataclass(frozen=True)
class Budget:
    """One key's limits (paise; None: no limit). `label` is how a refusal names the key."""
    key: str
    daily_cap: int | None = None
    monthly_cap: int | None = None
    max_open: int | None = None
    label: str = ""

    def __post_init__(self):
        if not isinstance(self.key, str) or not 1 <= len(self.key) <= 64 or "." in self.key or \
                self.key.startswith("$"):
            raise InvalidInput("A budget needs a key id of 1-64 characters.")
        for cap, what in ((self.daily_cap, "Daily cap"), (self.monthly_cap, "Monthly cap")):
            if cap is not None:
                checks.whole_number(cap, 0, what=what, unit="of paise")
        if self.max_open is not None:
            checks.whole_number(self.max_open, 1, what="Simultaneous calls")

    @property
    def name(self) -> str:
        return f"API key {self.label or self.key}"


@dataclass(frozen=True)
class KeySpend:
    """What one key spent today and this month (business day and month) and holds now."""
    key: str
    spent_day: int = 0
    spent_month: int = 0
    held: int = 0
    open: int = 0


def month_of(day: str) -> str:
    return day[:7]


def _spent(w: dict, key: str) -> tuple[int, int]:
    """(today's, this month's) spend of `key` on the wallet document `w` (0 for a day or month gone by)."""
    b = (w.get("budgets") or {}).get(key) or {}
    today = clock.day_of(clock.now())
    day = int(b.get("spent_day", 0)) if b.get("day") == today else 0
    month = int(b.get("spent_month", 0)) if b.get("month") == month_of(today) else 0
    return day, month


def _held(w: dict, key: str) -> tuple[int, int]:
    """(amount, count) of the open holds taken under `key`."""
    mine = [int(h["amount"]) for h in (w.get("holds") or {}).values() if h.get("budget") == key]
    return sum(mine), len(mine)


def of_wallet(w: dict) -> dict[str, KeySpend]:
    """Every key's spend and holds on the wallet document `w`."""
    keys = set(w.get("budgets") or {}) | {h["budget"] for h in (w.get("holds") or {}).values() if h.get("budget")}
    out = {}
    for k in sorted(keys):
        day, month = _spent(w, k)
        held, n = _held(w, k)
        out[k] = KeySpend(k, day, month, held, n)
    return out


def room(w: dict, b: Budget) -> int | None:
    """What the key may still reserve under its caps (None: no cap)."""
    day, month = _spent(w, b.key)
    held, _ = _held(w, b.key)
    left = [cap - spent - held for cap, spent in ((b.daily_cap, day), (b.monthly_cap, month)) if cap is not None]
    return max(0, min(left)) if left else None


def admit(w: dict, b: Budget | None, take: int, min_amount: int | None) -> int:
    """What a new hold of `take` may reserve under `b` (with `min_amount`: less, down to that minimum),
    or TooManyCalls / SpendCapReached naming the key's limit."""
    if b is None:
        return take
    _, n = _held(w, b.key)
    if b.max_open is not None and n >= b.max_open:
        raise TooManyCalls(f"{b.name} already has {n} call{'s' if n != 1 else ''} on the line, its limit of "
                           f"{b.max_open} at once.", limit=b.max_open, key=b.key)
    return _fit(w, b, take, take if min_amount is None else max(min_amount, 1))


def admit_more(w: dict, b: Budget | None, take: int, min_amount: int | None) -> int:
    """What an extension of `take` may add under `b`: all of it, or (with `min_amount`) what is left."""
    if b is None:
        return take
    return _fit(w, b, take, take if min_amount is None else min(min_amount, take))


def _fit(w: dict, b: Budget, take: int, need: int) -> int:
    left = room(w, b)
    if left is None or left >= take:
        return take
    if left >= need:
        return left
    raise cap_refusal(w, b, need)


def cap_refusal(w: dict, b: Budget, need: int) -> SpendCapReached:
    """The refusal naming the cap with the least room left (the daily one on a tie)."""
    day, month = _spent(w, b.key)
    held, _ = _held(w, b.key)
    caps = [(cap - spent - held, cap, spent, period) for cap, spent, period in
            ((b.daily_cap, day, "daily"), (b.monthly_cap, month, "monthly")) if cap is not None]
    _, cap, spent, period = min(caps, key=lambda c: (c[0], c[3] != "daily"))
    return SpendCapReached(f"{b.name} reached its {period} cap of {format_rupees(cap)}: "
                           f"{format_rupees(spent + held)} already spent or reserved, and this needs "
                           f"{format_rupees(need)}.", cap=cap, committed=spent + held, wanted=need,
                           key=b.key)


def tag(h: dict, b: Budget | None) -> dict:
    """A new hold record, marked as taken under `b`."""
    return dict(h, budget=b.key) if b is not None else h


def after_settle(w: dict, h: dict, amount: int) -> dict | None:
    """The wallet's `budgets` once the hold `h` is settled for `amount` (None: nothing to change).
    Keys with nothing this month are dropped, so the map stays as small as the keys in use."""
    key = h.get("budget")
    if not key:
        return None
    today = clock.day_of(clock.now())
    day, month = _spent(w, key)
    out = {k: v for k, v in (w.get("budgets") or {}).items() if v.get("month") == month_of(today)}
    out[key] = {"day": today, "spent_day": day + amount, "month": month_of(today), "spent_month": month + amount}
    return out


def spend_of(db, user_id: str) -> dict[str, KeySpend]:
    """Every key's spend and holds on a wallet (one read)."""
    w = db.wallets.find_one({"_id": user_id}, {"budgets": 1, "holds": 1}) or {}
    return of_wallet(w)
