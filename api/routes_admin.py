"""Admin credits, rate plans and customer terms (admin only) and the admin summary (admin and analyst:
read-only, aggregated)."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import DB, AdminUser, ExactRoute, IdempotencyKey, Reporter
from api.routes_transactions import transaction_out
from api.schemas import AdminCreditIn, AdminCreditOut, CustomerTermsIn, PlanIn, PlanOut, SummaryOut, TermsOut
from services import ledger, rates, reports, wallet
from services.errors import InvalidInput
from services.pricing import Tariff

router = APIRouter(prefix="/api/admin", tags=["admin"], route_class=ExactRoute)


@router.post("/credit", response_model=AdminCreditOut)
def credit(body: AdminCreditIn, admin: AdminUser, db: DB, idempotency_key: IdempotencyKey = None):
    """Credit a user's wallet with a reason (audited). A retried request with the same Idempotency-Key
    header (or `idempotency_key` field) credits once and returns the first result."""
    if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
        raise InvalidInput("The Idempotency-Key header and the idempotency_key field differ.")
    key = idempotency_key or body.idempotency_key or uuid.uuid4().hex
    entry = wallet.admin_credit(db, admin=admin["username"], user_id=body.user_id, amount=body.amount,
                                category=body.category, reason=body.reason, key=key)
    return AdminCreditOut(transaction=transaction_out(entry),
                          balance_paise=ledger.get_wallet(db, body.user_id).balance)


@router.get("/summary", response_model=SummaryOut)
def summary(_reader: Reporter, db: DB):
    """Totals across all wallets: balance held, today's credits and debits, low-balance users, top
    spenders (30 days), failed payments. Read-only; admins and analysts."""
    s = reports.admin_summary(db)
    return SummaryOut.model_validate(s | {"low_balance_threshold_paise": s["low_balance_paise"]})


@router.get("/plans", response_model=list[PlanOut])
def plans(admin: AdminUser, db: DB):
    """The rate plans in force now, `standard` (the global rate, per second) first."""
    return [PlanOut.model_validate(rates.as_dict(p["tariff"])) for p in rates.list_plans(db)]


PlanName = Annotated[str, Path(max_length=40, description="1-40 lowercase letters, digits, '_' or '-'")]


@router.put("/plans/{name}", response_model=PlanOut)
def define_plan(body: PlanIn, name: PlanName, admin: AdminUser, db: DB):
    """Create or change the rate plan `name` from now or `effective_at` (audited). Increments
    (initial/subsequent seconds) are one of 1/1, 6/6, 30/6, 30/30, 60/1, 60/60. Calls already started keep
    their terms."""
    rec = rates.define_plan(db, name, rate=body.rate, initial_seconds=body.initial_increment_seconds,
                            subsequent_seconds=body.subsequent_increment_seconds,
                            min_billable_seconds=body.min_billable_seconds, attempt_fee=body.attempt_fee,
                            by=admin["username"], at=body.effective_at)
    tariff = Tariff(plan=rec["name"], **rec["new"])
    return PlanOut.model_validate(rates.as_dict(tariff) | {"effective_at": rec["effective_at"]})


UserId = Annotated[str, Path(max_length=64)]


@router.post("/customers/{user_id}/terms", response_model=TermsOut)
def customer_terms(body: CustomerTermsIn, user_id: UserId, admin: AdminUser, db: DB):
    """Change a customer's plan, own rate (rupees per minute), daily spend limit (rupees) or simultaneous-call
    limit, from now or `effective_at` (audited). Only the fields sent change; null removes the customer's
    own value. Answers the customer's terms as they will see them."""
    changes = {k: getattr(body, k) for k in body.model_fields_set if k != "effective_at"}
    rates.set_customer_terms(db, user_id, changes, by=admin["username"], at=body.effective_at)
    return TermsOut.model_validate(rates.customer_terms(db, user_id))
