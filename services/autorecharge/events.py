"""Razorpay's webhooks about mandates, handed over by services.payments.webhooks (already verified and
stored there), acted on with no network call:

- `token.*` (confirmed, rejected, paused, cancelled...): the token entity's status is applied to its
  mandate, whatever the event is called; a revocation turns auto-recharge off and says so. Razorpay's
  token payloads carry no customer and no order: the token is known by its id only, learnt from the
  authorisation payment (its `token_id`, on the mandate's authorisation order: by webhook, or read by
  the worker through the order's payments). A token event that comes first waits, unmatched, and is
  acted on when the id is learnt (`adopt_token_events`), or by the worker's retry of stored events.
- a payment made on a token: on a mandate's authorisation order it tells us the token's id; a debit
  (an auto-charge) goes on to the payment paths like any payment, which credit it once.

`seen` answers (status, outcome) when the event is done with here, or None to let the payment paths go on.
"""
from __future__ import annotations

from services.autorecharge import mandates, notices
from services.payments import webhooks
from services.payments.outcomes import PROCESSED, UNMATCHED


def seen(db, name: str, ents: dict) -> tuple[str, str] | None:
    if name.startswith("token."):
        return token_event(db, ents.get("token") or {})
    return payment_event(db, ents.get("payment") or {})


def token_event(db, token: dict) -> tuple[str, str]:
    m = mandates.by_token(db, token.get("id"))  # by id alone: the payload names no customer or order
    if m is None:
        return UNMATCHED, "token of no mandate here (yet): its authorisation payment will name it"
    if mandates.apply_token(db, m, token) == "revoked":
        notices.off(db, m, mandates.REVOKED)
    after = mandates.fresh(db, m["user_id"])
    return PROCESSED, f"mandate {after['state']} (token {mandates.token_state(token)})"


def learnt_token(db, m: dict, token_id: str) -> None:
    """The mandate's token id, learnt from its authorisation payment: kept, then the token's own events
    that came before it are acted on."""
    mandates.attach_token(db, m, token_id)
    webhooks.adopt_token_events(db, token_id, first=seen)


def payment_event(db, pay: dict) -> tuple[str, str] | None:
    m = mandates.by_auth_order(db, pay.get("order_id"))
    if m is None or not isinstance(pay.get("token_id"), str):
        return None
    learnt_token(db, m, pay["token_id"])
    if m["auth_amount_paise"] > 0:
        return None  # a real payment: credited to the wallet through its recharge record
    return PROCESSED, "mandate authorisation (no money moved)"
