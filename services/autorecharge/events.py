"""Razorpay's webhooks about mandates, handed over by services.payments.webhooks (already verified and
stored there), acted on with no network call:

- `token.*` (confirmed, rejected, paused, resumed, cancelled...): the token entity's status is applied
  to its mandate, whatever the event is called; a revocation turns auto-recharge off and says so.
- a payment made on a token: on a mandate's authorisation order it tells us the token's id; a debit
  (an auto-charge) goes on to the payment paths like any payment, which credit it once.

`seen` answers (status, outcome) when the event is done with here, or None to let the payment paths go on.
"""
from __future__ import annotations

from services.autorecharge import mandates, notices
from services.payments.outcomes import IGNORED, PROCESSED


def seen(db, name: str, ents: dict) -> tuple[str, str] | None:
    if name.startswith("token."):
        return token_event(db, ents.get("token") or {})
    return payment_event(db, ents.get("payment") or {})


def token_event(db, token: dict) -> tuple[str, str]:
    m = mandates.by_token(db, token.get("id")) or _pending_for(db, token)
    if m is None or not mandates.adopts(m, token):
        return IGNORED, "token of no mandate here (yet)"
    if mandates.apply_token(db, m, token) == "revoked":
        notices.off(db, m, mandates.REVOKED)
    after = mandates.fresh(db, m["user_id"])
    return PROCESSED, f"mandate {after['state']} (token {mandates.token_state(token)})"


def _pending_for(db, token: dict) -> dict | None:
    cust = token.get("customer_id")
    if not isinstance(cust, str) or not cust:
        return None
    return next((m for m in mandates.in_states(db, (mandates.PENDING,)) if m.get("customer_id") == cust), None)


def payment_event(db, pay: dict) -> tuple[str, str] | None:
    m = mandates.by_auth_order(db, pay.get("order_id"))
    if m is None or not isinstance(pay.get("token_id"), str):
        return None
    mandates.attach_token(db, m, pay["token_id"])
    if m["auth_amount_paise"] > 0:
        return None  # a real payment: credited to the wallet through its recharge record
    return PROCESSED, "mandate authorisation (no money moved)"
