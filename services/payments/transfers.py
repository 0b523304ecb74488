"""Bank transfers into customers' virtual accounts (Smart Collect), and payments to customers' fixed UPI
QR codes (services.payments.fixedqr): each captured payment credited to its customer once, or held for an
admin. The only module that writes `bank_transfers` (`_id` = Razorpay's payment id; a fixed-QR payment has
mode "UPI QR", its `qr_id`, the payment's RRN as `bank_reference` and the payer's UPI id as `payer_name`),
so the admin's list of held payments and their release are one for both rails.

Two paths, each sufficient alone, in any order and any number of times: the `virtual_account.credited`
webhook (services.payments.webhooks) and reconciliation through each account's payments list
(`reconcile_accounts`). Both call `settle`: the transfer is recorded (insert-once), screened, then
credited under the payment's ledger key (`razorpay:<payment_id>`), so repeats, races and a crash at any
point credit it exactly once. The screening is a pure function of the transfer and the customer's
settings, so racing paths agree on whether it is held.

Held (never credited until an admin releases it): below the minimum recharge, above the bank-transfer
maximum (setting `bank_transfer_max_paise`), or from a payer outside the customer's allow-list (bank
transfers only: a UPI payer has no account number to compare).
"""
from __future__ import annotations

from services import clock, settings
from services.db import insert_new
from services.errors import Conflict, InvalidPayment, NotFound
from services.money import format_rupees
from services.payments import bankaccounts, crediting, gateway, sweeps
from services.payments.admin import suspicious
from services.payments.records import to_int, valid_id

CREDITED, HELD, RECEIVED, RELEASED = "credited", "held", "received", "released"
MODES = ("NEFT", "RTGS", "IMPS", "UPI")
QR_MODE = "UPI QR"  # a payment to a customer's fixed UPI QR code


def settle(db, payment: dict, transfer: dict, *, source: str) -> dict:
    """Credit (or hold) one bank transfer Razorpay reports. Returns {status, payment_id, amount_paise,
    credited_now}. InvalidPayment for a transfer that does not add up (recorded for admins)."""
    pid, amount = _checked(db, payment, transfer, source)
    account = bankaccounts.by_va(db, transfer.get("virtual_account_id"))
    if account is None:
        raise NotFound("No customer has this virtual account (yet).")
    payer = transfer.get("payer_bank_account") or {}
    doc = {"_id": pid, "user_id": account["_id"], "va_id": account["va_id"], "amount_paise": amount,
           "mode": transfer.get("mode"), "bank_reference": str(transfer.get("bank_reference") or "")[:40],
           "payer_name": str(payer.get("name") or "")[:100],
           "payer_account": str(payer.get("account_number") or "")[:40],
           "payer_ifsc": str(payer.get("ifsc") or "")[:20], "status": RECEIVED, "reason": None,
           "source": source, "received_at": clock.now()}
    return _settle_doc(db, account, doc)


def settle_qr(db, payment: dict, *, user_id: str, qr_id: str, source: str) -> dict:
    """Credit (or hold) one payment to a customer's fixed UPI QR, as `settle` does a bank transfer."""
    pid, amount = payment.get("id"), to_int(payment.get("amount"))
    if not (valid_id(pid) and pid.startswith("pay_") and amount > 0 and crediting.is_captured(payment)
            and payment.get("method") == "upi" and payment.get("currency", "INR") == "INR"):
        suspicious(db, "fixed UPI QR payment that does not add up", source=source, user_id=user_id,
                   payment_id=str(pid)[:64], amount_paise=amount)
        raise InvalidPayment("The UPI QR payment does not add up.")
    doc = {"_id": pid, "user_id": user_id, "va_id": None, "qr_id": qr_id, "amount_paise": amount, "mode": QR_MODE,
           "bank_reference": str((payment.get("acquirer_data") or {}).get("rrn") or "")[:40],
           "payer_name": str(payment.get("vpa") or "")[:100], "payer_account": "", "payer_ifsc": "",
           "status": RECEIVED, "reason": None, "source": source, "received_at": clock.now()}
    return _settle_doc(db, None, doc)


def _settle_doc(db, account: dict | None, doc: dict) -> dict:
    """Record the payment once, screen it (the first record decides for every racing path), credit it."""
    pid, amount = doc["_id"], doc["amount_paise"]
    insert_new(db.bank_transfers, doc)
    doc = db.bank_transfers.find_one({"_id": pid}) or doc
    if doc["status"] in (RECEIVED, RELEASED):
        why = hold_reason(db, account, doc) if doc["status"] == RECEIVED else None
        if why:
            db.bank_transfers.update_one({"_id": pid, "status": RECEIVED}, {"$set": {"status": HELD, "reason": why}})
        else:
            return _credit(db, doc)
    doc = db.bank_transfers.find_one({"_id": pid}) or doc
    return {"status": doc["status"], "payment_id": pid, "amount_paise": amount, "credited_now": 0}


def _checked(db, payment: dict, transfer: dict, source: str) -> tuple[str, int]:
    pid, amount = payment.get("id"), to_int(payment.get("amount"))
    ok = (valid_id(pid) and pid.startswith("pay_") and amount > 0 and crediting.is_captured(payment)
          and payment.get("method") == "bank_transfer" and payment.get("currency", "INR") == "INR"
          and transfer.get("payment_id") == pid and to_int(transfer.get("amount")) == amount
          and transfer.get("mode") in MODES)
    if not ok:
        suspicious(db, "bank transfer that does not add up", source=source, payment_id=str(pid)[:64],
                   amount_paise=amount, details={"mode": str(transfer.get("mode"))[:10]})
        raise InvalidPayment("The bank transfer does not match its payment.")
    return str(pid), amount


