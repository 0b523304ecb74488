"""When a debit crosses a line: the balance thresholds, zero, and the runway.

Alerts watch the balance each entry leaves (`balance_after`), not the available amount: a call's hold
comes and goes within minutes, and alerting on it would fire at every call start on a small wallet and
re-arm at every release. A threshold `t` is crossed by an entry that takes the balance from not low to
low by the one low-balance rule (services.wallet.is_low: below `t`); it is armed again exactly when the
balance is back at `t` or above, which only a credit (a recharge) does. So each threshold fires once per
downward crossing, and a balance that stays under it, however it moves, never fires it again.

Zero always alerts: an entry that leaves the balance at 0 from above. The runway ("about N days left")
is the same rule with a moving line: the entry takes the whole days the balance lasts, at the average
daily spend of the 7 whole business days before the entry's day (services.reports owns the arithmetic),
from N or more to fewer than N.
"""
from __future__ import annotations

from dataclasses import dataclass

from services import spending, users, wallet

RUNWAY_WINDOW_DAYS = 7


@dataclass(frozen=True)
class Crossing:
    """What one debit crossed; `label` names the line the alert is keyed by (the most urgent one)."""
    label: str
    kind: str                   # zero | threshold | runway
    threshold: int              # paise: the line crossed (0 for zero; the runway's balance line)
    crossed: tuple[int, ...]    # every balance threshold crossed, highest first
    runway_days: int | None     # days left after the entry (None: no spending history)


def crossed(before: int, after: int, thresholds, role: str | None = "user") -> tuple[int, ...]:
    """The thresholds a change of balance from `before` to `after` fell below, highest first."""
    return tuple(t for t in sorted(set(thresholds), reverse=True)
                 if t > 0 and not wallet.is_low(before, t, role) and wallet.is_low(after, t, role))


def hit_zero(before: int, after: int) -> bool:
    return before > 0 >= after


def runway_fell(before: int, after: int, basis: tuple[int, int], days: int) -> int | None:
    """Days left after the change if it took the runway under `days` (else None). `basis` is
    (paise spent, days) of the window, from spending.runway_basis."""
    spent, span = basis
    left_before = spending.runway_days(before, spent, span)
    left_after = spending.runway_days(after, spent, span)
    if days <= 0 or left_before is None or left_after is None:  # None: nothing spent in the window
        return None
    return left_after if left_before >= days > left_after else None


def runway_line(basis: tuple[int, int], days: int) -> int:
    """The balance under which fewer than `days` days are left: ceil(days x average daily spend)."""
    spent, span = basis
    return -(-days * spent // span) if span else 0


def judge(before: int, after: int, thresholds, role: str | None, basis: tuple[int, int] | None,
          runway_days: int) -> Crossing | None:
    """What a debit from `before` to `after` crossed, or None. `basis` None: no runway alert."""
    if role in users.STAFF_ROLES:  # staff wallets sit at zero by design
        return None
    hits = crossed(before, after, thresholds, role)
    fell = basis is not None and runway_fell(before, after, basis, runway_days) is not None
    left = spending.runway_days(after, *basis) if basis is not None else None
    if hit_zero(before, after):
        return Crossing("zero", "zero", 0, hits, left)
    if hits:
        return Crossing(f"below-{hits[-1]}", "threshold", hits[-1], hits, left)
    if fell and basis is not None:
        return Crossing(f"runway-{runway_days}d", "runway", runway_line(basis, runway_days), hits, left)
    return None
