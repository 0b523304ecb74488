"""The names people use for what the code stores under a key: ledger categories, settings, call states
and outcomes, roles. Pages, CSV exports and the audit log read them from here, so `manual_credit` or
`call_rate_paise` is written one way everywhere a person reads it."""
from __future__ import annotations

CATEGORY = {"recharge": "Recharge", "call": "Call", "campaign": "Campaign call", "manual_credit": "Manual credit",
            "promo_credit": "Promotional credit", "refund": "Refund", "adjustment": "Adjustment"}
# Credits nobody paid for at the gateway (the rest of money in is a paid recharge).
FREE_CREDIT_CATEGORIES = ("manual_credit", "promo_credit")

SETTING = {
    "call_rate_paise": "Call rate (per minute)", "min_call_balance_paise": "Minimum balance to start a call",
    "min_recharge_paise": "Smallest recharge", "low_balance_paise": "Low-balance warning below",
    "max_amount_paise": "Largest amount per operation", "default_call_minutes": "Default call length (minutes)",
    "call_slice_seconds": "Call authorised per step (seconds)",
    "silent_call_grace_seconds": "Silent call closed after (seconds)",
    "max_concurrent_calls": "Simultaneous calls", "refund_approval_required": "Refunds wait for approval",
    "paid_validity_days": "Recharges expire after (days, 0: never)",
    "daily_cap_paise": "Daily spend limit", "plan": "Plan",
    # business details (receipts and GST invoices)
    "legal_name": "Legal name", "address": "Address", "state": "State", "gstin": "GSTIN", "pan": "PAN",
    "sac": "SAC code", "gst_rate_bp": "GST rate", "invoice_prefix": "Invoice number prefix",
    "credit_note_prefix": "Credit note prefix", "gst_mode": "GST on a recharge",
}

CALL_STATUS = {"completed": "Completed", "refused": "Refused", "failed": "Not placed", "expired": "Closed, no charge",
               "expiring": "Closing", "active": "In progress", "starting": "Connecting", "ending": "Ending"}
OUTCOME = {"answered": "Answered", "no_answer": "No answer", "busy": "Busy", "failed": "Failed"}
ROLE = {"user": "Customer", "admin": "Administrator", "analyst": "Analyst"}


def label(names: dict[str, str], key) -> str:
    """The name for `key`, else the key made readable (`some_key` -> `Some key`): never a raw key."""
    if key is None or key == "":
        return ""
    return names.get(key) or str(key).replace("_", " ").capitalize()
