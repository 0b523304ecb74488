"""Request and response models: the OpenAPI schema the API promises (and schemathesis checks).

Money goes out twice, by one rule: every `x_paise` field of a response (`MoneyOut`) has a twin `x` in
rupees, a JSON number with at most 2 decimals, derived from the paise when the response is written. Routes
hand over paise only. Money comes in as rupees (a number or a string), checked by
services.money.parse_rupees. Request bodies are strict (`Strict`): JSON types are taken as sent.
"""
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema, computed_field

from services.money import to_rupees
from services.settings import MAX_CALL_MINUTES

# Out: a Decimal with 2 places becomes a JSON number (its float has the same shortest text, so it is exact).
Rupees = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json"),
                   WithJsonSchema({"type": "number", "description": "Rupees, at most 2 decimal places"})]
Paise = Annotated[int, Field(description="Exact amount in paise (1 rupee = 100 paise)")]


def _rupee_twin(paise_field: str, optional: bool):
    def rupees(self) -> Decimal | None:
        paise = getattr(self, paise_field)
        return None if paise is None else to_rupees(paise)
    return computed_field(property(rupees), return_type=Rupees | None if optional else Rupees,
                          description=f"`{paise_field}` in rupees (a JSON number, at most 2 decimals)")


class MoneyOut(BaseModel):
    """A response whose `x_paise` fields each gain a read-only rupee twin `x` (also in the schema)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Runs inside class creation, before pydantic collects computed fields: the twins become real
        # fields of the model and of its OpenAPI schema, not a rewrite of the JSON behind the schema's back.
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if name.endswith("_paise"):
                setattr(cls, name[:-len("_paise")], _rupee_twin(name, type(None) in get_args(annotation)))


def _number_or_text(v):
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal, str)):
        raise ValueError("must be an amount in rupees: a number like 100 or 99.50, or a string")
    if isinstance(v, str) and len(v) > 40:
        raise ValueError("must be at most 40 characters")
    return v


# In: passed untouched to services.money.parse_rupees, which owns every rule about amounts.
AmountIn = Annotated[Any, BeforeValidator(_number_or_text),
                     WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01},
                                               {"type": "string", "maxLength": 40}],
                                     "description": "Rupees: 100, 99.5 or \"99.50\" (at most 2 decimals)"})]


class Strict(BaseModel):
    """Every request body: unknown fields refused, and no coercion: `true` is not the whole number 1 (it
    billed a 1-second call), `"5"` and `5.0` are not 5."""
    model_config = ConfigDict(extra="forbid", strict=True)


# ------------------------------------------------------------------------------------------- auth

class SignupIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"username": "priya_k", "password": "a-long-secret", "name": "Priya K", "email": "priya@example.com"}]})
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    name: str = Field(max_length=200)
    email: str = Field(max_length=300)


class LoginIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"username": "priya_k", "password": "a-long-secret"}]})
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class TokenOut(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in_minutes: int


class MeOut(BaseModel):
    username: str
    name: str
    email: str
    role: Literal["user", "analyst", "admin"]


class OkOut(BaseModel):
    ok: bool


class PasswordChangeIn(Strict):
    """A user's own password change: every session and token of the account ends, and a new token comes back."""
    current_password: str = Field(max_length=200)
    new_password: str = Field(max_length=200)


# ------------------------------------------------------------------------------------ user admin

class AccountOut(BaseModel):
    username: str
    name: str
    email: str
    role: Literal["user", "analyst", "admin"]
    disabled: bool


class RoleIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "analyst"}]})
    role: Literal["user", "analyst", "admin"]


class PasswordIn(Strict):
    password: str = Field(max_length=200)


class LockedAddress(BaseModel):
    address: str
    failures: int
    wait_seconds: int


class LockedOut(BaseModel):
    """A username whose sign-ins are being held back now (services.tokens.locked)."""
    username: str
    failures: int = Field(description="Failures across addresses in the current window")
    guarded_until: datetime | None = Field(description="Until then, addresses it never signed in from wait "
                                                       "between attempts; null: not guarded")
    addresses: list[LockedAddress]


class UnlockOut(BaseModel):
    username: str
    cleared: int = Field(description="How many sign-in counts were removed")


# ----------------------------------------------------------------------------------------- wallet

class BalanceOut(MoneyOut):
    balance_paise: Paise
    held_paise: Paise
    available_paise: Paise
    low_balance: bool
    currency: Literal["INR"] = "INR"


# ---------------------------------------------------------------------------------------- payment

