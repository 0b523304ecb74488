"""Request and response models of accounts, members, invitations and API keys (api/schemas.py has the rules:
`MoneyOut` twins every `x_paise` with rupees, `Strict` request bodies, `AmountIn` rupees in)."""
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import AmountIn, MoneyOut, Strict

MemberRole = Literal["owner", "finance", "developer", "viewer"]
Scope = Literal["calls", "wallet:read", "payments"]


class AccountOut(BaseModel):
    id: str
    name: str
    role: MemberRole | Literal["key"] = Field(description="Your role on it; `key` when an API key asks")
    scopes: list[Scope] = Field(default_factory=list, description="An API key's scopes (empty for a member)")


class AccountsOut(BaseModel):
    accounts: list[AccountOut]


class MemberOut(BaseModel):
    username: str
    name: str
    email: str
    role: MemberRole
    added_at: datetime | None = None
    added_by: str = ""


class MembersOut(BaseModel):
    members: list[MemberOut]


class MemberRoleIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "finance"}]})
    role: MemberRole


class InviteIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ravi@example.com", "role": "developer"}]})
    email: str = Field(max_length=300)
    role: MemberRole


class InvitationOut(BaseModel):
    id: str
    account: str
    account_name: str
    email: str
    role: MemberRole
    invited_by: str
    created_at: datetime
    expires_at: datetime
    status: Literal["pending", "accepting", "accepted", "revoked"]


class InvitationsOut(BaseModel):
    invitations: list[InvitationOut]


class AcceptIn(Strict):
    token: str = Field(max_length=300, description="The `invite` parameter of the e-mailed link")


class AcceptedOut(BaseModel):
    account: str
    name: str
    role: MemberRole


class AuditRowOut(BaseModel):
    at: datetime
    actor: str
    action: str
    target: str
    detail: str
    address: str


class AccountAuditOut(BaseModel):
    entries: list[AuditRowOut]


class KeyIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "voice-prod", "scopes": ["calls"], "daily_cap": 100, "max_concurrent_calls": 20}]})
    name: str = Field(max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=3)
    expires_at: datetime | None = Field(None, strict=False,  # ISO 8601 text: JSON has no date type
                                        description="When it stops working (ISO 8601; UTC without an offset)")
    daily_cap: AmountIn | None = Field(None, description="Rupees a day (IST) the key may spend or hold")
    monthly_cap: AmountIn | None = Field(None, description="Rupees a month (IST) the key may spend or hold")
    max_concurrent_calls: int | None = Field(None, ge=1, le=1000)


class RotateIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"overlap_minutes": 10}]})
    overlap_minutes: int = Field(ge=0, le=7 * 24 * 60, description="How long the old key keeps working")


class KeyOut(MoneyOut):
    id: str
    name: str
    prefix: str = Field(description="The visible start of the key, e.g. wk_live_3f9a0c1b2d4e")
    scopes: list[Scope]
    state: Literal["active", "expired", "revoked"]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_from: str
    daily_cap_paise: int | None
    monthly_cap_paise: int | None
    max_concurrent_calls: int | None
    spent_today_paise: int
    spent_month_paise: int
    held_paise: int
    open_calls: int


class NewKeyOut(KeyOut):
    secret: str = Field(description="The key itself, shown this once: send it as `Authorization: Bearer <key>`")


class KeysOut(BaseModel):
    keys: list[KeyOut]


class RotatedOut(BaseModel):
    new: NewKeyOut
    old: KeyOut
