"""Request and response models: the OpenAPI schema the API promises (and schemathesis checks).

Money goes out twice: rupees as a JSON number with at most 2 decimals (`balance`) and exact integer paise
(`balance_paise`). Money comes in as rupees (a number or a string), checked by services.money.parse_rupees.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from services.money import to_rupees


def rupees(paise: int) -> Decimal:
    return to_rupees(int(paise))


# Out: a Decimal with 2 places becomes a JSON number (its float has the same shortest text, so it is exact).
Rupees = Annotated[Decimal, PlainSerializer(lambda d: float(d), return_type=float, when_used="json"),
                   WithJsonSchema({"type": "number", "description": "Rupees, at most 2 decimal places"})]
Paise = Annotated[int, Field(description="Exact amount in paise (1 rupee = 100 paise)")]


def _number_or_text(v):
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal, str)):
        raise ValueError("must be an amount in rupees: a number like 100 or 99.50, or a string")
    return v


# In: passed untouched to services.money.parse_rupees, which owns every rule about amounts.
AmountIn = Annotated[Any, BeforeValidator(_number_or_text),
                     WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01},
                                               {"type": "string", "maxLength": 40}],
                                     "description": "Rupees: 100, 99.5 or \"99.50\" (at most 2 decimals)"})]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------- auth

class SignupIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"username": "priya_k", "password": "a-long-secret", "name": "Priya K", "email": "priya@example.com"}]})
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    name: str = Field(max_length=200)
    email: str = Field(max_length=300)


class LoginIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"username": "priya_k", "password": "a-long-secret"}]})
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


# ----------------------------------------------------------------------------------------- wallet

class BalanceOut(BaseModel):
    balance: Rupees
    balance_paise: Paise
    held_paise: Paise
    available: Rupees
    available_paise: Paise
    low_balance: bool
    currency: Literal["INR"] = "INR"


# ---------------------------------------------------------------------------------------- payment

class AmountBody(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": 500}, {"amount": "99.50"}]})
    amount: AmountIn


class KeyOut(BaseModel):
    razorpay_key: str


class OrderOut(BaseModel):
    order_id: str
    amount: Rupees
    amount_paise: Paise
    currency: str


class CreateOrderOut(BaseModel):
    order: OrderOut


class VerifyIn(Strict):
    razorpay_order_id: str = Field(max_length=100)
    razorpay_payment_id: str = Field(max_length=100)
    razorpay_signature: str = Field(max_length=200)
    amount: AmountIn | None = Field(None, description="Ignored for crediting: the order's own amount is what "
                                                      "is credited (a client's number proves nothing)")


class VerifyOut(BaseModel):
    outcome: str
    amount: Rupees
    amount_paise: Paise
    balance: Rupees
    balance_paise: Paise


class LinkOut(BaseModel):
    payment_link_id: str
    short_url: str | None = None
    status: str
    amount: Rupees | None = None
    amount_paise: Paise | None = None


class LinkStatusOut(BaseModel):
    payment_link_id: str
    status: str = Field(description="created | partially_paid | paid | expired | cancelled | ...")
    outcome: str | None = None
    amount: Rupees
    amount_paise: Paise
    credited: Rupees = Field(description="Credited to the wallet from this link so far")
    credited_paise: Paise
    credited_now_paise: Paise = Field(description="Credited by this very request (0 if already credited)")


class WebhookOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool = True


# ----------------------------------------------------------------------------------- transactions

class TransactionOut(BaseModel):
    id: str
    seq: int = Field(description="The entry's number in this wallet: 1, 2, 3 ... (`cursor` counts in it)")
    type: Literal["credit", "debit"]
    category: str
    amount: Rupees
    amount_paise: Paise
    balance_after: Rupees
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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"to_number": "+919876543210", "kb_id": "kb_sales", "max_minutes": 5}]})
    to_number: str = Field(max_length=40)
    kb_id: str = Field(max_length=100)
    max_minutes: int | None = Field(None, ge=1, le=240)


class CallStartOut(BaseModel):
    call_id: str
    status: str
    max_duration_seconds: int
    rate: Rupees = Field(description="Rupees per minute")
    rate_paise: Paise
    held: Rupees
    held_paise: Paise


class CallEndIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"duration_seconds": 180}]})
    duration_seconds: int = Field(ge=0, le=86_400)


class CallEndOut(BaseModel):
    call_id: str
    status: str
    billed_seconds: int
    cost: Rupees
    cost_paise: Paise
    balance: Rupees
    balance_paise: Paise
    cut_off: bool = False


# ------------------------------------------------------------------------------------------ admin

class RateOut(BaseModel):
    scope: str
    user_id: str | None = None
    rate: Rupees | None
    rate_paise: Paise | None
    previous_rate_paise: Paise | None = None
    by: str


class AdminCreditIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"user_id": "priya_k", "amount": 100, "category": "refund", "reason": "Dropped call on 12 Jan"}]})
    user_id: str = Field(max_length=64)
    amount: AmountIn
    category: Literal["manual_credit", "promo_credit", "refund"]
    reason: str = Field(max_length=300)
    idempotency_key: str | None = Field(None, max_length=150)


class AdminCreditOut(BaseModel):
    transaction: TransactionOut
    balance: Rupees
    balance_paise: Paise


class UserMoney(BaseModel):
    username: str
    balance: Rupees | None = None
    balance_paise: Paise | None = None
    available: Rupees | None = None
    available_paise: Paise | None = None
    spent: Rupees | None = None
    spent_paise: Paise | None = None


class SummaryOut(BaseModel):
    total_balance: Rupees
    total_balance_paise: Paise
    total_held: Rupees
    total_held_paise: Paise
    users: int
    today_credits: Rupees
    today_credits_paise: Paise
    today_debits: Rupees
    today_debits_paise: Paise
    today_count: int
    low_balance_threshold: Rupees
    low_balance_threshold_paise: Paise
    low_balance_count: int
    low_balance_users: list[UserMoney]
    top_spenders: list[UserMoney]
    top_balances: list[UserMoney]
    period_days: int
    failed_payments: list[dict[str, Any]]


class HealthOut(BaseModel):
    database: bool
    payment_mode: Literal["live", "test", "sandbox", "off"]
