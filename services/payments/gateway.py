"""The gateway: Razorpay's settings, one typed function per SDK call the project makes, and the signature
checks.

Settings come from services.config (`config.get().razorpay`), read on every call so operators and tests
can change them at run time. Every SDK call goes through `_send()`: it passes a timeout (the SDK has none)
and turns every failure the SDK can raise into one of two internal errors (`FAILURES`), so callers map them
to user messages in one place each. One named function per call (not a method path in a string) lets the
type checker see every call site: a misspelt call fails the gate, not a payment in production.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import razorpay
import requests
from razorpay.errors import BadRequestError, GatewayError, ServerError, SignatureVerificationError

from services import config
from services.errors import PaymentUnavailable
from services.payments.outcomes import OFF_MESSAGE

# (connect, read) seconds; the SDK would otherwise wait for ever on a stuck connection.
DEFAULT_TIMEOUT = (3.05, 10.0)

Settings = config.Razorpay


class RazorpayRefused(Exception):
    """Razorpay answered with a 4xx (bad request, unknown id, bad keys). `str(exc)` is its description."""


class RazorpayDown(Exception):
    """Razorpay could not be reached or answered 5xx / non-JSON / garbage."""


FAILURES = (RazorpayDown, RazorpayRefused)


def settings() -> Settings:
    return config.get().razorpay


def required() -> Settings:
    """The settings, or PaymentUnavailable while payments are off."""
    cfg = settings()
    if cfg.mode == "off":
        raise PaymentUnavailable(OFF_MESSAGE)
    return cfg


def mode() -> str:
    """live | test | sandbox | off."""
    return settings().mode


def razorpay_key() -> str:
    """The public key id (Checkout needs it for the orders flow); "" when payments are off."""
    cfg = settings()
    return cfg.key_id if cfg.mode != "off" else ""


def timeout(cfg: Settings) -> tuple[float, float]:
    if cfg.timeout:
        return (min(3.05, cfg.timeout), cfg.timeout)
    return DEFAULT_TIMEOUT


def client(cfg: Settings) -> razorpay.Client:
    """A fresh client: the SDK shares one requests.Session per client, which is not thread-safe."""
    opts = {"base_url": cfg.base_url} if cfg.base_url else {}
    return razorpay.Client(auth=(cfg.key_id, cfg.key_secret), **opts)


# Razorpay's JSON answer (an entity, or a collection with `items` / `payment_links` and `count`).
Answer = dict[str, Any]


def _send(cfg: Settings, request: Callable[[Any, dict[str, Any]], object], *,
          headers: dict[str, str] | None = None) -> Answer:
    """`request(client, options)` on a fresh client, `options` being the timeout (and extra request
    headers, e.g. Razorpay's `X-Refund-Idempotency`) to pass on to the SDK method."""
    c = client(cfg)
    # a copy: the SDK adds its own headers to the dict it is given
    options: dict[str, Any] = {"timeout": timeout(cfg), **({"headers": dict(headers)} if headers else {})}
    try:
        result = request(c, options)
    except BadRequestError as exc:
        raise RazorpayRefused(str(exc) or "request refused") from None
    except (GatewayError, ServerError) as exc:
        raise RazorpayDown(f"{type(exc).__name__}: {exc}") from None
    except requests.RequestException as exc:  # connection, timeout, and JSONDecodeError (non-JSON body)
        raise RazorpayDown(f"{type(exc).__name__}: {exc}"[:300]) from None
    except (ValueError, TypeError, KeyError) as exc:  # any other garbage the SDK chokes on
        raise RazorpayDown(f"{type(exc).__name__}: {exc}"[:300]) from None
    finally:
        c.session.close()
    if not isinstance(result, dict):  # e.g. the SDK's answer to a 204 is the string "{}"
        raise RazorpayDown(f"unexpected answer of type {type(result).__name__}")
    return result


# ------------------------------------------------------------------------------- payment links

def create_payment_link(cfg: Settings, body: dict) -> Answer:
    return _send(cfg, lambda c, o: c.payment_link.create(body, **o))


def fetch_payment_link(cfg: Settings, link_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.payment_link.fetch(link_id, **o))


def list_payment_links(cfg: Settings, query: dict) -> Answer:
    """`{"payment_links": [...]}`, not `items`."""
    return _send(cfg, lambda c, o: c.payment_link.all(query, **o))


def cancel_payment_link(cfg: Settings, link_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.payment_link.cancel(link_id, **o))


# -------------------------------------------------------------------------------------- orders

def create_order(cfg: Settings, body: dict) -> Answer:
    return _send(cfg, lambda c, o: c.order.create(body, **o))


def list_orders(cfg: Settings, query: dict) -> Answer:
    return _send(cfg, lambda c, o: c.order.all(query, **o))


def list_order_payments(cfg: Settings, order_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.order.payments(order_id, **o))


# ---------------------------------------------------------------------------- payments, refunds

def fetch_payment(cfg: Settings, payment_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.payment.fetch(payment_id, **o))


def list_payments(cfg: Settings, query: dict) -> Answer:
    return _send(cfg, lambda c, o: c.payment.all(query, **o))


def create_recurring_payment(cfg: Settings, body: dict) -> Answer:
    """A debit on a confirmed mandate's token; the answer carries `razorpay_payment_id`."""
    return _send(cfg, lambda c, o: c.payment.createRecurring(body, **o))


def refund_payment(cfg: Settings, payment_id: str, body: dict, *, idempotency_key: str) -> Answer:
    """Razorpay answers a retry with the same key (and the same body) with the first refund."""
    return _send(cfg, lambda c, o: c.payment.refund(payment_id, body, **o),
                 headers={"X-Refund-Idempotency": idempotency_key})


def list_payment_refunds(cfg: Settings, payment_id: str, query: dict | None = None) -> Answer:
    return _send(cfg, lambda c, o: c.payment.fetch_multiple_refund(payment_id, query or {}, **o))


def list_refunds(cfg: Settings, query: dict) -> Answer:
    return _send(cfg, lambda c, o: c.refund.all(query, **o))


# ------------------------------------------------------------------- Smart Collect (bank transfers)

def create_virtual_account(cfg: Settings, body: dict) -> Answer:
    return _send(cfg, lambda c, o: c.virtual_account.create(body, **o))


def close_virtual_account(cfg: Settings, va_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.virtual_account.close(va_id, **o))


def list_virtual_account_payments(cfg: Settings, va_id: str, query: dict) -> Answer:
    return _send(cfg, lambda c, o: c.virtual_account.payments(va_id, query, **o))


def fetch_bank_transfer(cfg: Settings, payment_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.payment.bank_transfer(payment_id, **o))


# ------------------------------------------------------------------------------------- UPI QR codes

def create_qr(cfg: Settings, body: dict) -> Answer:
    return _send(cfg, lambda c, o: c.qrcode.create(body, **o))


def list_qr_payments(cfg: Settings, qr_id: str, query: dict | None = None) -> Answer:
    return _send(cfg, lambda c, o: c.qrcode.fetch_all_payments(qr_id, query or {"count": 100}, **o))


def close_qr(cfg: Settings, qr_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.qrcode.close(qr_id, **o))


# ------------------------------------------------------------------------------------ settlements

def settlement_recon(cfg: Settings, query: dict) -> Answer:
    """Razorpay's combined reconciliation of what was settled on a day (year, month, day, count, skip)."""
    return _send(cfg, lambda c, o: c.settlement.report(query, **o))


def fetch_settlement(cfg: Settings, settlement_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.settlement.fetch(settlement_id, **o))


# ---------------------------------------------------------------- recurring payments (mandates)

def create_customer(cfg: Settings, body: dict) -> Answer:
    return _send(cfg, lambda c, o: c.customer.create(body, **o))


def create_registration_link(cfg: Settings, body: dict) -> Answer:
    """The mandate's authorisation link: an invoice (`inv_...`) with its order."""
    return _send(cfg, lambda c, o: c.registration_link.create(body, **o))


def list_invoices(cfg: Settings, query: dict) -> Answer:
    return _send(cfg, lambda c, o: c.invoice.all(query, **o))


def fetch_invoice(cfg: Settings, invoice_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.invoice.fetch(invoice_id, **o))


def cancel_invoice(cfg: Settings, invoice_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.invoice.cancel(invoice_id, **o))


def fetch_token(cfg: Settings, customer_id: str, token_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.token.fetch(customer_id, token_id, **o))


def cancel_token(cfg: Settings, customer_id: str, token_id: str) -> Answer:
    return _send(cfg, lambda c, o: c.token.cancel(customer_id, token_id, **o))


def verify_link_callback(cfg: Settings, params: dict) -> bool:
    """The SDK wants `payment_link_*` keys WITHOUT the `razorpay_` prefix the redirect carries; given the
    raw keys it silently returns False. False here means missing fields or a bad signature."""
    try:
        return bool(client(cfg).utility.verify_payment_link_signature({
            "payment_link_id": params["razorpay_payment_link_id"],
            "payment_link_reference_id": params["razorpay_payment_link_reference_id"],
            "payment_link_status": params["razorpay_payment_link_status"],
            "razorpay_payment_id": params["razorpay_payment_id"],
            "razorpay_signature": params["razorpay_signature"],
        }))
    except (SignatureVerificationError, KeyError, TypeError):
        return False


def verify_order_signature(cfg: Settings, order_id: str, payment_id: str, signature: str) -> bool:
    try:
        return bool(client(cfg).utility.verify_payment_signature({
            "razorpay_order_id": order_id, "razorpay_payment_id": payment_id, "razorpay_signature": signature}))
    except (SignatureVerificationError, TypeError):
        return False


def verify_webhook(cfg: Settings, body: str, signature: str | None) -> bool:
    """Over the raw body as str (the SDK raises TypeError on bytes), never re-serialised JSON. Any of
    the configured secrets will do (current first): Razorpay retries older events with the old one."""
    if not isinstance(signature, str) or not signature:
        return False
    utility = client(cfg).utility
    for secret in cfg.webhook_secrets:
        try:
            if utility.verify_webhook_signature(body, signature, secret):
                return True
        except (SignatureVerificationError, TypeError):
            continue
    return False
