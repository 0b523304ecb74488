"""A bank account number per customer: a Razorpay Smart Collect virtual account (receivers `bank_account`
and `vpa`), made the first time the customer asks for it and kept in `virtual_accounts` (`_id` = the
user id). The only module that writes that collection.

Two first views at once may both ask Razorpay for an account: the first to store its id wins, the other
closes the account it got (nobody has seen its number, so nothing can be paid into it).
"""
from __future__ import annotations

from services import clock, users
from services.db import insert_new
from services.errors import InvalidInput, PaymentUnavailable
from services.payments import gateway, sweeps
from services.payments.records import valid_id

# A payer account number as banks write them (the allow-list compares these).
MAX_ALLOWED_PAYERS = 10  # Razorpay's TPV allows at most 10 payer accounts per customer identifier
DOWN = "Your bank account number could not be created just now. Please try again in a minute."


def bank_account(db, user_id: str) -> dict:
    """The customer's account number, IFSC, beneficiary name and UPI id, created on first call."""
    doc = db.virtual_accounts.find_one({"_id": user_id})
    if doc is not None and doc.get("va_id"):
        return public(doc)
    users.get(db, user_id)  # NotFound for someone who is not a customer, before Razorpay is asked
    cfg = gateway.required()
    insert_new(db.virtual_accounts, {"_id": user_id, "user_id": user_id, "va_id": None, "allowed_payers": [],
                                     "created_at": clock.now()})
    try:
        va = gateway.create_virtual_account(cfg, {"receivers": {"types": ["bank_account", "vpa"]},
                                                  "description": "Wallet top-ups", "notes": {"user_id": user_id}})
    except gateway.FAILURES:
        raise PaymentUnavailable(DOWN) from None
    fields = _fields(va)
    won = db.virtual_accounts.update_one({"_id": user_id, "va_id": None}, {"$set": fields}).modified_count
    if not won:
        try:
            gateway.close_virtual_account(cfg, va["id"])
        except gateway.FAILURES:
            pass  # an unseen account: closing it is tidiness, not safety
    return public(db.virtual_accounts.find_one({"_id": user_id}) or {})


def reconciled(db, user_id: str, started) -> None:
    """Reconciliation read this account's payments completely from `started` on (services.payments.sweeps)."""
    db.virtual_accounts.update_one({"_id": user_id}, {"$set": sweeps.mark(started)})


def existing(db, user_id: str) -> dict | None:
    """The customer's account if it was made already (no call to Razorpay), else None."""
    doc = db.virtual_accounts.find_one({"_id": user_id})
    return public(doc) if doc is not None and doc.get("va_id") else None


def _fields(va: dict) -> dict:
    if not valid_id(va.get("id")):
        raise PaymentUnavailable(DOWN)
    bank = next((r for r in va.get("receivers") or [] if r.get("entity") == "bank_account"), None)
    vpa: dict = next((r for r in va.get("receivers") or [] if r.get("entity") == "vpa"), {})
    if bank is None:
        raise PaymentUnavailable(DOWN)
    return {"va_id": va["id"], "account_number": str(bank.get("account_number")), "ifsc": str(bank.get("ifsc")),
            "name": str(bank.get("name") or va.get("name") or ""), "upi_id": vpa.get("address"),
            "status": va.get("status") or "active"}


def public(doc: dict) -> dict:
    if not doc.get("va_id"):
        raise PaymentUnavailable(DOWN)
    return {"virtual_account_id": doc["va_id"], "account_number": doc["account_number"], "ifsc": doc["ifsc"],
            "name": doc["name"], "upi_id": doc.get("upi_id")}


def by_va(db, va_id) -> dict | None:
    """Our record of a virtual account, by Razorpay's id."""
    return db.virtual_accounts.find_one({"va_id": va_id}) if valid_id(va_id) else None


def active(db) -> list[dict]:
    """Every customer's account (for reconciliation)."""
    return [d for d in db.virtual_accounts.find({"status": "active"}) if d.get("va_id")]


def set_allowed_payers(db, user_id: str, accounts: list) -> list[str]:
    """The customer's own bank accounts a transfer may come from (empty: any). Transfers from others wait
    for an admin."""
    if not isinstance(accounts, list) or len(accounts) > MAX_ALLOWED_PAYERS:
        raise InvalidInput(f"Give at most {MAX_ALLOWED_PAYERS} bank account numbers.")
    clean = []
    for given in accounts:
        a = str(given).strip() if isinstance(given, (str, int)) and not isinstance(given, bool) else ""
        if not (a.isdigit() and 6 <= len(a) <= 20):
            raise InvalidInput("A bank account number is 6 to 20 digits.")
        clean.append(a)
    users.get(db, user_id)
    # before the account is made too: bank_account() fills in the rest of this record
    db.virtual_accounts.update_one({"_id": user_id}, {"$set": {"allowed_payers": clean},
                                                      "$setOnInsert": {"user_id": user_id, "va_id": None,
                                                                       "created_at": clock.now()}}, upsert=True)
    return clean
