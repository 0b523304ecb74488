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
    twin = computed_field(return_type=Rupees | None if optional else Rupees,
                          description=f"`{paise_field}` in rupees (a JSON number, at most 2 decimals)")
    return twin(property(rupees))


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


class LotOut(MoneyOut):
    """One live lot: what a credit put into the wallet and what is left of it."""
    lot: int = Field(description="The `seq` of the credit that created it (0: the balance from before lots)")
    kind: Literal["paid", "promo", "manual", "refund_back", "bank", "adjustment", "unknown"]
    promotional: bool = Field(description="Free credit (promotional or manual): spent first by default, never "
                                          "refunded to a bank")
    amount_paise: Paise
    remaining_paise: Paise
    held_paise: Paise = Field(description="Reserved by calls or refunds in progress")
    expires_at: datetime | None
    priority: int = Field(description="Lower is spent first (with the burn order)")
    campaign: str
    voided: bool


class BalanceAtOut(MoneyOut):
    """The balance after every entry at or before `at`, from the ledger, and the lots as they stood."""
    at: datetime
    balance_paise: Paise
    entries: int = Field(description="How many of the wallet's entries were made by then")
    lots: list[LotOut]
    currency: Literal["INR"] = "INR"


class WalletLotsOut(MoneyOut):
    burn_rule: str = Field(description="The business's order of spending lots")
    burn_rule_label: str
    balance_paise: Paise
    lots: list[LotOut] = Field(description="Live lots, in the order they are spent")


# ---------------------------------------------------------------------------------------- payment