def hold_reason(db, account: dict | None, doc: dict) -> str | None:
    """Why a transfer waits for an admin instead of reaching the wallet, or None."""
    s = settings.get(db)
    amount = doc["amount_paise"]
    if amount < s["min_recharge_paise"]:
        return f"below the smallest recharge ({format_rupees(s['min_recharge_paise'])})"
    if amount > s["bank_transfer_max_paise"]:
        return f"above the bank-transfer maximum ({format_rupees(s['bank_transfer_max_paise'])})"
    allowed = (account or {}).get("allowed_payers") or []
    if allowed and doc["payer_account"] not in allowed:
        return "from a bank account not on the customer's allow-list"
    return None


def _credit(db, doc: dict) -> dict:
    note, meta = _described(doc)
    t0 = clock.now()
    entry = crediting.post_direct(db, doc["user_id"], doc["_id"], doc["amount_paise"], note=note, meta=meta)
    if entry is None:  # another path is mid-way through this very credit
        return {"status": doc["status"], "payment_id": doc["_id"], "amount_paise": doc["amount_paise"],
                "credited_now": 0}
    db.bank_transfers.update_one({"_id": doc["_id"]}, {"$set": {"status": CREDITED, "entry_id": entry["_id"]}})
    created = clock.as_utc(entry.get("created_at"))
    new = created is None or created >= t0
    return {"status": CREDITED, "payment_id": doc["_id"], "amount_paise": doc["amount_paise"],
            "credited_now": int(entry["amount"]) if new else 0}


def _described(doc: dict) -> tuple[str, dict]:
    """The ledger entry's note and meta. A QR payment's are the single-use QR's (RRN, UPI id): no
    `bank_reference`, so its receipt does not call it a bank transfer."""
    if doc.get("qr_id"):
        return (f"UPI QR payment (RRN {doc['bank_reference']})" + (f" from {doc['payer_name']}" if doc["payer_name"]
                                                                    else ""),
                {"qr_code_id": doc["qr_id"], "rrn": doc["bank_reference"], "vpa": doc["payer_name"], "fixed_qr": True})
    meta = {"virtual_account_id": doc["va_id"], "bank_reference": doc["bank_reference"], "mode": doc["mode"],
            "payer_name": doc["payer_name"], "payer_account": mask(doc["payer_account"])}
    return (f"Bank transfer ({doc['mode']}) UTR {doc['bank_reference']}"
            + (f" from {doc['payer_name']}" if doc["payer_name"] else "")), meta


def mask(account: str) -> str:
    return ("x" * max(0, len(account) - 4) + account[-4:]) if account else ""


def release(db, payment_id: str, *, by: str) -> dict:
    """An admin lets a held transfer reach the wallet (once, like every other path)."""
    doc = db.bank_transfers.find_one({"_id": payment_id}) if valid_id(payment_id) else None
    if doc is None:
        raise NotFound("No such bank transfer.")
    if doc["status"] not in (HELD, RELEASED):
        raise Conflict(f"This transfer is {doc['status']}, not held.")
    db.bank_transfers.update_one({"_id": payment_id, "status": HELD},
                                 {"$set": {"status": RELEASED, "released_by": by, "released_at": clock.now()}})
    return _credit(db, db.bank_transfers.find_one({"_id": payment_id}) or doc)


def held(db) -> list[dict]:
    """Transfers waiting for an admin, oldest first."""
    return sorted(db.bank_transfers.find({"status": HELD}), key=lambda d: clock.as_utc(d["received_at"]))


def reconcile_accounts(db) -> dict:
    """Ask Razorpay for each account's payments and settle every captured transfer not yet credited or
    held. Never raises for one account: counts it."""
    out = {"accounts": 0, "credited_paise": 0, "errors": 0}
    cfg = gateway.settings()
    if cfg.mode == "off":
        return out
    for account in bankaccounts.active(db):
        out["accounts"] += 1
        try:
            out["credited_paise"] += _reconcile_account(db, cfg, account)
        except (*gateway.FAILURES, InvalidPayment, NotFound):
            out["errors"] += 1
    return out


def _reconcile_account(db, cfg, account: dict) -> int:
    credited, started = 0, clock.now()
    for pay in sweeps.payments(lambda q: gateway.list_virtual_account_payments(cfg, account["va_id"], q),
                               sweeps.window(account)):
        if not crediting.is_captured(pay) or done(db, pay.get("id")):
            continue
        transfer = gateway.fetch_bank_transfer(cfg, pay["id"])
        credited += settle(db, pay, transfer, source="reconcile")["credited_now"]
    bankaccounts.reconciled(db, account["_id"], started)  # only after a pass that raised nothing
    return credited


def is_held(db, payment_id) -> bool:
    """Waiting for an admin (or released and being credited)."""
    doc = db.bank_transfers.find_one({"_id": payment_id}) if valid_id(payment_id) else None
    return doc is not None and doc["status"] in (HELD, RELEASED)


def done(db, payment_id) -> bool:
    """Credited or held already (reconciliation need not fetch it again)."""
    doc = db.bank_transfers.find_one({"_id": payment_id}) if valid_id(payment_id) else None
    return doc is not None and doc["status"] in (CREDITED, HELD)
