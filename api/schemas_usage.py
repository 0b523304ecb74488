"""Request and response models of other services billed from the wallet: the catalogue, usage events, monthly
subscriptions (api/schemas.py has the rules: `MoneyOut` twins every `x_paise` with rupees, `Strict` bodies)."""
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import MoneyOut, Paise, Strict


class TierIn(Strict):
    after_units: int = Field(description="The units of a month past this many cost `price_paise`")
    price_paise: int = Field(description="Integer paise per `per_units` units, below the price before it")


class TierOut(MoneyOut):
    after_units: int
    price_paise: Paise


class ServiceIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"display_name": "SMS", "unit": "message", "price_paise": 25, "per_units": 1,
         "tiers": [{"after_units": 10000, "price_paise": 20}, {"after_units": 100000, "price_paise": 15}]},
        {"display_name": "Phone number", "unit": "number·month", "price_paise": 50000, "grace_days": 7},
        {"display_name": "SMS", "unit": "message", "price_paise": 30, "effective_at": "2027-01-01T00:00:00+05:30"}]})
    display_name: str = Field(max_length=80)
    unit: str = Field(max_length=40)
    price_paise: int = Field(description="Integer paise per `per_units` units (each event rounds up)")
    per_units: int | None = Field(None, description="Absent: as the service has it (a new service: 1)")
    grace_days: int | None = Field(None, description="A monthly fee unpaid this long suspends the subscription "
                                                     "(absent: as the service has it; a new service: 7)")
    tiers: list[TierIn] | None = Field(None, max_length=10, description=(
        "Volume tiers per business month (usage events), each below the price before it. Absent: as the service "
        "has them (a new service: none)"))
    effective_at: str | None = Field(None, max_length=40, description=(
        "ISO 8601 with its zone: the new price_paise, per_units and tiers take effect then (customers are told "
        "ahead); display_name, unit and grace_days must be the service's own. Absent: the whole definition, now"))


class ScheduledChangeOut(MoneyOut):
    id: str
    effective_at: datetime
    price_paise: Paise
    per_units: int
    tiers: list[TierOut] = []
    scheduled_by: str | None = None


class ServiceOut(MoneyOut):
    name: str
    display_name: str
    unit: str
    price_paise: Paise = Field(description="In effect now")
    per_units: int
    grace_days: int
    tiers: list[TierOut] = []
    scheduled: list[ScheduledChangeOut] = Field([], description="Price changes ahead, soonest first")


class ServicesOut(BaseModel):
    services: list[ServiceOut]


class UsageIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"service": "sms", "quantity": 1, "idempotency_key": "sms-20261207-0001",
         "occurred_at": "2026-12-07T10:15:00+05:30", "metadata": {"to": "+919876543210"}}]})
    service: str = Field(max_length=32)
    quantity: int
    idempotency_key: str = Field(max_length=150, description="A retry with the same key is billed once")
    occurred_at: str | None = Field(None, max_length=40, description="ISO 8601 with its zone")
    metadata: dict[str, Any] | None = None


class UsageOut(MoneyOut):
    entry_id: str
    service: str
    quantity: int
    amount_paise: Paise
    balance_after_paise: Paise
    created_at: datetime


class UsageBatchIn(Strict):
    events: list[UsageIn] = Field(min_length=1, max_length=1000)


class UsageError(BaseModel):
    status: int = Field(description="What the event alone would have answered: 402, 409, 400, 404")
    code: str
    message: str


class UsageResultOut(MoneyOut):
    index: int
    status: int = Field(description="200: billed (now or by an earlier delivery of the same key); else the error")
    entry_id: str | None = None
    amount_paise: Paise | None = None
    balance_after_paise: Paise | None = None
    error: UsageError | None = None


class UsageBatchOut(MoneyOut):
    billed: int
    refused: int
    amount_paise: Paise = Field(description="Billed by this response's events")
    results: list[UsageResultOut]


class SubscribeIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"service": "number", "quantity": 1,
                                                               "idempotency_key": "number-+918040001234"}]})
    service: str = Field(max_length=32)
    quantity: int = 1
    idempotency_key: str = Field(max_length=150)


class SubscriptionOut(BaseModel):
    id: str
    service: str
    quantity: int
    status: str = Field(description="active, suspended (a fee unpaid past its grace period) or ended")
    started_at: datetime
    ended_at: datetime | None = None
    paid_period: str | None = Field(None, description="The last month charged, YYYY-MM")
    next_charge: datetime | None = None


class SubscriptionsOut(BaseModel):
    subscriptions: list[SubscriptionOut]
