"""Wallet recharge through Razorpay Payment Links (and the older Orders/Checkout flow), credited once.

docs/payments.md has the argument. In short:
- our record (`payment_links`, `_id` = reference_id) is written BEFORE Razorpay is called, so every link
  Razorpay knows has a record here, and a failed create stays reconcilable by reference_id;
- three confirmation paths (callback redirect, webhook, reconciliation), each sufficient alone;
- every credit is `ledger.post(key="razorpay:<payment_id>")` with the user from OUR record and the amount
  Razorpay captured (fetched, or from a signed webhook), so any number of paths, repeats and races
  credit each payment exactly once;
- a webhook is stored (keyed by its event id) before it is processed; one that finds no record stays
  "unmatched" with its payload until the record appears (create path, reconcile), so it is never lost.

One module per resource or concern: links, orders, callbacks, webhooks, reconciliation (the three paths
and the two creates), crediting (the one way into the wallet), records (our documents and their status
ladder), admin (records for admins), gateway (settings, SDK calls, signatures), outcomes (the answers).
This package re-exports the public API.
"""
from services.payments.admin import ADMIN_KINDS, failed_payments
from services.payments.callbacks import handle_callback
from services.payments.gateway import mode, razorpay_key
from services.payments.links import create_payment_link
from services.payments.orders import create_order, verify_order_payment
from services.payments.outcomes import (ALREADY_CREDITED, CONFIRM_LATER, CREDITED, DOWN_MESSAGE, OFF_MESSAGE,
                                        OUTCOMES, PENDING)
from services.payments.reconciliation import reconcile_link, reconcile_open
from services.payments.records import OPEN, STATUSES, get_link, list_links
from services.payments.webhooks import handle_webhook

__all__ = ["ADMIN_KINDS", "ALREADY_CREDITED", "CONFIRM_LATER", "CREDITED", "DOWN_MESSAGE", "OFF_MESSAGE", "OPEN",
           "OUTCOMES", "PENDING", "STATUSES", "create_order", "create_payment_link", "failed_payments",
           "get_link", "handle_callback", "handle_webhook", "list_links", "mode", "razorpay_key",
           "reconcile_link", "reconcile_open", "verify_order_payment"]
