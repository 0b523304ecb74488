"""What the payment paths answer: outcome names, webhook statuses and the messages users see.

Pages and the API compare against these names; nothing else spells them.
"""
from __future__ import annotations

from services.money import format_rupees

# handle_callback and verify_order_payment: dict(outcome=...)
CREDITED = "credited"                  # this call put the money in the wallet
ALREADY_CREDITED = "already_credited"  # another path (or an earlier call) did
PENDING = "pending"                    # paid, not confirmable now: webhook or reconcile will credit it
REVIEW = "review"                      # paid, but refused here (amount mismatch): flagged for admins
OUTCOMES = (CREDITED, ALREADY_CREDITED, PENDING, REVIEW)

# handle_webhook: dict(status=...)
PROCESSED, DUPLICATE, IGNORED, UNMATCHED = "processed", "duplicate", "ignored", "unmatched"
REJECTED = "rejected"                  # signed, but its content is not sane (e.g. an amount of 2**63)

# A refund's money on our side (refunds.record: dict(outcome=...)).
DEBITED = "debited"                    # its amount left the wallet, once (key razorpay-refund:<id>)
RETURNED = "returned"                  # it failed after the debit: the amount came back, once
AMOUNT_DUE = "amount_due"              # the wallet could not cover it all (spent): the rest is its amount due
NOTHING_TO_DEBIT = "nothing_to_debit"  # failed before any debit, or nothing of the credit left to take
NOT_CREDITED = "not_credited"          # its payment is not credited here (not ours, or not yet)
AUTO_REFUND = "auto_refund"            # Razorpay refunded a payment never captured: never credited
REFUND_OUTCOMES = (DEBITED, RETURNED, AMOUNT_DUE, NOTHING_TO_DEBIT, NOT_CREDITED, AUTO_REFUND)

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
UNDER_REVIEW = ("Razorpay reports this payment, but its amount does not match the recharge, so it was not "
                "added to your wallet automatically. It has been flagged for review; support will sort it out.")


def refused_message(reason: str) -> str:
    return (f"Online recharge is not available right now: Razorpay refused the request ({reason[:120]}). "
            "Nothing was charged.")


def settled(count: int, razorpay_status) -> str:
    return f"{count} payment(s) credited, Razorpay says {razorpay_status}"


def order_settled(count: int) -> str:
    return f"{count} payment(s) credited"


def callback_result(outcome: str, amount_paise: int = 0, charged_paise: int | None = None) -> dict:
    """handle_callback's answer: dict(outcome, message, amount_paise, charged_paise): what reached the
    wallet, and what the payer paid (more when GST was charged on top)."""
    charged = amount_paise if charged_paise is None else charged_paise
    paid = f"you paid {format_rupees(charged)}; " if charged != amount_paise else ""
    if outcome == CREDITED:
        message = f"Payment received: {paid}{format_rupees(amount_paise)} added to your wallet."
    elif outcome == ALREADY_CREDITED:
        message = f"This payment is already in your wallet: {paid}{format_rupees(amount_paise)} added."
    elif outcome == REVIEW:
        message, amount_paise = UNDER_REVIEW, 0
    else:
        message, amount_paise = CONFIRM_LATER, 0
    if outcome not in (CREDITED, ALREADY_CREDITED):
        charged = 0
    return {"outcome": outcome, "message": message, "amount_paise": amount_paise, "charged_paise": charged}