class AmountBody(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": 500}, {"amount": "99.50"}]})
    amount: AmountIn


class KeyOut(BaseModel):
    razorpay_key: str


class OrderOut(MoneyOut):
    order_id: str
    amount_paise: Paise = Field(description="What the wallet gets")
    charged_paise: Paise = Field(description="What the payer pays: the amount, plus GST in `exclusive` mode")
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


class FailedAttemptOut(BaseModel):
    """The last failed payment attempt on a link, in Razorpay's words (shown while the link is payable)."""
    payment_id: str | None = None
    error_code: str | None = None
    error_description: str | None = Field(None, description="Razorpay's reason, fit to show the payer")
    error_reason: str | None = None
    method: str | None = None
    at: datetime | None = None


class LinkStatusOut(MoneyOut):
    payment_link_id: str
    status: str = Field(description="created | partially_paid | review | paid | expired | cancelled | ...")
    outcome: str | None = None
    amount_paise: Paise
    credited_paise: Paise = Field(description="Credited to the wallet from this link so far")
    credited_now_paise: Paise = Field(description="Credited by this very request (0 if already credited)")
    short_url: str | None = None
    last_failed: FailedAttemptOut | None = Field(None, description="The last failed attempt and its reason, "
                                                                   "while the link can still be paid")
    cancelled_by: str | None = None


class CancelledLinkOut(MoneyOut):
    payment_link_id: str | None = None
    reference_id: str
    status: str
    amount_paise: Paise
    credited_paise: Paise
    cancelled_by: str | None = None


# ---------------------------------------------------------------------------------------- refunds

class RefundIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": 250}, {"amount": "99.50"}]})
    amount: AmountIn


class RefundPartOut(MoneyOut):
    payment_id: str
    amount_paise: Paise
    status: str = Field(description="new | sending | sent | failed")
    refund_id: str | None = None
    error: str | None = None


class RefundRequestOut(MoneyOut):
    """A self-serve refund request: held, then refunded at Razorpay part by part (newest payments first)."""
    request_id: str
    user_id: str
    status: str = Field(description="holding | approval | refunding | done | partly_done | failed | rejected")
    amount_paise: Paise
    refunded_paise: Paise = Field(description="Sent to Razorpay as refunds")
    parts: list[RefundPartOut]
    reason: str | None = None
    decided_by: str | None = None
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime | None = None


class RefundOut(MoneyOut):
    """A refund as Razorpay reports it, and what it did to the wallet."""
    refund_id: str
    payment_id: str
    status: str = Field(description="pending | processed | failed")
    outcome: str | None = None
    amount_paise: Paise
    debited_paise: Paise
    amount_due_paise: Paise = Field(description="What the wallet could not cover: owed, paid first from the "
                                                "next credits")
    returned_paise: Paise
    created_at: datetime
    updated_at: datetime | None = None


class RefundsOut(MoneyOut):
    requests: list[RefundRequestOut]
    refunds: list[RefundOut]
    amount_due_paise: Paise


class RefundSourceOut(MoneyOut):
    payment_id: str
    credited_paise: Paise
    left_paise: Paise
    paid_at: datetime | None = None


class RefundableOut(MoneyOut):
    refundable_paise: Paise = Field(description="What a refund request may ask for now")
    recharges_paise: Paise = Field(description="Recharges of the window not yet refunded (before spending)")
    available_paise: Paise
    amount_due_paise: Paise
    window_days: int
    payments: list[RefundSourceOut]


class RejectIn(Strict):
    reason: str = Field("", max_length=300)


class AmountDueOut(MoneyOut):
    username: str
    amount_due_paise: Paise
    balance_paise: Paise
    held_paise: Paise


class AmountsDueOut(MoneyOut):
    wallets: list[AmountDueOut]
    total_due_paise: Paise


class ReconciliationOut(BaseModel):
    """One day's reconciliation of Razorpay's captured payments with wallet credits."""
    model_config = ConfigDict(extra="allow")
    day: str
    status: str = Field(description="running | done | failed")
    payments_checked: int | None = None
    matched: int | None = None
    credits_checked: int | None = None
    refunds_checked: int | None = None
    unmatched_payments_count: int | None = None
    unmatched_credits_count: int | None = None
    unmatched_payments: list[dict[str, Any]] = []
    unmatched_credits: list[dict[str, Any]] = []
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class WebhookOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool = True


# ----------------------------------------------------------------------------------- transactions

class LotPartOut(MoneyOut):
    lot: int = Field(description="The lot drawn from: the `seq` of the credit that created it (0: money "
                                 "from before lots)")
    amount_paise: Paise


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
    lot_parts: list[LotPartOut] = Field([], description="A debit: the lots it drew from (they sum to the amount)")
    promo_paise: Paise | None = Field(None, description="A debit: the part paid from promotional or manual "
                                                        "credit (the rest was paid money)")
    expires_at: datetime | None = Field(None, description="A credit: when what is left of it expires")


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


class CallGrantOut(MoneyOut):
    """A call's authorisation as it stands (rolling: a slice at a time)."""
    call_id: str
    status: str
    rate_paise: Paise = Field(description="Paise per minute, fixed when the call started")
    plan: str = Field(description="The rate plan in force when the call started")
    held_paise: Paise = Field(description="Held for this call so far")
    authorized_seconds: int = Field(description="The call may run this long now; send an update before it runs "
                                                "out to be authorised the next slice")
    end_at_seconds: int | None = Field(None, description="Set once the money (or the daily spend limit) runs "
                                                         "out: the exact second the call must end")
    max_duration_seconds: int = Field(description="The longest this call may run: its maximum length, or "
                                                  "end_at_seconds once set")
    usage_seconds: int = Field(0, description="The largest usage reported so far")


class CallStartOut(CallGrantOut):
    pass


class CallUpdateIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"usage_seconds": 290}]})
    usage_seconds: int = Field(ge=0, le=86_400, description="Seconds talked so far")


Outcome = Literal["answered", "no-answer", "busy", "failed"]


class CallEndIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"duration_seconds": 180},
                                                              {"duration_seconds": 0, "outcome": "no-answer"}]})
    duration_seconds: int = Field(ge=0, le=86_400)
    outcome: Outcome = Field("answered", description="Only answered calls are billed for time; the others pay "
                                                     "the plan's attempt fee, if any")


class CallEndOut(MoneyOut):
    call_id: str
    status: str
    billed_seconds: int
    cost_paise: Paise
    balance_paise: Paise
    cut_off: bool = False
    outcome: Outcome = "answered"


# ------------------------------------------------------------------------------------------ rates

When = Annotated[datetime | None, Field(strict=False, description="When the change takes effect (ISO 8601; UTC "
                                                                  "if no offset); default now")]


class TariffOut(MoneyOut):
    plan: str
    rate_paise: Paise = Field(description="Paise per minute")
    initial_increment_seconds: int
    subsequent_increment_seconds: int
    min_billable_seconds: int
    attempt_fee_paise: Paise = Field(description="Charged for an unanswered, busy or failed attempt")
    description: str


class UpcomingOut(TariffOut):
    effective_at: datetime


