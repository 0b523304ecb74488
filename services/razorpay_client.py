"""Razorpay configuration and one SDK client per call.

Keys come from the environment, else `.streamlit/secrets.toml` (read here with tomllib: services/ stays
free of streamlit). `RAZORPAY_SANDBOX_URL` points the SDK at the offline sandbox with the sandbox's keys.
Every call goes through `call()`: it passes a timeout (the SDK has none) and turns every failure the SDK
can raise into one of two internal errors, so callers map them to user messages in one place each.
"""
from __future__ import annotations

import os
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

import razorpay
import requests
from razorpay.errors import BadRequestError, GatewayError, ServerError, SignatureVerificationError

SANDBOX_DEFAULTS = {"RAZORPAY_KEY_ID": "rzp_test_sandbox", "RAZORPAY_KEY_SECRET": "sandbox_secret",
                    "RAZORPAY_WEBHOOK_SECRET": "sandbox_webhook_secret"}
_NAMES = ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET")
# (connect, read) seconds; the SDK would otherwise wait for ever on a stuck connection.
DEFAULT_TIMEOUT = (3.05, 10.0)


class RazorpayRefused(Exception):
    """Razorpay answered with a 4xx (bad request, unknown id, bad keys). `str(exc)` is its description."""


class RazorpayDown(Exception):
    """Razorpay could not be reached or answered 5xx / non-JSON / garbage."""


@dataclass(frozen=True)
class Config:
    mode: str  # live | test | sandbox | off
    key_id: str
    key_secret: str
    webhook_secret: str
    base_url: str | None


def secrets_path() -> Path:
    return Path(os.environ.get("WALLET_SECRETS_FILE")
                or Path(__file__).resolve().parent.parent / ".streamlit" / "secrets.toml")


_toml_lock = threading.Lock()
_toml_cache: dict = {}


def _from_toml() -> dict:
    path = secrets_path()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return {}
    with _toml_lock:
        if _toml_cache.get("key") != (str(path), mtime):
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                data = {}
            section = data.get("razorpay") if isinstance(data.get("razorpay"), dict) else {}
            found = {}
            for name in _NAMES:
                short = name.removeprefix("RAZORPAY_").lower()  # [razorpay] key_id = ...
                val = data.get(name) or section.get(name) or section.get(short)
                if isinstance(val, str) and val.strip():
                    found[name] = val.strip()
            _toml_cache.update(key=(str(path), mtime), values=found)
        return dict(_toml_cache["values"])


def config() -> Config:
    """Read on every call (cheap): tests and operators can change the environment at run time."""
    env = {n: (os.environ.get(n) or "").strip() for n in _NAMES}
    sandbox = (os.environ.get("RAZORPAY_SANDBOX_URL") or "").strip().rstrip("/")
    if sandbox:
        # The sandbox reads the same variables with the same defaults; secrets.toml may hold real keys,
        # which must never be sent to a local fake.
        v = {n: env[n] or SANDBOX_DEFAULTS[n] for n in _NAMES}
        return Config("sandbox", v["RAZORPAY_KEY_ID"], v["RAZORPAY_KEY_SECRET"], v["RAZORPAY_WEBHOOK_SECRET"],
                      sandbox)
    toml = _from_toml() if not (env["RAZORPAY_KEY_ID"] and env["RAZORPAY_KEY_SECRET"]) else {}
    v = {n: env[n] or toml.get(n, "") for n in _NAMES}
    if not (v["RAZORPAY_KEY_ID"] and v["RAZORPAY_KEY_SECRET"]):
        return Config("off", "", "", v["RAZORPAY_WEBHOOK_SECRET"], None)
    mode = "live" if v["RAZORPAY_KEY_ID"].startswith("rzp_live_") else "test"
    return Config(mode, v["RAZORPAY_KEY_ID"], v["RAZORPAY_KEY_SECRET"], v["RAZORPAY_WEBHOOK_SECRET"], None)


def timeout():
    raw = os.environ.get("RAZORPAY_TIMEOUT")
    if raw:
        try:
            secs = int(raw)
            if secs > 0:
                return (min(3.05, secs), secs)
        except ValueError:
            pass
    return DEFAULT_TIMEOUT


def client(cfg: Config) -> razorpay.Client:
    """A fresh client: the SDK shares one requests.Session per client, which is not thread-safe."""
    opts = {"base_url": cfg.base_url} if cfg.base_url else {}
    return razorpay.Client(auth=(cfg.key_id, cfg.key_secret), **opts)


def call(cfg: Config, fn_path: str, *args):
    """`call(cfg, "payment_link.fetch", "plink_x")`: one SDK call on a fresh client, with a timeout."""
    c = client(cfg)
    obj = c
    for part in fn_path.split("."):
        obj = getattr(obj, part)
    try:
        result = obj(*args, timeout=timeout())
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


def verify_link_callback(cfg: Config, params: dict) -> bool:
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


def verify_order_signature(cfg: Config, order_id: str, payment_id: str, signature: str) -> bool:
    try:
        return bool(client(cfg).utility.verify_payment_signature({
            "razorpay_order_id": order_id, "razorpay_payment_id": payment_id, "razorpay_signature": signature}))
    except (SignatureVerificationError, TypeError):
        return False


def verify_webhook(cfg: Config, body: str, signature: str) -> bool:
    """Over the raw body as str (the SDK raises TypeError on bytes), never re-serialised JSON."""
    if not cfg.webhook_secret or not isinstance(signature, str) or not signature:
        return False
    try:
        return bool(client(cfg).utility.verify_webhook_signature(body, signature, cfg.webhook_secret))
    except (SignatureVerificationError, TypeError):
        return False
