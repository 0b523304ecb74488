"""How much of a wallet a customer may have refunded, and from which payments.

Refundable money is money paid through Razorpay and not yet spent: the unspent part of each recharge's
lot (services.ledger lots), for the recharges credited in the last 180 days (Razorpay refunds a payment
up to six months after it), less what their refunds already took. Promotional, manual and other credits
are lots of their own and never refundable; which lots spending used up is the ledger's burn order
(promotional credit first, by default), recorded on every debit. So per payment

    left = min(credited − refunded − reserved, what is left of its lot and not held)

where `reserved` is what the open refund request (one per user at a time) has set aside and not yet
sent, and the whole is at most `available − due` (an amount owed from an earlier refund comes first). A
payment credited before lots shares lot 0 (the balance the wallet had then) with the others of its time,
newest first. No ledger scan: the customer's recharge records name each credited payment, one read of
their refund allocations gives what their refunds took (`refunds.allocated`), and each live paid lot is
one primary-key read (`crediting.payment_lots`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services import clock, ledger
from services.payments import crediting, records, refunds

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
    w = ledger.get_wallet(db, user_id)
    unspent = _unspent(db, w)
    sources = []
    for rec in recent:
        for pid, paise in rec["credited"].items():
            credited = records.to_int(paise)
            left = unspent(pid, max(0, credited - taken.get(pid, 0) - int(reserved.get(pid, 0))))
            sources.append(Source(pid, rec["_id"], credited, left, clock.as_utc(rec["created_at"])))
    pool = sum(s.left_paise for s in sources if s.left_paise >= MIN_PART)
    room = max(0, w.available - w.due)
    return Refundable(min(pool, room), pool, w.available, w.due, tuple(sources))


def _unspent(db, w: ledger.WalletView):
    """(payment id, what Razorpay would still refund of it) -> what may be refunded: at most what is left
    of its lot, free (not held, not past expiry). Asked newest payment first: payments from before lots
    share lot 0, each taking from what the newer ones left of it."""
    now = clock.now()
    free = {pid: lot.remaining - lot.held for pid, lot in crediting.payment_lots(db, w).items()
            if not lot.voided and (lot.expires_at is None or lot.expires_at > now)}
    zero = next((lot for lot in w.lots if lot.lot == 0), None)
    shared = [zero.remaining - zero.held if zero is not None else 0]

    def left(pid: str, cap: int) -> int:
        if pid in free:
            return max(0, min(cap, free[pid]))
        if shared[0] <= 0 or cap <= 0 or crediting.lot_of(db, pid) != 0:
            return 0
        take = min(cap, shared[0])
        shared[0] -= take
        return take
    return left


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