class TermsOut(TariffOut):
    """A customer's price and limits now, and the changes ahead."""
    daily_cap_paise: Paise | None = Field(description="Daily spend limit; null: none")
    max_concurrent_calls: int = Field(description="Calls on the line at once; more answer 429")
    upcoming: list[UpcomingOut]


class PlanIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"rate": "8.50", "initial_increment_seconds": 30, "subsequent_increment_seconds": 6,
         "min_billable_seconds": 0, "attempt_fee": "0.50", "effective_at": "2031-12-05T12:00:00+05:30"}]})
    rate: AmountIn
    initial_increment_seconds: int = Field(1, ge=1, le=60)
    subsequent_increment_seconds: int = Field(1, ge=1, le=60)
    min_billable_seconds: int = Field(0, ge=0, le=3600)
    attempt_fee: AmountIn = 0
    effective_at: When = None


class PlanOut(TariffOut):
    effective_at: datetime | None = None


class CustomerTermsIn(Strict):
    """Only the fields sent change; null removes the customer's own value (plan: back to standard)."""
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"plan": "business", "daily_cap": 500, "max_concurrent_calls": 20}, {"rate": None}]})
    plan: str | None = Field(None, max_length=40)
    rate: AmountIn | None = None
    daily_cap: AmountIn | None = None
    max_concurrent_calls: int | None = Field(None, ge=1, le=1000)
    effective_at: When = None


# ------------------------------------------------------------------------------------------ admin

class RateOut(MoneyOut):
    scope: str
    user_id: str | None = None
    rate_paise: Paise | None = Field(description="Paise per minute; null: the user's own rate was removed")
    previous_rate_paise: Paise | None = None
    by: str
    effective_at: datetime | None = None


EXPIRY = ("Promotional or manual credit only: when what is left of it expires, to the minute: a date "
          "(23:59 that day) or a date and time (without an offset: the business zone, IST by default)")


class AdminCreditIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "priya_k", "amount": 100, "category": "refund", "reason": "Dropped call on 12 Jan"},
        {"user_id": "priya_k", "amount": 200, "category": "promo_credit", "reason": "Diwali offer",
         "expires_at": "2027-01-15T23:59:00+05:30", "campaign": "diwali-2026"}]})
    user_id: str = Field(max_length=64)
    amount: AmountIn
    category: Literal["manual_credit", "promo_credit", "refund"]
    reason: str = Field(max_length=300)
    idempotency_key: str | None = Field(None, max_length=150)
    expires_at: str | None = Field(None, max_length=40, description=EXPIRY)
    campaign: str | None = Field(None, max_length=32, description="Promotional or manual credit only: the "
                                                                  "campaign it belongs to (breakage report)")


class GrantBatchIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"csv": "username,amount\npriya_k,200\nravi,150\n", "category": "promo_credit",
         "reason": "Diwali offer", "expires_at": "2027-01-15", "campaign": "diwali-2026", "apply": False}]})
    csv: str = Field(max_length=500_000, description="`username,amount` and optionally `expires_at`, `campaign`, "
                                                     "`reason` columns; blank cells take the fields below")
    category: Literal["promo_credit", "manual_credit"] = "promo_credit"
    reason: str = Field("", max_length=300)
    expires_at: str | None = Field(None, max_length=40, description=EXPIRY)
    campaign: str | None = Field(None, max_length=32)
    apply: bool = Field(False, description="false: preview only (nothing written); true: credit every line "
                                           "that passes, each once (the same file again credits nothing new)")


class GrantLineOut(MoneyOut):
    line: int
    username: str
    amount_paise: Paise | None
    expires_at: datetime | None
    campaign: str
    problems: dict[str, str] = Field(description="Field -> what is wrong; empty when the line can be credited")
    entry_id: str | None = None
    error: str | None = None


class GrantBatchOut(MoneyOut):
    batch: str = Field(description="Named after the file's content: the same upload is the same batch")
    applied: bool
    lines: list[GrantLineOut]
    good: int
    total_paise: Paise


class VoidIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "priya_k", "lot": 12, "reason": "Offer withdrawn"}]})
    user_id: str = Field(max_length=64)
    lot: int = Field(ge=1, le=10**12, description="The lot (the `seq` of the grant's credit)")
    reason: str = Field(max_length=300)


