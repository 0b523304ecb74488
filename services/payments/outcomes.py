"""What the payment paths answer: outcome names, webhook statuses and the messages users see.

Pages and the API compare against these names; nothing else spells them.
"""
from __future__ import annotations

from services.money import format_rupees

# handle_callback and verify_order_payment: dict(outcome=...)
CREDITED = "credited"                  # this call put the money in the wallet
ALREADY_CREDITED = "already_credited"  # another path (or an earlier call) did
PENDING = "pending"                    # paid, not confirmable now: webhook or reconcile will credit it
OUTCOMES = (CREDITED, ALREADY_CREDITED, PENDING)

# handle_webhook: dict(status=...)
PROCESSED, DUPLICATE, IGNORED, UNMATCHED = "processed", "duplicate", "ignored", "unmatched"

# reconcile_link: dict(outcome=...) is one of these, or `settled(...)` / `order_settled(...)` below.
NEVER_CREATED = "never created at Razorpay"
NOT_YET = "not at Razorpay yet"
MISMATCH = "mismatch recorded"          # Razorpay answered about another link
AMOUNT_MISMATCH = "amount mismatch"     # Razorpay's link amount is not ours

OFF_MESSAGE = "Online recharge is not available right now (payments are not configured). Please contact support."
DOWN_MESSAGE = ("Online recharge is not available right now: the payment gateway did not answer. "
                "Nothing was charged; please try again in a few minutes.")
CONFIRM_LATER = ("We could not confirm this payment with Razorpay right now. If you paid, your wallet "
                 "will be credited automatically within a few minutes.")
CHECK_LATER = "Could not check this payment with Razorpay right now; please try again in a few minutes."


def refused_message(reason: str) -> str:
    return (f"Online recharge is not available right now: Razorpay refused the request ({reason[:120]}). "
            "Nothing was charged.")


def settled(count: int, razorpay_status) -> str:
    return f"{count} payment(s) credited, Razorpay says {razorpay_status}"


def order_settled(count: int) -> str:
    return f"{count} payment(s) credited"


def callback_result(outcome: str, amount_paise: int = 0) -> dict:
    """handle_callback's answer: dict(outcome, message, amount_paise)."""
    if outcome == CREDITED:
        message = f"Payment received: {format_rupees(amount_paise)} added to your wallet."
    elif outcome == ALREADY_CREDITED:
        message = f"This payment of {format_rupees(amount_paise)} is already in your wallet."
    else:
        message, amount_paise = CONFIRM_LATER, 0
    return {"outcome": outcome, "message": message, "amount_paise": amount_paise}
