"""The names people use for what the code stores under a key: ledger categories, settings, call states
and outcomes, roles, and every status word a page shows (payments, refunds, refund requests,
auto-recharge, alerts). Pages, CSV exports and the audit log read them from here, so `manual_credit`,
`call_rate_paise` or `partly_done` is written one way everywhere a person reads it."""
from __future__ import annotations

CATEGORY = {"recharge": "Recharge", "call": "Call", "campaign": "Campaign call", "manual_credit": "Manual credit",
            "promo_credit": "Promotional credit", "refund": "Refund", "adjustment": "Adjustment",
            "usage": "Usage (other services)", "fee": "Monthly fee"}
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
    "bank_transfer_max_paise": "Largest bank transfer credited without an admin",
    "daily_cap_paise": "Daily spend limit", "plan": "Plan",
    # business details (receipts and GST invoices)
    "legal_name": "Legal name", "address": "Address", "state": "State", "gstin": "GSTIN", "pan": "PAN",
    "sac": "SAC code", "gst_rate_bp": "GST rate", "invoice_prefix": "Receipt voucher prefix",
    "credit_note_prefix": "Credit note prefix", "gst_mode": "GST on a recharge",
    "tax_invoice_prefix": "Tax invoice prefix", "refund_voucher_prefix": "Refund voucher prefix",
    "signatory": "Authorised signatory",
}

CALL_STATUS = {"completed": "Completed", "refused": "Refused", "failed": "Not placed", "expired": "Closed, no charge",
               "expiring": "Closing", "active": "In progress", "starting": "Connecting", "ending": "Ending"}
# The telephony layer says "no-answer" (services.pricing); older records say "no_answer".
OUTCOME = {"answered": "Answered", "no-answer": "No answer", "no_answer": "No answer", "busy": "Busy",
           "failed": "Failed"}
ROLE = {"user": "Customer", "admin": "Administrator", "analyst": "Analyst"}
ACCESS = {"active": "Can sign in", "disabled": "Disabled", "held": "Sign-ins held back"}

# A recharge (payment link or order) as its payer reads it.
PAYMENT_STATUS = {
    "paid": "Paid — credited", "created": "Waiting for payment",
    "attempted": "Payment attempted — waiting for Razorpay",
    "creating": "Being created", "error_creating": "Razorpay did not answer — nothing charged",
    "partially_paid": "Partly paid", "review": "Paid at Razorpay — under review, not credited yet",
    "expired": "Expired — nothing charged", "cancelled": "Cancelled — nothing charged",
    "not_created": "Not created — nothing charged", "abandoned": "Abandoned — nothing charged"}
# An auto-recharge top-up (an order debited from the mandate) while it is under way.
AUTO_PAYMENT_STATUS = {"creating": "Being announced", "created": "Announced — to be debited from your mandate",
                       "attempted": "Being debited from your mandate", "abandoned": "Not taken — nothing debited"}
# What admins see in the failed-payments list.
PAYMENT_EVENT = {"failed": "Failed", "suspicious": "Suspicious", "unmatched": "Unmatched webhook",
                 "rejected": "Rejected webhook"}
# A Razorpay refund, and what it did to the wallet.
REFUND_STATUS = {"pending": "On its way to the bank", "processed": "Refunded to the bank", "failed": "Failed"}
REFUND_OUTCOME = {"debited": "Taken from the wallet", "returned": "Failed — given back to the wallet",
                  "amount_due": "Part became an amount due", "nothing_to_debit": "Nothing taken from the wallet",
                  "not_credited": "Payment never credited — nothing taken",
                  "auto_refund": "Automatic refund by Razorpay"}
# A customer's refund request, one plain status (services.payments.views adds what its refunds did).
REFUND_REQUEST = {"holding": "Being set aside", "approval": "Waiting for approval",
                  "refunding": "Being sent to Razorpay",
                  "done": "Sent to Razorpay", "partly_done": "Partly sent to Razorpay", "failed": "Not refunded",
                  "rejected": "Rejected", "on_its_way": "On its way to your bank", "refunded": "Refunded to your bank",
                  "partly_refunded": "Partly refunded to your bank"}
RECONCILIATION = {"done": "Done", "failed": "Could not run", "running": "Running"}

# Auto-recharge.
MANDATE_STATE = {"pending": "Waiting for your authorisation", "active": "Active", "paused": "Paused",
                 "cancelled": "Cancelled", "rejected": "Not authorised", "off": "Off"}
CHARGE_STATE = {"planned": "Planned", "notified": "Announced", "debiting": "Being debited", "credited": "Credited",
                "failed": "Failed", "skipped": "Not taken", "forecast": "Expected"}
MANDATE_METHOD = {"upi": "UPI Autopay", "card": "Card", "emandate": "E-mandate (net banking)"}

# Alerts.
ALERT_KIND = {"threshold": "Below your alert line", "zero": "Balance zero", "runway": "Few days left",
              "notice": "Notice", "test": "Test event"}
DELIVERY = {"pending": "Being delivered", "sent": "Sent", "failed": "Failed", "off": "Not set up"}
CAMPAIGN_STATUS = {"completed": "Finished", "needs_recharge": "Waiting for a recharge",
                   "spend_cap": "Daily limit reached",
                   "interrupted": "Interrupted", "ready": "Not started", "running": "Running",
                   "too_many_calls": "Waiting for a free call slot"}


def label(names: dict[str, str], key) -> str:
    """The name for `key`, else the key made readable (`some_key` -> `Some key`): never a raw key."""
    if key is None or key == "":
        return ""
    return names.get(key) or str(key).replace("_", " ").replace("-", " ").capitalize()


def usage_detail(entry: dict) -> str:
    """What a usage debit billed, as its table row says it ("SMS x 3"); '' for any other entry."""
    meta = entry.get("meta") or {}
    if entry.get("category") != "usage" or not meta.get("service"):
        return ""
    return f"{meta.get('label') or label({}, meta['service'])} × {meta.get('quantity', 1)}"
