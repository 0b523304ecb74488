"""A customer's billing profile: the name, address, state and (optional) GSTIN their documents carry.

`billing_profiles/{user}`. Without one, a document names the account holder and, with no state on
record, the supply is taken as within the business's state (CGST + SGST). A profile change applies to
documents issued afterwards; issued ones never change (a correction is a credit note).
"""
from __future__ import annotations

from services import checks, clock, users
from services.documents import gst
from services.errors import InvalidInput, NotFound


def get_profile(db, user_id: str) -> dict:
    """{name, address, state, state_name, gstin, email}: the stored profile, else the account's name (a
    wallet whose account is gone is named by its id)."""
    try:
        user = users.get(db, user_id)
    except NotFound:
        user = {"name": user_id, "email": ""}
    doc = db.billing_profiles.find_one({"_id": user_id}) or {}
    state = doc.get("state", "")
    return {"name": doc.get("name") or user["name"], "address": doc.get("address", ""), "state": state,
            "state_name": gst.state_name(state), "gstin": doc.get("gstin", ""), "email": user["email"],
            "saved": bool(doc)}


def set_profile(db, user_id: str, *, name: str, address: str, state: str, gstin: str = "", by: str) -> dict:
    """Save the billing profile (checked first: nothing is written when any field is wrong)."""
    users.get(db, user_id)
    name = checks.text(name, what="Billing name", most=120).strip()
    if not name:
        raise InvalidInput("Billing name is required (the name your invoices carry).")
    address = checks.text(address, what="Billing address", most=300, lines=True).strip()  # an address has lines
    state = gst.check_state(state, what="Billing state")
    gstin = gst.check_gstin(gstin, state=state) if isinstance(gstin, str) and gstin.strip() else ""
    doc = {"name": name, "address": address, "state": state, "gstin": gstin, "updated_at": clock.now(),
           "updated_by": by}
    db.billing_profiles.update_one({"_id": user_id}, {"$set": doc}, upsert=True)
    return get_profile(db, user_id)


# Rule 46(e): an unregistered recipient of a taxable value of Rs. 50,000 or more is named on the invoice with
# address and State; asked for before the payment, so the receipt voucher carries them.
B2C_DETAILS_FROM = 5_000_000


def check_recipient(db, user_id: str, taxable: int) -> None:
    """InvalidInput when a document of `taxable` paise to `user_id` would lack what Rule 46 asks of it."""
    if taxable < B2C_DETAILS_FROM:
        return
    p = get_profile(db, user_id)
    if p["gstin"] or (p["saved"] and p["address"] and p["state"]):
        return
    raise InvalidInput("A GST document of Rs. 50,000 or more names the recipient: fill in your billing name, "
                       "address and state (Wallet → Billing details) first.")
