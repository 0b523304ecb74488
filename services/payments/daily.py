"""Daily reconciliation: once per business day (midnight to midnight IST, services.clock), every payment Razorpay
captured that day is matched to exactly one wallet credit, and every Razorpay recharge credited that day to a
captured payment. The day's refunds
are recorded too (each debits once, like its webhook would), so a refund made on Razorpay's dashboard
whose webhook never came still reaches the wallet. The result is stored per day for admins
(`payment_reconciliations`, `_id` = the day), and a day that is done is never fetched again.

Exactly one credit per payment is what the ledger's key `razorpay:<payment_id>` guarantees; this checks
that there is one at all, for the right amount, and that no credit lacks its payment.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from services import clock
from services.db import insert_new
from services.errors import InvalidInput, PaymentUnavailable
from services.payments import crediting, gateway, refunds
from services.payments.outcomes import CHECK_LATER
from services.payments.records import to_int, valid_id

PAGE = 100          # Razorpay's largest page
MAX_PAGES = 2000    # 200,000 payments a day: beyond that, something is wrong with the answers
STALE_RUN = timedelta(minutes=30)
# A day is reconciled this long after it ends: webhooks and polling of its last payments land first.
SETTLE_TIME = timedelta(hours=1)
ROWS_KEPT = 500     # unmatched rows kept per list (the counts are always complete)


def run_daily(db) -> dict | None:
    """For the worker, on every tick: reconcile the last day that ended more than SETTLE_TIME ago, once.
    None while payments are off."""
    if gateway.settings().mode == "off":
        return None
    return reconcile_day(db, clock.date_of(clock.now() - timedelta(days=1) - SETTLE_TIME))


def reconcile_day(db, day) -> dict:
    """Reconcile one business day (a date or "YYYY-MM-DD") that is over with Razorpay, once: a day already done
    (or being done by another process) answers its stored report. Raises InvalidInput for a day not over
    yet, PaymentUnavailable when Razorpay cannot be asked (the day is marked failed and is tried again
    next time)."""
    day = _day(day)
    if _end(day) > clock.now():
        raise InvalidInput(f"That day is not over yet: it can be reconciled from midnight {clock.abbr()}.")
    cfg = gateway.required()
    doc, mine = _claim(db, day)
    if not mine:
        return public(doc)
    try:
        result = _run(db, cfg, day)
    except gateway.FAILURES as exc:
        _close_day(db, day, doc["owner"], {"status": "failed", "error": str(exc)[:300]})
        raise PaymentUnavailable(CHECK_LATER) from None
    _close_day(db, day, doc["owner"], dict(result, status="done"))
    return public(db.payment_reconciliations.find_one({"_id": day}))


def reconciliation_report(db, day) -> dict | None:
    """The stored result of one day for admins (None if never run): status, counts, unmatched_payments
    [{payment_id, amount_paise, status, order_id, created_at, reason}], unmatched_credits [{entry_id,
    user_id, amount_paise, payment_id, reason}]."""
    doc = db.payment_reconciliations.find_one({"_id": _day(day)})
    return public(doc) if doc else None


def _day(day) -> str:
    if isinstance(day, date):
        return day.isoformat()
    try:
        return date.fromisoformat(day).isoformat()
    except (TypeError, ValueError):
        raise InvalidInput("The day must be a date (YYYY-MM-DD).") from None


def _claim(db, day: str) -> tuple[dict, bool]:
    """(the day's document, whether this call runs it): one runner per day; a failed or abandoned run is
    taken over by compare-and-set."""
    now, owner = clock.now(), secrets.token_hex(8)
    doc = {"_id": day, "day": day, "status": "running", "owner": owner, "started_at": now}
    if insert_new(db.payment_reconciliations, doc):
        return doc, True
    old = db.payment_reconciliations.find_one({"_id": day})
    if old["status"] == "done" or (old["status"] == "running"
                                   and now - clock.as_utc(old["started_at"]) < STALE_RUN):
        return old, False
    taken = db.payment_reconciliations.update_one(
        {"_id": day, "owner": old["owner"], "status": old["status"]},
        {"$set": {"status": "running", "owner": owner, "started_at": now}}).modified_count == 1
    return (dict(doc), True) if taken else (db.payment_reconciliations.find_one({"_id": day}), False)


def _close_day(db, day: str, owner: str, sets: dict) -> None:
    db.payment_reconciliations.update_one({"_id": day, "owner": owner},
                                          {"$set": dict(sets, finished_at=clock.now())})


def _start(day: str) -> datetime:
    return clock.start_of_day(date.fromisoformat(day))


def _end(day: str) -> datetime:
    return clock.start_of_day(date.fromisoformat(day) + timedelta(days=1))


def _run(db, cfg, day: str) -> dict:
    start, end = _start(day), _end(day)
    window = {"from": int(start.timestamp()), "to": int(end.timestamp()) - 1}
    captured = {p["id"]: p for p in _pages(cfg, gateway.list_payments, window)
                if crediting.is_captured(p) and valid_id(p.get("id"))}
    unmatched_payments = []
    for pay in captured.values():
        why = mismatch(crediting.credit_entry(db, pay["id"]), pay)
        if why:
            unmatched_payments.append(_payment_row(pay, why))
        if to_int(pay.get("amount_refunded")) > 0:
            refunds.sync_payment(db, cfg, pay, source="daily")
    refunds_seen = 0
    for refund in _pages(cfg, gateway.list_refunds, window):
        refunds_seen += 1
        refunds.record_quietly(db, refund, captured.get(refund.get("payment_id")), "daily")
    credits, unmatched_credits = _credits(db, cfg, captured, start, end)
    return {"payments_checked": len(captured), "matched": len(captured) - len(unmatched_payments),
            "credits_checked": credits, "refunds_checked": refunds_seen,
            "unmatched_payments_count": len(unmatched_payments), "unmatched_credits_count": len(unmatched_credits),
            "unmatched_payments": unmatched_payments[:ROWS_KEPT], "unmatched_credits": unmatched_credits[:ROWS_KEPT]}


def _pages(cfg, list_page: Callable[[gateway.Settings, dict], gateway.Answer], window: dict) -> Iterator[dict]:
    for n in range(MAX_PAGES):
        items = list_page(cfg, dict(window, count=PAGE, skip=n * PAGE)).get("items") or []
        yield from (i for i in items if isinstance(i, dict))
        if len(items) < PAGE:
            return
    raise gateway.RazorpayDown(f"more than {MAX_PAGES} pages of {list_page.__name__}")


def mismatch(entry: dict | None, pay: dict) -> str | None:
    """Why a wallet credit does not match its captured payment, or None. The credit is the payment's
    amount, or less by no more than a convenience fee the payer bore."""
    if entry is None:
        return "no wallet credit"
    _, paid, fee, _, _ = crediting.view(pay)
    short = paid - int(entry["amount"]) - int((entry.get("meta") or {}).get("gst_paise", 0))  # GST on top
    if short == 0 or (fee is not None and 0 < short <= fee):
        return None
    return f"credited {int(entry['amount'])} paise for a payment of {paid}"


def _credits(db, cfg, captured: dict, start, end) -> tuple[int, list]:
    """The day's Razorpay recharge credits, and those without a matching captured payment. A credit of a
    payment captured on another day (just before midnight) is asked about one by one."""
    count, rows = 0, []
    for entry in crediting.recharges(db, start, end):
        count += 1
        pid = crediting.payment_of(entry)
        pay = captured.get(pid) if pid else None
        if pid and pay is None:
            pay = _fetch_payment(cfg, pid)
        why = ("not a Razorpay payment" if pid is None else "no such payment at Razorpay" if pay is None
               else f"payment is {pay.get('status')} at Razorpay" if not crediting.is_captured(pay)
               else mismatch(entry, pay))
        if why:
            rows.append({"entry_id": entry.get("_id"), "user_id": entry.get("user_id"),
                         "amount_paise": int(entry["amount"]), "payment_id": pid, "reason": why})
    return count, rows


def _fetch_payment(cfg, pid: str) -> dict | None:
    try:
        return gateway.fetch_payment(cfg, pid)
    except gateway.RazorpayRefused:
        return None


def _payment_row(pay: dict, why: str) -> dict:
    return {"payment_id": pay["id"], "amount_paise": to_int(pay.get("amount")), "status": pay.get("status"),
            "order_id": pay.get("order_id"), "created_at": pay.get("created_at"), "reason": why}


def public(doc: dict) -> dict:
    out = {k: v for k, v in doc.items() if k not in ("_id", "owner")}
    for k in ("started_at", "finished_at"):
        if out.get(k) is not None:
            out[k] = clock.as_utc(out[k])
    return out
