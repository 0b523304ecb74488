"""Shared pieces of the sandbox: constants, ids, signatures, Razorpay-shaped errors, request checks."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.responses import JSONResponse

DEFAULT_KEY_ID = "rzp_test_sandbox"
DEFAULT_KEY_SECRET = "sandbox_secret"
DEFAULT_WEBHOOK_SECRET = "sandbox_webhook_secret"
ACCOUNT_ID = "acc_sandbox"
MIN_AMOUNT = 100  # paise; Razorpay's floor for links, orders and payments
EXPIRE_MIN_AHEAD = 15 * 60  # expire_by must be strictly more than this ahead
EXPIRE_MAX_AHEAD = 184 * 86400  # "6 months": allow the longest 6-month span so we never reject a legal value
PAYABLE = ("created", "partially_paid")
METHODS = ("upi", "card", "netbanking", "wallet")
_ALPHABET = string.ascii_letters + string.digits

LINK_CREATE_FIELDS = {
    "amount", "currency", "accept_partial", "first_min_partial_amount", "reference_id", "description",
    "customer", "notify", "reminder_enable", "notes", "callback_url", "callback_method", "expire_by",
    "upi_link", "options",
}
LINK_PATCH_FIELDS = {"reference_id", "expire_by", "notes", "accept_partial", "reminder_enable"}
ORDER_CREATE_FIELDS = {"amount", "currency", "receipt", "notes", "partial_payment", "first_payment_min_amount"}


def new_id(prefix: str) -> str:
    # secrets, not the seeded RNG: ids must never repeat across restarts with persisted state.
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(14))


def hmac_hex(secret: str, message: str | bytes) -> str:
    if isinstance(message, str):
        message = message.encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def rupees(paise: int) -> str:
    # Integer math only: money never passes through float.
    return f"{paise // 100}.{paise % 100:02d}"


def error_body(code: str, description: str, field: str | None = None, source: str = "NA",
               step: str = "NA", reason: str = "NA") -> dict:
    return {"error": {"code": code, "description": description, "field": field, "source": source,
                      "step": step, "reason": reason, "metadata": {}}}


class ApiError(Exception):
    """A Razorpay-shaped error; the SDK maps `code` to BadRequestError / GatewayError / ServerError."""

    def __init__(self, description: str, field: str | None = None, status: int = 400,
                 code: str = "BAD_REQUEST_ERROR", reason: str = "input_validation_failed"):
        super().__init__(description)
        self.description, self.field, self.status, self.code, self.reason = description, field, status, code, reason

    def response(self) -> JSONResponse:
        body = error_body(self.code, self.description, self.field, source="business",
                          step="payment_initiation", reason=self.reason)
        return JSONResponse(body, status_code=self.status)


AUTH_FAILED = error_body("BAD_REQUEST_ERROR", "Authentication failed")
SERVER_ERROR = error_body("SERVER_ERROR", "The server encountered an error. The incident has been reported to admins.")
NOT_FOUND = "The id provided does not exist"


# ---------------------------------------------------------------- validation helpers

def require_int(value: Any, field: str) -> int:
    # bool is an int subclass and floats are how rupee/paise bugs sneak in: reject both.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(f"The {field} must be an integer.", field)
    return value


def check_amount(value: Any, field: str = "amount") -> int:
    if value is None:
        raise ApiError(f"The {field} field is required.", field)
    value = require_int(value, field)
    if value < MIN_AMOUNT:
        raise ApiError("The amount must be atleast INR 1.00", field)
    return value


def check_currency(value: Any) -> str:
    if value is None:
        return "INR"
    if value != "INR":
        raise ApiError("Currency is not supported", "currency")
    return value


def check_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ApiError(f"The {field} field must be true or false.", field)
    return value


def check_str(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ApiError(f"The {field} must be a string.", field)
    if len(value) > limit:
        raise ApiError(f"The {field} may not be greater than {limit} characters.", field)
    return value


def check_notes(value: Any) -> dict | list:
    # Razorpay (PHP underneath) answers empty notes as [] -- reproduce that so callers handle it.
    if value is None or value == [] or value == {}:
        return []
    if not isinstance(value, dict):
        raise ApiError("The notes must be an object of key-value pairs.", "notes")
    if len(value) > 15:
        raise ApiError("Number of fields in notes should be less than or equal to 15", "notes")
    for key, val in value.items():
        if isinstance(val, (dict, list)):
            raise ApiError(f"The notes.{key} must be a string.", "notes")
        if len(str(key)) > 255 or len(str(val)) > 255:
            raise ApiError("The notes value may not be greater than 255 characters.", "notes")
    return dict(value)


def check_fields(body: dict, allowed: set) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise ApiError(f"{', '.join(extra)} is/are not required and should not be sent", extra[0])


def check_method(method: Any) -> str:
    if method not in METHODS:
        raise ApiError(f"method must be one of {', '.join(METHODS)}", "method")
    return method


def with_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))

