"""Wallet recharge through Razorpay Payment Links (and the older Orders/Checkout flow), credited once;
and what happens after and around a payment: failures the customer sees, cancellations, convenience
fees, refunds, the daily reconciliation.

docs/payments.md has the argument. In short:
- our record (`payment_links`, `_id` = reference_id) is written BEFORE Razorpay is called, so every link
  Razorpay knows has a record here, and a failed create stays reconcilable by reference_id;
- three confirmation paths (callback redirect, webhook, reconciliation), each sufficient alone;
- every credit is `ledger.post(key="razorpay:<payment_id>")` with the user from OUR record and the amount
  Razorpay captured (less a convenience fee the payer bore), so any number of paths, repeats and races
  credit each payment exactly once; every refund debits once, `key="razorpay-refund:<refund_id>"`;
- a webhook is stored (keyed by its event id) before it is processed; one that finds no record stays
  "unmatched" with its payload until the record appears (create path, reconcile), so it is never lost.

One module per resource or concern: links, orders, callbacks, webhooks, reconciliation (the three paths
and the two creates), cancellation, refunds, daily (reconciliation), crediting (the one way into and out
of the wallet), records (our documents and their status ladder), admin (records for admins), gateway
(settings, SDK calls, signatures), outcomes (the answers), refundable (what may be refunded), selfserve
(refund requests of unused balance), views (what the pages show). This package re-exports the public API.
"""
from services.payments.admin import ADMIN_KINDS, failed_payments
from services.payments.bankaccounts import bank_account, set_allowed_payers
from services.payments.qrcodes import create as create_upi_qr
from services.payments.fixedqr import existing as existing_fixed_upi_qr
from services.payments.fixedqr import upi_qr as fixed_upi_qr
from services.payments.bankaccounts import existing as existing_bank_account
from services.payments.callbacks import handle_callback
from services.payments.cancellation import cancel_link
from services.payments.daily import reconcile_day, reconciliation_report, run_daily
from services.payments.gateway import mode, razorpay_key
from services.payments.links import create_payment_link
from services.payments.orders import create_order, verify_order_payment
from services.payments.outcomes import (ALREADY_CREDITED, CONFIRM_LATER, CREDITED, DOWN_MESSAGE, OFF_MESSAGE,
                                        OUTCOMES, PENDING, REFUND_OUTCOMES, REVIEW)
from services.payments.reconciliation import reconcile_link, reconcile_open
from services.payments.records import OPEN, STATUSES, get_link, list_links, recharge_amount
from services.payments.refunds import get_refund, list_refunds
from services.payments.screening import ForgedWebhook, forged_count
from services.payments.selfserve import approve as approve_refund_request
from services.payments.refund_requests import list_requests as list_refund_requests
from services.payments.selfserve import recover_requests as recover_refund_requests
from services.payments.selfserve import refundable_for, request_refund
from services.payments.selfserve import reject as reject_refund_request
from services.payments.views import admin_page, approvals, recent_reports, wallet_page
from services.payments.webhooks import handle_webhook
from services.payments.settlements import reconcile as reconcile_settlements
from services.payments.settlements import report as settlement_report
from services.payments.settlements import run_daily as run_settlements

COLLECTIONS = {"payment_links": [[("user_id", 1), ("created_at", -1)], [("status", 1)], [("payment_link_id", 1)],
                                 [("order_id", 1)]],
               "payment_events": [[("kind", 1), ("at", -1)]], "payment_link_claims": [], "payment_reconciliations": [],
               "payment_refunds": [], "refund_requests": [[("tidy", 1)]],
               # Smart Collect: a virtual account per customer (_id = user id) and the transfers into them
               "virtual_accounts": [[("va_id", 1)], [("status", 1)]],
               "bank_transfers": [[("status", 1)], [("user_id", 1)]],
               "settlement_recons": [],  # _id = the day Razorpay settled
               "qr_codes": [[("qr_id", 1)], [("status", 1)]],
               # a fixed UPI QR per customer (_id = user id); its payments are in bank_transfers
               "fixed_qr_codes": [[("qr_id", 1)], [("status", 1)]]}

__all__ = ["ADMIN_KINDS", "ALREADY_CREDITED", "CONFIRM_LATER", "CREDITED", "DOWN_MESSAGE", "ForgedWebhook",
           "OFF_MESSAGE", "OPEN", "OUTCOMES", "PENDING", "REFUND_OUTCOMES", "REVIEW", "STATUSES", "cancel_link",
           "create_order", "create_payment_link", "failed_payments", "forged_count", "get_link", "get_refund",
           "handle_callback", "handle_webhook", "list_links", "list_refunds", "mode", "razorpay_key",
           "reconcile_day", "reconcile_link", "reconcile_open", "reconciliation_report", "run_daily",
           "verify_order_payment"]
__all__ += ["recharge_amount"]
__all__ += ["reconcile_settlements", "run_settlements", "settlement_report"]
__all__ += ["create_upi_qr", "existing_fixed_upi_qr", "fixed_upi_qr"]
__all__ += ["bank_account", "existing_bank_account", "set_allowed_payers"]
__all__ += ["admin_page", "approvals", "approve_refund_request", "list_refund_requests", "recent_reports",
            "recover_refund_requests",
            "refundable_for", "reject_refund_request", "request_refund", "wallet_page"]
