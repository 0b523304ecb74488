"""Settlements: what Razorpay actually paid into the business's bank. Daily, the worker reads Razorpay's
combined settlement reconciliation for the previous business day, matches every settled payment to its
wallet credit and every refund to its wallet debit, and keeps Razorpay's fee and GST on the fee per
payment and each settlement's UTR and amount. The only module that writes `settlement_recons` (`_id` =
the day).

A zero-amount payment is a mandate's authorisation (no money moved): listed as such, never as a payment
without a credit. A bank transfer held for an admin is "held", not unmatched: it waits for a decision.
"""
from __future__ import annotations

from datetime import date, timedelta

from services import clock, csvout
from services.errors import InvalidInput, PaymentUnavailable
from services.payments import crediting, gateway, transfers
from services.payments.outcomes import CHECK_LATER
from services.payments.records import to_int, valid_id

PAGE = 1000  # Razorpay's largest recon page
MATCHED, UNMATCHED, MANDATE, HELD = "matched", "unmatched", "mandate authorisation", "held for an admin"
CSV_COLUMNS = ("type", "entity_id", "payment_id", "amount_paise", "fee_paise", "tax_paise", "settlement_id",
               "settlement_utr", "status", "user_id")


def run_daily(db) -> dict | None:
    """For the worker, on every tick: reconcile yesterday's settlements (business days in IST), once."""
    day = clock.date_of(clock.now()) - timedelta(days=1)
    if db.settlement_recons.find_one({"_id": day.isoformat()}) is not None:
        return None
    return reconcile(db, day)


def reconcile(db, day) -> dict:
    """Fetch `day`'s settlement recon from Razorpay and match it; stored (again, if asked again)."""
    day = _day(day)
    cfg = gateway.required()
    try:
        items = _items(cfg, day)
        settlements = {sid: gateway.fetch_settlement(cfg, sid) for sid in {i.get("settlement_id") for i in items}
                       if valid_id(sid)}
    except gateway.FAILURES:
        raise PaymentUnavailable(CHECK_LATER) from None
    rows = [_match(db, i) for i in items]
    doc = {"_id": day.isoformat(), "rows": rows, "reconciled_at": clock.now(),
           "settlements": [{"id": sid, "utr": s.get("utr"), "amount_paise": to_int(s.get("amount")),
                            "fees_paise": to_int(s.get("fees")), "tax_paise": to_int(s.get("tax")),
                            "status": s.get("status")} for sid, s in sorted(settlements.items())],
           "fees_paise": sum(r["fee_paise"] for r in rows), "tax_paise": sum(r["tax_paise"] for r in rows),
           "unmatched": sum(r["status"] == UNMATCHED for r in rows)}
    db.settlement_recons.replace_one({"_id": doc["_id"]}, doc, upsert=True)
    return public(doc)


def _day(day, *, over: bool = True) -> date:
    try:
        d = day if isinstance(day, date) else date.fromisoformat(str(day))
    except ValueError:
        raise InvalidInput("A day reads like 2026-12-06.") from None
    if over and d >= clock.date_of(clock.now()):
        raise InvalidInput("Only a day that is over can be reconciled.")
    return d


def _items(cfg, day: date) -> list[dict]:
    out: list[dict] = []
    while True:
        answer = gateway.settlement_recon(cfg, {"year": day.year, "month": day.month, "day": day.day,
                                                "count": PAGE, "skip": len(out)})
        page = [i for i in answer.get("items") or [] if isinstance(i, dict)]
        out += page
        if len(page) < PAGE:
            return out


def _match(db, item: dict) -> dict:
    kind, eid = item.get("type"), item.get("entity_id")
    row = {"type": kind, "entity_id": eid, "payment_id": eid if kind == "payment" else item.get("payment_id"),
           "amount_paise": to_int(item.get("amount")), "fee_paise": to_int(item.get("fee")),
           "tax_paise": to_int(item.get("tax")), "settlement_id": item.get("settlement_id"),
           "settlement_utr": item.get("settlement_utr"), "method": item.get("method"), "user_id": None}
    entry = None
    if kind == "payment" and row["amount_paise"] == 0:
        row["status"] = MANDATE
        return row
    if kind == "payment":
        entry = crediting.credit_entry(db, eid) if valid_id(eid) else None
    elif kind == "refund" and valid_id(eid):
        entry = crediting.refund_debited(db, eid)
    if entry is None and kind == "payment" and transfers.is_held(db, eid):
        row["status"] = HELD
        return row
    row["status"] = MATCHED if entry is not None else UNMATCHED
    row["user_id"] = entry["user_id"] if entry is not None else None
    return row


def report(db, day) -> dict | None:
    doc = db.settlement_recons.find_one({"_id": _day(day, over=False).isoformat()})
    return public(doc) if doc else None


def public(doc: dict) -> dict:
    return {"day": doc["_id"], "rows": doc["rows"], "settlements": doc["settlements"],
            "fees_paise": doc["fees_paise"], "tax_paise": doc["tax_paise"], "unmatched": doc["unmatched"],
            "reconciled_at": clock.as_utc(doc["reconciled_at"])}


def csv_text(doc: dict) -> str:
    """The day's rows for admins' spreadsheets."""
    lines = [csvout.line(CSV_COLUMNS)]
    lines += [csvout.line([r.get(c) if r.get(c) is not None else "" for c in CSV_COLUMNS]) for r in doc["rows"]]
    return "".join(lines)
