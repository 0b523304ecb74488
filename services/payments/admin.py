"""Records for admins in `payment_events`: refused or suspicious confirmations, failed payments, links
closed unpaid, signed webhooks rejected for their content; and `failed_payments`, which lists them with
the webhooks still unmatched."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import NoReturn

from services import clock
from services.errors import InvalidPayment
from services.payments.records import to_int, valid_id

ADMIN_KINDS = ("failed", "suspicious", "unmatched", "rejected")


def suspicious(db, reason: str, *, source: str, user_id=None, payment_id=None, payment_link_id=None,
               reference_id=None, amount_paise=None, details: dict | None = None) -> None:
    """One record per distinct (reason, who, what); repeats bump `count` instead of flooding."""
    # Not keyed by anything an unauthenticated sender chooses freely (a webhook body): a flood of forged
    # webhooks bumps one counter instead of filling the collection.
    ident = json.dumps([reason, source, user_id, payment_id, payment_link_id, reference_id], default=str)
    _id = "suspicious:" + hashlib.sha256(ident.encode()).hexdigest()[:32]
    now = clock.now()
    db.payment_events.update_one({"_id": _id}, {
        "$setOnInsert": {"first_at": now, "kind": "suspicious", "reason": reason, "source": source,
                         "user_id": user_id, "payment_id": payment_id, "payment_link_id": payment_link_id,
                         "reference_id": reference_id, "amount_paise": amount_paise},
        "$set": {"at": now, "details": details or {}}, "$inc": {"count": 1}}, upsert=True)


def suspicious_on(db, rec: dict, reason: str, *, source: str, **fields) -> None:
    """`suspicious` about one of our records: its user, reference and link id unless given."""
    fields.setdefault("payment_link_id", rec.get("payment_link_id"))
    suspicious(db, reason, source=source, user_id=rec["user_id"], reference_id=rec["_id"], **fields)


class Refusal:
    """A confirmation being checked: `note` records a doubt for admins, `refuse` records and raises
    InvalidPayment with a message for the user. Both carry who and what the confirmation was about."""

    def __init__(self, db, source: str, **fields):
        self.db, self.source, self.fields = db, source, fields

    def note(self, reason: str) -> None:
        suspicious(self.db, reason, source=self.source, **self.fields)

    def refuse(self, reason: str, message: str) -> NoReturn:
        self.note(reason)
        raise InvalidPayment(message)


def failed(db, pay: dict, rec: dict | None, *, source: str) -> None:
    """A payment Razorpay reports as failed (the link stays open: the customer may retry)."""
    pid = pay.get("id")
    if not valid_id(pid):
        return
    now = clock.now()
    why = pay.get("error_description") or pay.get("error_code") or "unknown"
    db.payment_events.update_one({"_id": f"failed:{pid}"}, {
        "$setOnInsert": {"kind": "failed", "first_at": now, "payment_id": pid, "source": source,
                         "reason": str(why)[:300], "error_code": pay.get("error_code"),  # Razorpay's own words
                         "amount_paise": to_int(pay.get("amount")), "method": pay.get("method"),
                         "order_id": pay.get("order_id"), **_owner(rec)},
        "$set": {"at": now}, "$inc": {"count": 1}}, upsert=True)


def _owner(rec: dict | None) -> dict:
    if rec is None:
        return {"user_id": None, "reference_id": None, "payment_link_id": None}
    return {"user_id": rec["user_id"], "reference_id": rec["_id"], "payment_link_id": rec.get("payment_link_id")}


def closed_unpaid(db, rec: dict, status: str) -> None:
    now = clock.now()
    db.payment_events.update_one({"_id": f"closed:{rec['_id']}"}, {
        "$setOnInsert": {"kind": "failed", "first_at": now, "reason": f"payment link {status} without payment",
                         "amount_paise": rec["amount_paise"], "payment_id": None, "source": "razorpay",
                         **_owner(rec)},
        "$set": {"at": now}, "$inc": {"count": 1}}, upsert=True)


def failed_payments(db, limit: int = 100) -> list[dict]:
    """For admins: failed payments, closed-unpaid links, refused/suspicious confirmations (with reasons),
    signed webhooks rejected for their content and webhooks still unmatched. Newest first."""
    limit = max(1, min(int(limit), 1000))
    now = clock.now()
    # Widening windows over the (kind, at) index: a sort would cost the whole collection on the embedded engine.
    for days in (7, 60, 730, None):
        flt: dict = {"kind": {"$in": list(ADMIN_KINDS)}}
        if days is not None:
            flt["at"] = {"$gte": now - timedelta(days=days)}
        rows = list(db.payment_events.find(flt))
        if len(rows) >= limit:
            break
    out = [_row(r) for r in rows]
    out.sort(key=lambda r: r["at"] or now, reverse=True)
    return out[:limit]


def _row(r: dict) -> dict:
    at = clock.as_utc(r.get("at"))
    reason = r.get("reason") or r.get("outcome") or ""
    if r["kind"] == "failed":  # records written before the reason was kept in Razorpay's words alone
        reason = reason.removeprefix("payment failed: ")
    if r["kind"] == "unmatched":
        reason = f"{r.get('event')}: {r.get('outcome')}"
    return {"id": r["_id"], "kind": r["kind"], "at": at, "first_at": clock.as_utc(r.get("first_at") or at),
            "count": int(r.get("count") or 1), "source": r.get("source", "webhook"), "reason": reason,
            "user_id": r.get("user_id"), "payment_id": r.get("payment_id"),
            "payment_link_id": r.get("payment_link_id"), "reference_id": r.get("reference_id"),
            "amount_paise": int(r["amount_paise"]) if r.get("amount_paise") is not None else None}
