"""Recharging through Razorpay: Checkout orders, payment links, and Razorpay's webhooks.

Every rule (signatures, amounts, crediting once per payment) lives in services.payments; this module only
moves JSON in and out. The webhook is the one endpoint without a bearer token: its proof is the signature.
"""
from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Path, Request

from api import links
from api.deps import DB, ExactRoute, Pay
from api.schemas import (AmountBody, CancelledLinkOut, CreateOrderOut, KeyOut, LinkOut, LinkStatusOut, VerifyIn,
                         VerifyOut, WebhookOut)
from services import payments, razorpay_events
from services.errors import PaymentUnavailable, RateLimited
from services.payments.screening import FORGED_WINDOW_SECONDS

router = APIRouter(prefix="/api/payment", tags=["payment"], route_class=ExactRoute)

# Razorpay wants an answer within 5 s, whatever else the API is doing: webhooks get threads of their own
# instead of queueing behind calls in the shared pool.
_WEBHOOK_THREADS = anyio.CapacityLimiter(4)

LinkId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_]+$")]
RazorpayHeader = Annotated[str | None, Header(max_length=200)]


@router.get("/razorpay-key", response_model=KeyOut)
def razorpay_key(_acct: Pay):
    """The public key id for Razorpay Checkout; 503 while payments are not configured."""
    if payments.mode() == "off":
        raise PaymentUnavailable("Online payments are not configured. Ask an admin for a manual credit.")
    return KeyOut(razorpay_key=payments.razorpay_key())


@router.post("/create-order", response_model=CreateOrderOut)
def create_order(body: AmountBody, acct: Pay, db: DB):
    return CreateOrderOut(order=payments.create_order(db, acct.account, body.amount))


@router.post("/verify", response_model=VerifyOut)
def verify(body: VerifyIn, acct: Pay, db: DB):
    """Check Checkout's signature and credit the order's amount once (a repeat returns the same result)."""
    return VerifyOut.model_validate(payments.verify_order_payment(
        db, acct.account, body.razorpay_order_id, body.razorpay_payment_id, body.razorpay_signature))


@router.post("/payment-link", response_model=LinkOut, responses=links.LINK_CREATED)
def create_link(body: AmountBody, acct: Pay, db: DB):
    return LinkOut.model_validate(payments.create_payment_link(db, acct.account, body.amount))


@router.get("/payment-link/{link_id}", response_model=LinkStatusOut)
def link_status(link_id: LinkId, acct: Pay, db: DB):
    """Your link's status, after asking Razorpay (credits it if paid and not yet credited). While it can
    still be paid, `last_failed` shows the last failed attempt with Razorpay's reason: pay it again."""
    r = payments.reconcile_link(db, link_id, user_id=acct.account)
    link = payments.get_link(db, link_id, user_id=acct.account)  # the record after reconciling
    return LinkStatusOut.model_validate(link | {"payment_link_id": link.get("payment_link_id") or link_id,
                                                "outcome": r.get("outcome"),
                                                "credited_now_paise": int(r.get("credited_paise") or 0)})


@router.post("/payment-link/{link_id}/cancel", response_model=CancelledLinkOut)
def cancel_link(link_id: LinkId, acct: Pay, db: DB):
    """Cancel your unpaid link through Razorpay (a repeat answers the same). 409 when it was paid meanwhile
    (it is then credited) or is no longer open."""
    return CancelledLinkOut.model_validate(payments.cancel_link(db, link_id, user_id=acct.account,
                                                                by=acct.actor))


@router.post("/webhook", response_model=WebhookOut, openapi_extra={"security": []})
async def webhook(request: Request, db: DB, x_razorpay_signature: RazorpayHeader = None,
                  x_razorpay_event_id: RazorpayHeader = None):
    """Razorpay's webhooks. The signature is checked over the raw body, exactly as received (at most
    api.limits.WEBHOOK_MAX_BYTES). A forged one writes nothing (400); an address that keeps sending
    forged ones is told to slow down (429 with Retry-After)."""
    raw = await request.body()
    client = request.client.host if request.client else None
    try:
        result = await anyio.to_thread.run_sync(_handle, db, raw, x_razorpay_signature, x_razorpay_event_id,
                                                client, limiter=_WEBHOOK_THREADS)
    except payments.ForgedWebhook as exc:
        if not exc.slow_down:
            raise
        slow = RateLimited("Too many webhooks with a bad signature from this address; slow down.")
        slow.retry_after = int(FORGED_WINDOW_SECONDS)
        raise slow from None
    return WebhookOut(**{str(k): v for k, v in (result or {}).items()
                         if isinstance(v, (str, int, float, bool)) or v is None})


def _handle(db, raw: bytes, signature, event_id, client):
    return razorpay_events.handle_webhook(db, raw, signature, event_id, client=client)
