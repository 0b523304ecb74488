"""Offline fake Razorpay ("sandbox") that the real `razorpay` SDK can talk to.

Point the SDK at it with ``razorpay.Client(auth=(key_id, key_secret), base_url=handle.url)``.
It implements the slice of Razorpay this project uses (Payment Links, Orders, Payments with their fees,
Refunds), a hosted pay page with Pay / Fail / Pay partially buttons, signed callback redirects and
signed, at-least-once, unordered webhooks -- so the wallet can be developed and tested without network
or real money. Behaviour follows /work/shared/razorpay.md and razorpay-lifecycle.md; where Razorpay's
docs are silent we choose the stricter answer so bugs surface here rather than in production.

One module per resource, like the SDK: `links`, `payments` (and orders), `refunds` hold the business
rules as mixins over `core` (storage, faults, events); `http` is the /v1 API, `paypage` the hosted
page, `control` the /sandbox/* endpoints tests drive, `app` builds and runs it. Recurring payments
(auto-recharge): `customers` (and their tokens), `registration` (registration links and the hosted
authorisation page), `recurring` (orders with a pre-debit notification, recurring debits, the bank's
answer), with their routes in `recurring_routes`.

Run:  python -m sandbox.razorpay_server --host 127.0.0.1 --port 8787
"""
from sandbox.razorpay_server.app import ServerHandle, create_app, main, run_in_thread
from sandbox.razorpay_server.common import (ACCOUNT_ID, DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, DEFAULT_WEBHOOK_SECRET,
                                           ApiError, hmac_hex, new_id)
from sandbox.razorpay_server.state import Sandbox

__all__ = ["ACCOUNT_ID", "DEFAULT_KEY_ID", "DEFAULT_KEY_SECRET", "DEFAULT_WEBHOOK_SECRET", "ApiError", "Sandbox",
           "ServerHandle", "create_app", "hmac_hex", "main", "new_id", "run_in_thread"]
