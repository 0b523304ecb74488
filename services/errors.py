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

    def __init__(self, message: str, *, available: int | None = None, needed: int | None = None):
        super().__init__(message)
        self.available, self.needed = available, needed  # paise, when the refusal knows them


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

    def __init__(self, message: str, *, cap: int | None = None, committed: int | None = None,
                 wanted: int | None = None, key: str | None = None):
        super().__init__(message)
        # paise: the cap, what today already spent or holds, and what this operation asked for
        self.cap, self.committed, self.wanted = cap, committed, wanted
        self.key = key  # the API key whose cap it is (None: the wallet's own)

    @property
    def room(self) -> int | None:
        """What still fits under the cap today (None if unknown)."""
        return None if self.cap is None or self.committed is None else max(0, self.cap - self.committed)


class RateLimited(WalletError):
    """Too many attempts (e.g. failed logins) in a short time; try again later."""

    code = "rate_limited"
    retry_after: int | None = None  # seconds, when known: the Retry-After header


class TooManyCalls(RateLimited):
    """The customer already has as many calls on the line as they may (HTTP 429 with Retry-After)."""

    code = "too_many_calls"

    def __init__(self, message: str, *, limit: int | None = None, retry_after: int | None = None,
                 key: str | None = None):
        super().__init__(message)
        self.limit, self.retry_after = limit, retry_after
        self.key = key  # the API key whose limit it is (None: the customer's own)
