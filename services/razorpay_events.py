"""Razorpay's events, routed: a mandate's (a token's, or a payment made on a token) to services.autorecharge
first, everything else, and what auto-recharge leaves, to services.payments.

The API's webhook and the worker's reconciliation come in here, so both packages see every event they
should while neither imports the other's event handling.
"""
from __future__ import annotations

from services.autorecharge import events
from services.payments import reconciliation, webhooks


def handle_webhook(db, raw_body: bytes, signature: str | None, event_id: str | None, *,
                   client: str | None = None) -> dict:
    """A Razorpay webhook (services.payments.webhooks.handle_webhook, with auto-recharge looking first)."""
    return webhooks.handle_webhook(db, raw_body, signature, event_id, client=client, first=events.seen)


def reconcile_open(db, *, due_only: bool = True) -> dict:
    """The worker's reconciliation (services.payments.reconciliation.reconcile_open), stored events routed."""
    return reconciliation.reconcile_open(db, due_only=due_only, first=events.seen)
