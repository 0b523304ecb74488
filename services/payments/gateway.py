"""The gateway: Razorpay's settings, one SDK call with a timeout, and the signature checks.

Settings come from services.config (`config.get().razorpay`), read on every call so operators and tests
can change them at run time. Every call goes through `call()`: it passes a timeout (the SDK has none) and
turns every failure the SDK can raise into one of two internal errors (`FAILURES`), so callers map them
to user messages in one place each.
"""
from __future__ import annotations

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


def call(cfg: Settings, fn_path: str, *args, headers: dict | None = None) -> dict:
    """`call(cfg, "payment_link.fetch", "plink_x")`: one SDK call on a fresh client, with a timeout (and
    extra request headers, e.g. Razorpay's `X-Refund-Idempotency`)."""
    c = client(cfg)
    obj = c
    for part in fn_path.split("."):
        obj = getattr(obj, part)
    try:
        result = obj(*args, timeout=timeout(cfg), **({"headers": dict(headers)} if headers else {}))
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
    if not isinstance(result, dict):
        raise RazorpayDown(f"unexpected answer of type {type(result).__name__}")
    return result


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
