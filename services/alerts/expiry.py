"""Expiry notices: a customer hears ahead that credit in their wallet expires ("Rs. 200 of promotional
credit expires on 15 Jan"), through the alert channels (e-mail, signed webhook, the notifications page).

Two notices per lot: one when it is 7 days from its expiry, one when it is 1 day from it (a lot granted
closer to its expiry than 7 days gets the notices still ahead of it: one granted 12 hours before gets the
1-day one only). Each is keyed by the lot and the horizon, so a crash or two workers send it once. The
worker's step reads only wallets whose soonest expiry is within 7 days (`next_expiry`).
"""
from __future__ import annotations

from datetime import timedelta

from services import clock, ledger
from services.alerts import notices
from services.money import format_rupees

HORIZONS = ((timedelta(days=1), "1d"), (timedelta(days=7), "7d"))   # nearest first
EVENT = "wallet.credit.expiring"
WHAT = {"promo": "promotional credit", "manual": "credit given to you", "paid": "your recharge"}


def announce(db) -> int:
    """The worker's step: notices for lots entering the 7-day or the 1-day window. Returns how many."""
    now = clock.now()
    written = 0
    for uid, lots in ledger.expiring(db, now + HORIZONS[-1][0]):
        for lot in lots:
            if lot.expires_at is None:   # `expiring` lists lots that expire; a guard for the type checker
                continue
            label = next(lab for h, lab in HORIZONS if lot.expires_at - now <= h)
            key = f"lot-expiry:{lot.lot}:{label}"
            if notices.exists(db, uid, key):
                continue
            written += _tell(db, uid, key, lot)
    return written


def _tell(db, uid: str, key: str, lot: ledger.LotView) -> int:
    assert lot.expires_at is not None
    what = WHAT.get(lot.kind, "credit")
    on = clock.fmt(lot.expires_at, "%d %b %Y, %H:%M")
    text = (f"{format_rupees(lot.remaining)} of {what} expires on {on} {clock.abbr()}. It is spent before "
            "your other money; whatever is left then leaves your wallet.")
    return int(notices.notify(db, uid, key, event_type=EVENT,
                              headline=f"{format_rupees(lot.remaining)} of {what} expires on "
                                       f"{clock.fmt(lot.expires_at, '%d %b')}",
                              text=text, data={"lot": lot.lot, "kind": lot.kind, "remaining_paise": lot.remaining,
                                               "expires_at": clock.iso(lot.expires_at)}))
