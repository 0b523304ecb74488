"""UPI QR codes for a chosen amount: single use, closing once paid or at expiry, credited once by the
`qr_code.credited` webhook or by reconciliation through the QR's payments list. The only module that
writes `qr_codes` (`_id` = our reference, written BEFORE Razorpay is asked, so every QR Razorpay knows
has a record here, found by its id or by the reference in its notes)."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from services import clock, users
from services.errors import InvalidPayment, NotFound, PaymentUnavailable
from services.money import format_rupees
from services.payments import crediting, gateway, records
from services.payments.admin import suspicious
from services.payments.records import to_int, valid_id

TTL = timedelta(minutes=15)      # Razorpay allows 2 minutes to 2 hours for a single-use QR
WATCHED = timedelta(hours=3)     # reconciliation looks at QRs this young (a payment lands before its close)
DOWN = "A UPI QR code could not be made just now. Please try again in a minute."


def create(db, user_id: str, amount) -> dict:
    """A single-use UPI QR for `amount` rupees to the customer's wallet."""
    paise = records.recharge_amount(db, amount)
    users.get(db, user_id)
    ref = "wq_" + secrets.token_hex(12)
    now = clock.now()
    db.qr_codes.insert_many([{"_id": ref, "user_id": user_id, "amount_paise": paise, "qr_id": None,
                              "status": "creating", "image_url": None, "close_by": None, "payment_id": None,
                              "created_at": now}])
    try:
        qr = gateway.create_qr(gateway.required(), {
            "type": "upi_qr", "name": "Wallet top-up", "usage": "single_use", "fixed_amount": True,
            "payment_amount": paise, "description": f"Wallet top-up of {format_rupees(paise)}",
            "close_by": int((now + TTL).timestamp()), "notes": {"user_id": user_id, "reference_id": ref}})
    except gateway.FAILURES:
        db.qr_codes.update_one({"_id": ref}, {"$set": {"status": "error_creating"}})
        raise PaymentUnavailable(DOWN) from None
    if not valid_id(qr.get("id")) or to_int(qr.get("payment_amount")) != paise:
        raise PaymentUnavailable(DOWN)
    close_by = datetime.fromtimestamp(qr["close_by"], timezone.utc) if isinstance(qr.get("close_by"), int) else None
    db.qr_codes.update_one({"_id": ref}, {"$set": {"qr_id": qr["id"], "image_url": qr.get("image_url"),
                                                   "status": "active", "close_by": close_by}})
    return public(db.qr_codes.find_one({"_id": ref}) or {})


def public(doc: dict) -> dict:
    return {"reference_id": doc["_id"], "qr_code_id": doc["qr_id"], "image_url": doc["image_url"],
            "amount_paise": doc["amount_paise"], "status": doc["status"], "close_by": clock.as_utc(doc["close_by"])}


def _record(db, qr: dict) -> dict | None:
    notes = qr.get("notes")
    ref = notes.get("reference_id") if isinstance(notes, dict) else None
    doc = db.qr_codes.find_one({"_id": ref}) if valid_id(ref) else None
    if doc is None and valid_id(qr.get("id")):
        doc = db.qr_codes.find_one({"qr_id": qr["id"]})
    return doc


def settle(db, payment: dict, qr: dict, *, source: str) -> dict:
    """Credit one payment of one of our QR codes, once. NotFound when the QR is not ours (yet)."""
    doc = _record(db, qr)
    if doc is None:
        raise NotFound("No UPI QR code of ours.")
    pid, paid = payment.get("id"), to_int(payment.get("amount"))
    if not (valid_id(pid) and pid.startswith("pay_") and crediting.is_captured(payment)
            and payment.get("method") == "upi" and paid == doc["amount_paise"]
            and payment.get("currency", "INR") == "INR"):
        suspicious(db, "UPI QR payment that does not match its QR code", source=source, user_id=doc["user_id"],
                   payment_id=str(pid)[:64], amount_paise=paid)
        raise InvalidPayment("The QR payment does not match its QR code.")
    rrn = str((payment.get("acquirer_data") or {}).get("rrn") or "")[:40]
    t0 = clock.now()
    entry = crediting.post_direct(db, doc["user_id"], str(pid), paid, note=f"UPI QR payment (RRN {rrn})",
                                  meta={"qr_code_id": qr.get("id"), "reference_id": doc["_id"], "rrn": rrn,
                                        "vpa": str(payment.get("vpa") or "")[:100]})
    if entry is None:
        return {"status": "crediting", "payment_id": pid, "credited_now": 0}
    db.qr_codes.update_one({"_id": doc["_id"]}, {"$set": {"status": "paid", "payment_id": pid}})
    created = clock.as_utc(entry.get("created_at"))
    return {"status": "paid", "payment_id": pid,
            "credited_now": int(entry["amount"]) if created is None or created >= t0 else 0}


def reconcile_open(db) -> int:
    """Ask Razorpay for the payments of our young, unpaid QR codes and credit them. Paise credited now."""
    cfg = gateway.settings()
    if cfg.mode == "off":
        return 0
    since, credited = clock.now() - WATCHED, 0
    for doc in db.qr_codes.find({"status": "active"}):
        if clock.as_utc(doc["created_at"]) < since or not doc.get("qr_id"):
            continue
        try:
            pays = gateway.list_qr_payments(cfg, doc["qr_id"]).get("items") or []
            for pay in pays:
                if isinstance(pay, dict) and crediting.is_captured(pay):
                    qr = {"id": doc["qr_id"], "notes": {"reference_id": doc["_id"]}}
                    credited += settle(db, pay, qr, source="reconcile")["credited_now"]
        except (*gateway.FAILURES, InvalidPayment):
            continue
    return credited
