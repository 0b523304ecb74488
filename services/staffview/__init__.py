"""What staff views read: running totals, each day's totals and ranked lists of wallets, kept from the
ledger's feed, so that an admin's or analyst's page costs the same at 1,000 and at 100,000 customers.

A read model with one owner (this package), exact and recoverable: each wallet has a row (its balance,
holds, live rollup days and recent debits as last counted); the totals are sums over the rows, moved with
them in numbered batches that apply exactly once whatever is killed when (services.staffview.batches).
The ledger is not touched: `refresh` reads the wallets changed since its last pass (services.ledger.feed)
and applies them; the worker calls it every tick, and staff pages call it before reading when few wallets
are waiting (`most`), so what they show is current. `backfill` builds the views once for a database that
has none (services.schema, at start-up, killable), and again after the rollups are recounted.

- `rows`     one wallet's row; what a new state of the wallet adds to the totals and to each day
- `batches`  the exactly-once application (compute, write down, commit, spread)
- `build`    building from scratch under a lease
- `read`     totals, days, rows in the order of an index, top spenders
"""
from __future__ import annotations

from services import clock, ledger
from services.staffview import batches, build, read
from services.staffview.build import backfill
from services.staffview.rows import HIST, WINDOW_DAYS, WINDOWS, hist_of, summed

COLLECTIONS = {
    "staff_rows": [[("balance", 1)], [("available", 1)], [("active_at", 1)]] +
                  [[(f"spent_{w}", 1)] for w in WINDOWS],
    "staff_totals": [], "staff_days": [], "staff_batches": [], "staff_recent": []}


def refresh(db, *, most: int | None = None) -> dict:
    """Apply the wallets changed since the last pass. With `most`, only when at most that many wallets wait
    (a page's refresh; the worker's takes them all). Returns {"rows": rows written}, and "deferred" when
    it left them to the worker; {"rows": 0, "ready": False} before the views are built."""
    t = batches.totals(db)
    if t is None:
        return {"rows": 0, "ready": False}
    batches.finish(db)
    started = clock.now()
    since = t.get("since")
    if most is not None and ledger.count_changed(db, since) > most:
        return {"rows": 0, "deferred": True}
    written, complete = batches.apply(db, ledger.changed(db, since), clock.today())
    if complete:
        batches.set_since(db, started)
    return {"rows": written}


def keep(db) -> dict:
    """The worker's step: build the views if they are missing or stale (here, whatever their size), then
    refresh them."""
    built = backfill(db, wait=True) if build.needed(db) else {}
    return refresh(db) | ({"built": True} if built.get("built") else {})


__all__ = ["HIST", "WINDOWS", "WINDOW_DAYS", "backfill", "hist_of", "keep", "read", "refresh", "summed"]
