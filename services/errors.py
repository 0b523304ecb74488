"""Typed errors. Each carries a message fit to show a user; HTTP codes and UI rendering map them in one
place each (api/errors.py, app_ui.show_error)."""


class WalletError(Exception):
    """Base of every error a service raises on purpose. `message` is safe to show to the user."""

    code = "wallet_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidAmount(WalletError):
    code = "invalid_amount"


class BelowMinimum(InvalidAmount):
    code = "below_minimum"


class InvalidInput(WalletError):
    code = "invalid_input"


class InsufficientBalance(WalletError):
    code = "insufficient_balance"


class NotFound(WalletError):
    code = "not_found"


class Conflict(WalletError):
    """The same idempotency key was used for a different operation, or a state transition is not allowed."""

    code = "conflict"


class PaymentUnavailable(WalletError):
    code = "payment_unavailable"


class InvalidPayment(WalletError):
    """A payment proof (signature, amount, owner) did not check out."""

    code = "invalid_payment"


class AuthError(WalletError):
    code = "unauthorized"


class Forbidden(WalletError):
    code = "forbidden"


class SpendCapReached(WalletError):
    code = "spend_cap_reached"


class RateLimited(WalletError):
    """Too many attempts (e.g. failed logins) in a short time; try again later."""

    code = "rate_limited"
