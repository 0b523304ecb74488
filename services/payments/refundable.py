"""How much of a wallet a customer may have refunded, and from which payments.

Refundable money is money paid through Razorpay: the recharges credited in the last 180 days (Razorpay
refunds a payment up to six months after it), less what their refunds already took. Promotional,
manual and other credits are not refundable.

Which money does spending use up? Spending counts against the NON-refundable credits first, whenever
they arrived, then against recharges (the order that favours the customer). So the refundable part of
the wallet is simply

    refundable = min(Σ per payment (credited − refunded − reserved), available − due)

where `reserved` is what the open refund request (one per user at a time) has set aside and not yet
sent, `available` is the balance less every hold (a refund's own holds included), and `due` an amount
owed from an earlier refund. No ledger scan: the customer's recharge records (`payment_links`, the
same read as the wallet page's list) name each credited payment, and one read of their refund
allocations gives what their refunds took (`refunds.allocated`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services import clock, ledger
from services.payments import records, refunds

WINDOW = timedelta(days=180)
MIN_PART = 100  # Razorpay refunds at least Rs. 1 per refund: a payment with less left is not refundable


@dataclass(frozen=True)
class Source:
    """One credited payment and what of it may still be refunded."""
    payment_id: str
    reference_id: str
    credited_paise: int
    left_paise: int
    paid_at: object


@dataclass(frozen=True)
class Refundable:
    amount_paise: int           # what a refund request may ask for now
    recharges_paise: int        # refundable recharges, before the wallet's own limit
    available_paise: int
    due_paise: int
    sources: tuple = ()         # newest first
    window_days: int = WINDOW.days


def compute(db, user_id: str, reserved: dict | None = None) -> Refundable:
    """The refundable part of `user_id`'s wallet; `reserved`: {payment_id: paise} set aside by an open
    refund request and not yet known to `refunds`."""
    reserved = reserved or {}
    since = clock.now() - WINDOW
    recent = [r for r in records.user_links(db, user_id)
              if r.get("credited") and clock.as_utc(r["created_at"]) >= since]
    recent.sort(key=lambda r: clock.as_utc(r["created_at"]), reverse=True)
    taken = refunds.allocated(db, [pid for rec in recent for pid in rec["credited"]])
    sources = []
    for rec in recent:
        for pid, paise in rec["credited"].items():
            credited = records.to_int(paise)
            left = max(0, credited - taken.get(pid, 0) - int(reserved.get(pid, 0)))
            sources.append(Source(pid, rec["_id"], credited, left, clock.as_utc(rec["created_at"])))
    w = ledger.get_wallet(db, user_id)
    pool = sum(s.left_paise for s in sources if s.left_paise >= MIN_PART)
    room = max(0, w.available - w.due)
    return Refundable(min(pool, room), pool, w.available, w.due, tuple(sources))


def split(plan: Refundable, paise: int) -> list[tuple[str, int]]:
    """`paise` across the payments, newest first, each part at least Razorpay's minimum:
    [(payment_id, paise)]. Their sum is less than `paise` only when no such split exists."""
    parts, rest = [], paise
    for s in plan.sources:
        if rest <= 0:
            break
        if s.left_paise < MIN_PART:
            continue
        take = min(rest, s.left_paise)
        if 0 < rest - take < MIN_PART:  # leave the next part its minimum
            take -= MIN_PART - (rest - take)
        if take >= MIN_PART:
            parts.append((s.payment_id, take))
            rest -= take
    return parts
