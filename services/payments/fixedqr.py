"""A fixed UPI QR per customer for the wallet page: a Razorpay multiple-use QR without a fixed amount
(`usage: multiple_use`, `fixed_amount: false`), made the first time the customer asks for it and kept in
`fixed_qr_codes` (`_id` = the user id, as `virtual_accounts`). The only module that writes that collection.

Two first views at once may both ask Razorpay for a QR: the first to store its id wins, the other closes
the QR it got (nobody has seen its image, so nothing can be paid into it), as services.payments.bankaccounts
does for account numbers.

Every payment to the QR, of any amount, is settled by services.payments.transfers like a bank transfer to
the customer's account number: recorded once in `bank_transfers` (mode "UPI QR", the RRN as its bank
reference), held for an admin below the minimum recharge, else credited under the payment's ledger key.
Two paths, each sufficient alone, racing freely: the `qr_code.credited` webhook and `reconcile` through the
QR's payments list.
"""
from __future__ import annotations

from services import clock, settings, users
from services.db import insert_new
from services.errors import InvalidPayment, NotFound, PaymentUnavailable
from services.payments import crediting, gateway, sweeps, transfers
from services.payments.records import valid_id

DOWN = "Your UPI QR code could not be made just now. Please try again in a minute."


def upi_qr(db, user_id: str) -> dict:
    """The customer's fixed UPI QR (its id, image and the smallest payment credited), made on first call."""
    doc = db.fixed_qr_codes.find_one({"_id": user_id})
    if doc is not None and doc.get("qr_id"):
        return public(db, doc)
    users.get(db, user_id)  # NotFound for someone who is not a customer, before Razorpay is asked
    cfg = gateway.required()
    insert_new(db.fixed_qr_codes, {"_id": user_id, "user_id": user_id, "qr_id": None, "image_url": None,
                                   "status": "creating", "created_at": clock.now()})
    try:
        qr = gateway.create_qr(cfg, {"type": "upi_qr", "name": "Wallet top-up", "usage": "multiple_use",
                                     "fixed_amount": False, "description": "Wallet top-ups of any amount",
                                     "notes": {"user_id": user_id, "purpose": "wallet_fixed_qr"}})
    except gateway.FAILURES:
        raise PaymentUnavailable(DOWN) from None
    if not valid_id(qr.get("id")) or qr.get("usage") != "multiple_use" or qr.get("fixed_amount"):
        raise PaymentUnavailable(DOWN)
    won = db.fixed_qr_codes.update_one({"_id": user_id, "qr_id": None}, {"$set": {
        "qr_id": qr["id"], "image_url": qr.get("image_url"), "status": "active"}}).modified_count
    if not won:
        try:
            gateway.close_qr(cfg, qr["id"])
        except gateway.FAILURES:
            pass  # an unseen QR: closing it is tidiness, not safety
    return public(db, db.fixed_qr_codes.find_one({"_id": user_id}) or {})


def existing(db, user_id: str) -> dict | None:
    """The customer's fixed QR if it was made already (no call to Razorpay), else None."""
    doc = db.fixed_qr_codes.find_one({"_id": user_id})
    return public(db, doc) if doc is not None and doc.get("qr_id") else None


def public(db, doc: dict) -> dict:
    if not doc.get("qr_id"):
        raise PaymentUnavailable(DOWN)
    return {"qr_code_id": doc["qr_id"], "image_url": doc["image_url"],
            "min_amount_paise": settings.get(db)["min_recharge_paise"]}


def by_qr(db, qr_id) -> dict | None:
    """Our record of a fixed QR, by Razorpay's id."""
    return db.fixed_qr_codes.find_one({"qr_id": qr_id}) if valid_id(qr_id) else None


def settle(db, payment: dict, qr: dict, *, source: str) -> dict:
    """Credit (or hold) one payment to a customer's fixed QR, once. NotFound when the QR is not one of ours."""
    doc = by_qr(db, qr.get("id"))
    if doc is None:
        raise NotFound("No fixed UPI QR code of ours.")
    return transfers.settle_qr(db, payment, user_id=doc["_id"], qr_id=doc["qr_id"], source=source)


def reconcile(db) -> dict:
    """Ask Razorpay for each fixed QR's payments and settle every captured one not yet credited or held.
    Never raises for one QR: counts it."""
    out = {"qr_codes": 0, "credited_paise": 0, "errors": 0}
    cfg = gateway.settings()
    if cfg.mode == "off":
        return out
    for doc in db.fixed_qr_codes.find({"status": "active"}):
        if not doc.get("qr_id"):
            continue
        out["qr_codes"] += 1
        try:
            out["credited_paise"] += _reconcile_one(db, cfg, doc)
        except (*gateway.FAILURES, InvalidPayment):
            out["errors"] += 1
    return out


def _reconcile_one(db, cfg, doc: dict) -> int:
    credited, started = 0, clock.now()
    for pay in sweeps.payments(lambda q: gateway.list_qr_payments(cfg, doc["qr_id"], q), sweeps.window(doc)):
        if crediting.is_captured(pay) and not transfers.done(db, pay.get("id")):
            credited += transfers.settle_qr(db, pay, user_id=doc["_id"], qr_id=doc["qr_id"],
                                            source="reconcile")["credited_now"]
    db.fixed_qr_codes.update_one({"_id": doc["_id"]}, {"$set": sweeps.mark(started)})  # a pass that raised nothing
    return credited
