"""Recharging through Razorpay: Checkout orders, payment links, and Razorpay's webhooks.

Every rule (signatures, amounts, crediting once per payment) lives in services.payments; this module only
moves JSON in and out. The webhook is the one endpoint without a bearer token: its proof is the signature.
"""
from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends, Header, Path, Request

from api.deps import ExactRoute, current_user, get_db
from api.schemas import (AmountBody, CreateOrderOut, KeyOut, LinkOut, LinkStatusOut, OrderOut, VerifyIn,
                         VerifyOut, WebhookOut, rupees)
from services import payments
from services.errors import PaymentUnavailable

router = APIRouter(prefix="/api/payment", tags=["payment"], route_class=ExactRoute)

# Razorpay wants an answer within 5 s, whatever else the API is doing: webhooks get threads of their own
# instead of queueing behind calls in the shared pool.
_WEBHOOK_THREADS = anyio.CapacityLimiter(4)

LINK_ID = Path(max_length=64, pattern=r"^[A-Za-z0-9_]+$")


@router.get("/razorpay-key", response_model=KeyOut)
def razorpay_key(_user=Depends(current_user)):
    """The public key id for Razorpay Checkout; 503 while payments are not configured."""
    if payments.mode() == "off":
        raise PaymentUnavailable("Online payments are not configured. Ask an admin for a manual credit.")
    return KeyOut(razorpay_key=payments.razorpay_key())


@router.post("/create-order", response_model=CreateOrderOut)
def create_order(body: AmountBody, user=Depends(current_user), db=Depends(get_db)):
    o = payments.create_order(db, user["username"], body.amount)
    return CreateOrderOut(order=OrderOut(order_id=o["order_id"], amount=rupees(o["amount_paise"]),
                                         amount_paise=o["amount_paise"], currency=o.get("currency", "INR")))


@router.post("/verify", response_model=VerifyOut)
def verify(body: VerifyIn, user=Depends(current_user), db=Depends(get_db)):
    """Check Checkout's signature and credit the order's amount once (a repeat returns the same result)."""
    r = payments.verify_order_payment(db, user["username"], body.razorpay_order_id, body.razorpay_payment_id,
                                      body.razorpay_signature)
    return VerifyOut(outcome=r["outcome"], amount=rupees(r["amount_paise"]), amount_paise=r["amount_paise"],
                     balance=rupees(r["balance_paise"]), balance_paise=r["balance_paise"])


@router.post("/payment-link", response_model=LinkOut)
def create_link(body: AmountBody, user=Depends(current_user), db=Depends(get_db)):
    link = payments.create_payment_link(db, user["username"], body.amount)
    amt = link.get("amount_paise")
    return LinkOut(payment_link_id=link["payment_link_id"], short_url=link.get("short_url"),
                   status=link["status"], amount=None if amt is None else rupees(amt), amount_paise=amt)


@router.get("/payment-link/{link_id}", response_model=LinkStatusOut)
def link_status(link_id: str = LINK_ID, user=Depends(current_user), db=Depends(get_db)):
    """Your link's status, after asking Razorpay (credits it if paid and not yet credited)."""
    r = payments.reconcile_link(db, link_id, user_id=user["username"])
    link = payments.get_link(db, link_id, user_id=user["username"])  # the record after reconciling
    amt, got = link["amount_paise"], link["credited_paise"]
    return LinkStatusOut(payment_link_id=link.get("payment_link_id") or link_id, status=link["status"],
                         outcome=r.get("outcome"), amount=rupees(amt), amount_paise=amt, credited=rupees(got),
                         credited_paise=got, credited_now_paise=int(r.get("credited_paise") or 0))


@router.post("/webhook", response_model=WebhookOut, openapi_extra={"security": []})
async def webhook(request: Request,
                  x_razorpay_signature: str | None = Header(None, max_length=200),
                  x_razorpay_event_id: str | None = Header(None, max_length=200),
                  db=Depends(get_db)):
    """Razorpay's webhooks. The signature is checked over the raw body, exactly as received."""
    raw = await request.body()
    result = await anyio.to_thread.run_sync(payments.handle_webhook, db, raw, x_razorpay_signature,
                                            x_razorpay_event_id, limiter=_WEBHOOK_THREADS)
    return WebhookOut(**{str(k): v for k, v in (result or {}).items()
                         if isinstance(v, (str, int, float, bool)) or v is None})