class VoidOut(MoneyOut):
    user_id: str
    lot: int
    amount_paise: Paise = Field(description="The grant's remainder when voided")
    held_paise: Paise = Field(description="Of it, what calls in progress hold: they may still spend it; what "
                                          "they release leaves when they end")
    entry_id: str | None = Field(description="The `void` entry (None until the calls holding part of it end)")


class BreakageRow(MoneyOut):
    month: str
    campaign: str
    granted_paise: Paise
    spent_paise: Paise
    expired_paise: Paise
    voided_paise: Paise


class BreakageOut(MoneyOut):
    rows: list[BreakageRow]
    granted_paise: Paise
    spent_paise: Paise
    expired_paise: Paise
    voided_paise: Paise
    breakage_percent: float | None = Field(description="Expired and voided, of what was granted")


class BurnRuleIn(Strict):
    rule: Literal["promo_first", "soonest_expiry", "oldest_first"]


class BurnRuleOut(BaseModel):
    rule: str
    label: str
    rules: dict[str, str]


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


# ---------------------------------------------------------------------------------- notifications

class NotificationsIn(Strict):
    """What to change (a field left out stays as it is)."""
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"thresholds": [500, "100"], "runway_days": 2, "emails": ["finance@example.com", "ops@example.com"],
         "webhook_url": "https://example.com/wallet-hook"}]})
    thresholds: list[AmountIn] | None = Field(None, max_length=3, description="Your own alert lines in rupees "
                                                                              "(up to 3; [] removes them)")
    runway_days: int | None = Field(None, ge=0, le=60, description="Alert when fewer days than this are left "
                                                                  "at your recent spend (0: off)")
    emails: list[Annotated[str, Field(max_length=254)]] | None = Field(
        None, max_length=5, description="Where alert e-mails go ([]: no e-mail)")
    webhook_url: str | None = Field(None, max_length=500, description="Your endpoint (\"\" removes it)")


class ThresholdOut(MoneyOut):
    amount_paise: Paise
    source: Literal["platform", "yours"]


class NotificationsOut(BaseModel):
    thresholds: list[ThresholdOut]
    runway_days: int
    emails: list[str]
    emails_default: bool = Field(description="True: no addresses chosen, alerts go to the account's e-mail")
    webhook_url: str
    webhook_secret: str = Field(description="Signs each delivery: X-Wallet-Signature is sha256=HMAC-SHA256 "
                                            "of the raw body under this secret, in hex")


class WebhookTestOut(BaseModel):
    ok: bool
    status_code: int | None = None
    error: str | None = None
    event_id: str


class DeliveryOut(BaseModel):
    at: datetime
    event_id: str
    type: str
    url: str
    attempt: int
    ok: bool
    status_code: int | None = None
    error: str | None = None
    ms: int


class DeliveriesOut(BaseModel):
    deliveries: list[DeliveryOut]


class AlertOut(MoneyOut):
    id: str
    kind: Literal["threshold", "zero", "runway", "notice"]
    status: Literal["pending", "sent", "failed", "off"]
    threshold_paise: Paise
    balance_paise: Paise
    runway_days: int | None = None
    created_at: datetime
    event_id: str
    link_url: str | None = None
    link_amount_paise: Paise | None = None
    email_state: str
    webhook_state: str
    webhook_attempts: int
    webhook_last_error: str | None = None


class AlertsOut(BaseModel):
    alerts: list[AlertOut]


# -------------------------------------------------------------------------------------- documents

class ReceiptOut(MoneyOut):
    """A receipt, receipt voucher, refund voucher, tax invoice or credit note (immutable once issued)."""
    number: str = Field(description="Consecutive per series and financial year, e.g. RV/2627/000123")
    kind: Literal["receipt", "receipt_voucher", "refund_voucher", "tax_invoice", "credit_note", "invoice"] = Field(
        description="`invoice`: a recharge's tax invoice issued before receipt vouchers replaced them")
    title: str
    date: str = Field(description="The document's date (IST), YYYY-MM-DD: the payment's or refund's day, an "
                                  "invoice's or credit note's issue day")
    issued_at: datetime
    entry_id: str = Field(description="The ledger entry of the recharge or refund ('' for an invoice)")
    payment_id: str
    gst_mode: Literal["off", "inclusive", "exclusive"]
    refers_to: str | None = Field(None, description="A credit note: the document it reverses")
    credited_by: str | None = Field(None, description="The credit note that reverses this document, if any")
    taxable_paise: Paise
    cgst_paise: Paise
    sgst_paise: Paise
    igst_paise: Paise
    total_paise: Paise = Field(description="Taxable value + GST (+ round-off): what the payer paid, got back or "
                                           "was supplied")
    wallet_paise: Paise = Field(description="What the wallet was credited")
    pdf_url: str