class AmountBody(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": 500}, {"amount": "99.50"}]})
    amount: AmountIn


class KeyOut(BaseModel):
    razorpay_key: str


class OrderOut(MoneyOut):
    order_id: str
    amount_paise: Paise
    currency: str = "INR"


class CreateOrderOut(BaseModel):
    order: OrderOut


class VerifyIn(Strict):
    razorpay_order_id: str = Field(max_length=100)
    razorpay_payment_id: str = Field(max_length=100)
    razorpay_signature: str = Field(max_length=200)
    amount: AmountIn | None = Field(None, description="Ignored for crediting: the order's own amount is what "
                                                      "is credited (a client's number proves nothing)")


class VerifyOut(MoneyOut):
    outcome: str
    amount_paise: Paise
    balance_paise: Paise


class LinkOut(MoneyOut):
    payment_link_id: str
    short_url: str | None = None
    status: str
    amount_paise: Paise | None = None


class LinkStatusOut(MoneyOut):
    payment_link_id: str
    status: str = Field(description="created | partially_paid | paid | expired | cancelled | ...")
    outcome: str | None = None
    amount_paise: Paise
    credited_paise: Paise = Field(description="Credited to the wallet from this link so far")
    credited_now_paise: Paise = Field(description="Credited by this very request (0 if already credited)")


class WebhookOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool = True


# ----------------------------------------------------------------------------------- transactions

class TransactionOut(MoneyOut):
    id: str
    seq: int = Field(description="The entry's number in this wallet: 1, 2, 3 ... (`cursor` counts in it)")
    type: Literal["credit", "debit"]
    category: str
    amount_paise: Paise
    balance_after_paise: Paise
    created_at: datetime
    source: str
    note: str
    meta: dict[str, Any] = {}


class TransactionsOut(BaseModel):
    transactions: list[TransactionOut]
    next_cursor: int | None


# ------------------------------------------------------------------------------------------ calls

class CallIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"to_number": "+919876543210", "kb_id": "kb_sales", "max_minutes": 5}]})
    to_number: str = Field(max_length=40)
    kb_id: str = Field(max_length=100)
    max_minutes: int | None = Field(None, ge=1, le=MAX_CALL_MINUTES)


class CallStartOut(MoneyOut):
    call_id: str
    status: str
    max_duration_seconds: int
    rate_paise: Paise = Field(description="Paise per minute")
    held_paise: Paise


class CallEndIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"duration_seconds": 180}]})
    duration_seconds: int = Field(ge=0, le=86_400)


class CallEndOut(MoneyOut):
    call_id: str
    status: str
    billed_seconds: int
    cost_paise: Paise
    balance_paise: Paise
    cut_off: bool = False


# ------------------------------------------------------------------------------------------ admin

class RateOut(MoneyOut):
    scope: str
    user_id: str | None = None
    rate_paise: Paise | None = Field(description="Paise per minute; null: the user's own rate was removed")
    previous_rate_paise: Paise | None = None
    by: str


class AdminCreditIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "priya_k", "amount": 100, "category": "refund", "reason": "Dropped call on 12 Jan"}]})
    user_id: str = Field(max_length=64)
    amount: AmountIn
    category: Literal["manual_credit", "promo_credit", "refund"]
    reason: str = Field(max_length=300)
    idempotency_key: str | None = Field(None, max_length=150)


class AdminCreditOut(MoneyOut):
    transaction: TransactionOut
    balance_paise: Paise


class LowBalanceUser(MoneyOut):
    username: str
    balance_paise: Paise
    available_paise: Paise


class Spender(MoneyOut):
    username: str
    spent_paise: Paise


class UserBalance(MoneyOut):
    username: str
    balance_paise: Paise


class FailedPaymentOut(MoneyOut):
    """One row of services.payments.failed_payments (what an admin needs to follow a payment up)."""
    id: Annotated[str, BeforeValidator(str)]
    kind: str
    at: datetime | None = None
    first_at: datetime | None = None
    count: int = 1
    source: str = ""
    reason: str = ""
    user_id: str | None = None
    payment_id: str | None = None
    payment_link_id: str | None = None
    reference_id: str | None = None
    amount_paise: Paise | None = None


class SummaryOut(MoneyOut):
    total_balance_paise: Paise
    total_held_paise: Paise
    users: int
    today_credits_paise: Paise
    today_debits_paise: Paise
    today_count: int
    low_balance_threshold_paise: Paise
    low_balance_count: int
    low_balance_users: list[LowBalanceUser]
    top_spenders: list[Spender]
    top_balances: list[UserBalance]
    period_days: int
    failed_payments: list[FailedPaymentOut]


class HealthOut(BaseModel):
    database: bool
    payment_mode: Literal["live", "test", "sandbox", "off"]
