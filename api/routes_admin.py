"""Admin credits (admin only) and the admin summary (admin and analyst: read-only, aggregated)."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header

from api.deps import ExactRoute, get_db, require_admin, require_reporting
from api.routes_transactions import transaction_out
from api.schemas import AdminCreditIn, AdminCreditOut, SummaryOut, UserMoney, rupees
from services import ledger, reports, wallet
from services.errors import InvalidInput

router = APIRouter(prefix="/api/admin", tags=["admin"], route_class=ExactRoute)


@router.post("/credit", response_model=AdminCreditOut)
def credit(body: AdminCreditIn, idempotency_key: str | None = Header(None, max_length=150),
           admin=Depends(require_admin), db=Depends(get_db)):
    """Credit a user's wallet with a reason (audited). A retried request with the same Idempotency-Key
    header (or `idempotency_key` field) credits once and returns the first result."""
    if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
        raise InvalidInput("The Idempotency-Key header and the idempotency_key field differ.")
    key = idempotency_key or body.idempotency_key or uuid.uuid4().hex
    entry = wallet.admin_credit(db, admin=admin["username"], user_id=body.user_id, amount=body.amount,
                                category=body.category, reason=body.reason, key=key)
    w = ledger.get_wallet(db, body.user_id)
    return AdminCreditOut(transaction=transaction_out(entry), balance=rupees(w.balance), balance_paise=w.balance)


def _money_row(row: dict) -> UserMoney:
    out = {"username": row["username"]}
    for k in ("balance", "available", "spent"):
        if row.get(f"{k}_paise") is not None:
            out[k] = rupees(row[f"{k}_paise"])
            out[f"{k}_paise"] = int(row[f"{k}_paise"])
    return UserMoney(**out)


def _plain(value):
    """Service rows made JSON-safe (ids and odd types as text); paise keys gain a rupee twin."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out[str(k)] = _plain(v)
            if str(k).endswith("_paise") and isinstance(v, int) and not isinstance(v, bool):
                out.setdefault(str(k)[:-6], float(rupees(v)))
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@router.get("/summary", response_model=SummaryOut, response_model_exclude_none=True)
def summary(_reader=Depends(require_reporting), db=Depends(get_db)):
    """Totals across all wallets: balance held, today's credits and debits, low-balance users, top
    spenders (30 days), failed payments. Read-only; admins and analysts."""
    s = reports.admin_summary(db)
    return SummaryOut(
        total_balance=rupees(s["total_balance_paise"]), total_balance_paise=s["total_balance_paise"],
        total_held=rupees(s["total_held_paise"]), total_held_paise=s["total_held_paise"], users=s["users"],
        today_credits=rupees(s["today_credits_paise"]), today_credits_paise=s["today_credits_paise"],
        today_debits=rupees(s["today_debits_paise"]), today_debits_paise=s["today_debits_paise"],
        today_count=s["today_count"], low_balance_threshold=rupees(s["low_balance_paise"]),
        low_balance_threshold_paise=s["low_balance_paise"], low_balance_count=s["low_balance_count"],
        low_balance_users=[_money_row(r) for r in s["low_balance_users"]],
        top_spenders=[_money_row(r) for r in s["top_spenders"]],
        top_balances=[_money_row(r) for r in s["top_balances"]], period_days=s["period_days"],
        failed_payments=[_plain(p) for p in s["failed_payments"]])
