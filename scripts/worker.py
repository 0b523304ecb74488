"""Background worker: finishes interrupted postings, expires credit lots past their expiry (and tells
customers 7 days and 1 day ahead), closes calls whose voice platform fell silent (at the end
of their last authorised slice, billed the last reported usage, never unreported time), collects amounts due
from money released since, polls open payment links, carries on self-serve refunds a crash interrupted, once a
day reconciles yesterday's payments with Razorpay, issues receipts, tops wallets up through their auto-recharge
mandates, decides and delivers low-balance alerts, and keeps the staff views' totals and lists. Each step
reads only the wallets changed since its last pass (services.ledger.feed), or those an index says have work
(lots to expire: `next_expiry`). Every step is idempotent (the daily one per day), so running it alongside live
traffic (or twice) is safe."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services import (alerts, autorecharge, calls, config, documents, ledger, payments,  # noqa: E402
                      razorpay_events, schema, staffview, tds, usage, wallet)

log = logging.getLogger("worker")


def tick(db) -> dict:
    out = {"ledger": ledger.recover_changed(db)}  # the wallets changed since its last pass
    steps = [(ledger.expire_lots, "expire_lots"),  # lots past their expiry leave, each once
             (calls.recover_stale_calls, "recover_stale_calls"),  # also silent calls past their last slice
             (usage.charge_due, "subscription_fees"),  # each month of a subscription once; unpaid -> due
             (wallet.collect_dues, "collect_dues")]
    steps.append((tds.sweep, "tds"))  # TDS receivable of each TDS customer's recharge, before its voucher
    steps.append((documents.sweep, "documents"))  # numbering recovery, then each recharge's and refund's voucher
    steps.append((documents.issue_invoices, "invoices"))  # days 1-5: last month's tax invoices
    if payments.mode() != "off":
        steps += [(razorpay_events.reconcile_open, "reconcile_open"), (payments.run_daily, "run_daily"),
                  (payments.recover_refund_requests, "recover_refund_requests"),
                  (payments.run_settlements, "settlements")]  # yesterday's settlement recon, once
        steps += [(autorecharge.run, "autorecharge")]
    steps += [(alerts.announce_tariffs, "tariff_notices"), (alerts.announce_service_prices, "service_price_notices"),
              (alerts.announce_expiries, "expiry_notices"),
              (alerts.run, "alerts")]
    steps.append((staffview.keep, "staff_views"))  # the totals and lists admins and analysts read
    for fn, name in steps:
        try:
            out[name] = fn(db)
        except Exception as exc:  # one failing step must not stop the others; it runs again next tick
            log.warning("%s failed: %s", name, exc)
    return out


def did_something(result) -> bool:
    """Whether a tick's result records any work (a count, a flag, a list or a dict of them)."""
    if isinstance(result, dict):
        return any(did_something(v) for v in result.values())
    if isinstance(result, (list, tuple, set)):
        return bool(result)
    return bool(result) if isinstance(result, (int, float)) else result is not None


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    bad = config.problems()
    if bad:
        raise SystemExit("!! configuration: " + " ".join(bad))
    db = schema.get_db()
    while True:
        out = tick(db)
        # A quiet tick every 30 s would bury the ticks that did something: those only at DEBUG.
        log.log(logging.INFO if did_something(out) else logging.DEBUG, "%s", out)
        time.sleep(config.get().worker_interval_seconds)


if __name__ == "__main__":
    main()
