"""Admin credits (admin only) and the admin summary (admin and analyst: read-only, aggregated)."""
from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import DB, AdminUser, ExactRoute, IdempotencyKey, Reporter
from api.routes_transactions import transaction_out
from api.schemas import AdminCreditIn, AdminCreditOut, SummaryOut
from services import ledger, reports, wallet
from services.errors import InvalidInput

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