class ReceiptsOut(BaseModel):
    receipts: list[ReceiptOut]


# ---------------------------------------------------------------------------------- auto-recharge

class AutoRechargeIn(Strict):
    """Set auto-recharge up (a new mandate, to authorise at `authorisation_url`) or change its terms."""
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"threshold": 100, "amount": 500, "monthly_cap": 2000, "daily_cap": 1000, "method": "upi",
         "contact": "9812345678"}]})
    threshold: AmountIn = Field(description="Top up when the balance is forecast to reach this (rupees)")
    amount: AmountIn = Field(description="Each top-up, in rupees (above Rs. 15,000 only with accept_afa)")
    monthly_cap: AmountIn = Field(description="At most this much of top-ups per calendar month (IST)")
    daily_cap: AmountIn | None = Field(None, description="At most this much per day (IST); null: none")
    method: Literal["upi", "card", "emandate"] = Field("upi", description="The mandate's payment method")
    accept_afa: bool = Field(False, description="You approve each top-up above Rs. 15,000 in your UPI app/bank")
    contact: str | None = Field(None, max_length=20, description="Your Indian mobile number; needed to set "
                                "auto-recharge up when none is on file (Razorpay requires one for the mandate)")
    paused: bool | None = Field(None, description="true pauses it, false resumes it; null leaves it")


class NextChargeOut(MoneyOut):
    state: Literal["planned", "notified", "debiting", "forecast"]
    amount_paise: Paise
    debit_at: datetime | None = Field(None, description="Not before this time (after the pre-debit notice)")
    attempt: int
    expected_in_seconds: int | None = Field(None, description="For a forecast: about when it will be planned "
                                                              "(null: no recent spending)")


class AutoChargeOut(MoneyOut):
    id: str
    attempt: int
    state: Literal["planned", "notified", "debiting", "credited", "failed", "skipped"]
    amount_paise: Paise
    credited_paise: Paise
    debit_at: datetime | None = None
    payment_id: str | None = None
    reason: str | None = None
    created_at: datetime
    concluded_at: datetime | None = None


class AutoRechargeOut(MoneyOut):
    state: Literal["off", "pending", "active", "paused", "cancelled", "rejected"]
    label: str
    reason: str | None = None
    threshold_paise: Paise | None = None
    amount_paise: Paise | None = None
    monthly_cap_paise: Paise | None = None
    daily_cap_paise: Paise | None = None
    method: str | None = None
    frequency: str | None = None
    max_amount_paise: Paise | None = Field(None, description="The mandate's ceiling per debit")
    afa_accepted: bool = False
    authorisation_url: str | None = Field(None, description="Where to authorise a pending mandate")
    token_status: str | None = None
    notice_hours: float = Field(description="Hours between the pre-debit notice and the debit")
    used_this_month_paise: Paise
    used_today_paise: Paise
    next_charge: NextChargeOut | None = None
    charges: list[AutoChargeOut]


# ------------------------------------------------------------------------------------------- GST

class BusinessIn(Strict):
    """Business details and GST settings: any subset, checked as a whole (GST on needs the legal name,
    address, state, a GSTIN of that state and a SAC)."""
    legal_name: str | None = Field(None, max_length=120)
    address: str | None = Field(None, max_length=300)
    gstin: str | None = Field(None, max_length=20)
    state_code: str | None = Field(None, max_length=2, description="GST state code, e.g. 29 (Karnataka)")
    sac: str | None = Field(None, max_length=8, description="One of `sac_candidates` (docs/documents.md)")
    gst_mode: Literal["off", "inclusive", "exclusive"] | None = None
    gst_rate_bp: int | None = Field(None, ge=0, le=4000, description="Basis points: 1800 = 18 %")
    signatory: str | None = Field(None, max_length=80)


class BusinessOut(BaseModel):
    legal_name: str
    address: str
    gstin: str
    state_code: str
    sac: str
    gst_mode: Literal["off", "inclusive", "exclusive"]
    gst_rate_bp: int
    signatory: str
    missing: list[str] = Field(description="Details a document needs and does not have yet")
    sac_candidates: dict[str, str]
