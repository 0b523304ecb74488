"""Reading a receiver's payments list in reconciliation (a customer's virtual account, a fixed UPI QR) without
reading its whole history at every worker tick: the list is asked only for payments created since the
start of the receiver's last complete pass, less LOOKBACK (Razorpay's `from`, unix seconds, which every
list endpoint takes), page by page. A pass that meets an error does not move the mark, so what it missed is
read again; the first pass reads everything. The webhook credits first anyway: this is the safety net, and
its cost now follows the payments of the last days, not of all time.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from services import clock

LOOKBACK = 2 * 86400  # a payment Razorpay lists late (or a clock off by hours) is still read
PAGE = 100            # Razorpay's largest page


def window(doc: dict) -> dict:
    """The list query for a receiver's next pass: payments since its mark less LOOKBACK (all without one)."""
    mark = doc.get("reconciled_from")
    return {} if mark is None else {"from": int(clock.as_utc(mark).timestamp()) - LOOKBACK}


def payments(fetch: Callable[[dict], dict], query: dict) -> Iterator[dict]:
    """Every payment `fetch(query + count, skip)` lists, newest first, page by page."""
    skip = 0
    while True:
        items = [p for p in (fetch({**query, "count": PAGE, "skip": skip}).get("items") or []) if isinstance(p, dict)]
        yield from items
        if len(items) < PAGE:
            return
        skip += PAGE


def mark(started: datetime) -> dict:
    """The `$set` a receiver's owner writes after a complete pass that began at `started`."""
    return {"reconciled_from": started}
