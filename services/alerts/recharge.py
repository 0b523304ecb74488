"""The one-click recharge in every alert: a payment link for the customer's usual amount.

The usual amount is the last recharge (else Rs. 500), kept within the recharge bounds of the settings.
The link is made through services.payments like any other (so it is credited exactly once by the same
paths), valid 7 days, under a reference derived from the alert (`link_ref`): asking again after a crash
returns that same link, never a second one and never an unrelated open link. It is stored on the alert
before any message names it. While Razorpay cannot make it, the alert waits up to LINK_PATIENCE, then
goes out with the dashboard's wallet page instead (the reason is kept on the alert).
"""
from __future__ import annotations

from datetime import timedelta

from services import clock, config, ledger, payments, settings
from services.alerts import outbox
from services.errors import PaymentUnavailable, WalletError
from services.money import to_rupees

DEFAULT_AMOUNT = 50_000  # Rs. 500
LINK_VALID = timedelta(days=7)
LINK_PATIENCE = timedelta(minutes=10)


def usual_amount(db, user_id: str) -> int:
    """Paise: the last recharge, else Rs. 500, within the settings' recharge bounds."""
    page, _ = ledger.entries(db, user_id, category="recharge", limit=1)
    amount = int(page[0]["amount"]) if page else DEFAULT_AMOUNT
    s = settings.get(db)
    return min(max(amount, s["min_recharge_paise"]), s["max_amount_paise"])


def ensure_link(db, alert: dict) -> bool:
    """True once the alert may go out: its link is stored, or it goes without one (payments off, the
    customer gone, or Razorpay unavailable for longer than LINK_PATIENCE). False: try again shortly."""
    if alert.get("link") or alert.get("link_error") or alert.get("with_link") is False:
        return True
    if payments.mode() == "off":
        outbox.fix(db, alert, link_error="Online payments are not configured.")
        return True
    try:
        amount = alert.get("link_amount_paise") or usual_amount(db, alert["user_id"])
        made = payments.create_payment_link(db, alert["user_id"], to_rupees(amount),
                                            expire_in=LINK_VALID, reference=alert["link_ref"])
    except PaymentUnavailable as exc:
        if clock.now() - clock.as_utc(alert["created_at"]) < LINK_PATIENCE:
            return False
        outbox.fix(db, alert, link_error=exc.message)
        return True
    except WalletError as exc:  # no such user any more, an amount the settings refuse
        outbox.fix(db, alert, link_error=exc.message)
        return True
    rec = payments.get_link(db, made["reference_id"])
    outbox.fix(db, alert, link={"reference_id": made["reference_id"], "payment_link_id": made["payment_link_id"],
                                "short_url": made["short_url"], "amount_paise": made["amount_paise"],
                                "charged_paise": rec["charged_paise"], "expire_by": rec["expire_by"]})
    return True


def fallback_url() -> str:
    """Where an alert without a link sends the customer: the dashboard's wallet page."""
    return config.get().public_url.rstrip("/") + "/wallet"
