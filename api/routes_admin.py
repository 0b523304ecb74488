"""Admin credits, rate plans and customer terms (admin only) and the admin summary (admin and analyst:
read-only, aggregated)."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import DB, AdminUser, ExactRoute, IdempotencyKey, Reporter
from api.routes_transactions import transaction_out
from api.routes_wallet import lot_out
from api.schemas import (AdminCreditIn, AdminCreditOut, BreakageOut, BreakageRow, BurnRuleIn, BurnRuleOut,
                         CustomerTermsIn, GrantBatchIn, GrantBatchOut, GrantLineOut, LotOut, PlanIn, PlanOut,
                         SummaryOut, TermsOut, VoidIn, VoidOut)
from services import grants, ledger, rates, reports, users, wallet
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
                                category=body.category, reason=body.reason, key=key, expires_at=body.expires_at,
                                campaign=body.campaign or "")
    return AdminCreditOut(transaction=transaction_out(entry),
                          balance_paise=ledger.get_wallet(db, entry["user_id"]).balance)


@router.post("/credit/batch", response_model=GrantBatchOut)
def credit_batch(body: GrantBatchIn, admin: AdminUser, db: DB):
    """Promotional or manual credit to a list of customers from CSV: previewed (`apply: false`, nothing
    written: each line's problems), then applied (`apply: true`): every line that passes is credited once,
    audited; the same file again credits nothing new."""
    batch = grants.preview_csv(db, body.csv, category=body.category, reason=body.reason,
                               expires_at=body.expires_at, campaign=body.campaign or "")
    done = {r["line"]: r for r in grants.apply(db, batch, admin=admin["username"])} if body.apply else {}
    lines = [GrantLineOut(line=g.line, username=g.review.user_id, amount_paise=g.review.amount,
                          expires_at=g.review.expires_at, campaign=g.review.campaign,
                          problems={k: e.message for k, e in g.review.problems.items()},
                          entry_id=done.get(g.line, {}).get("entry_id"), error=done.get(g.line, {}).get("error"))
             for g in batch.lines]
    return GrantBatchOut(batch=batch.key, applied=body.apply, lines=lines, good=len(batch.good),
                         total_paise=batch.total)


@router.post("/credit/void", response_model=VoidOut)
def void_credit(body: VoidIn, admin: AdminUser, db: DB):
    """Void the unspent remainder of one grant (promotional or manual credit), with a reason (audited). What
    calls in progress hold of it leaves when they end."""
    users.get(db, body.user_id)  # NotFound for an unknown customer
    res = grants.void(db, admin=admin["username"], user_id=body.user_id, lot=body.lot, reason=body.reason)
    return VoidOut(user_id=body.user_id, lot=res["lot"], amount_paise=res["amount"], held_paise=res["held"],
                   entry_id=res["entry"]["_id"] if res["entry"] else None)


@router.get("/lots/{user_id}", response_model=list[LotOut])
def customer_lots(user_id: Annotated[str, Path(max_length=64)], admin: AdminUser, db: DB):
    """A customer's live lots, in the order they are spent (a grant's `lot` is what `/credit/void` takes)."""
    users.get(db, user_id)
    return [lot_out(v) for v in wallet.lots(db, user_id)]


@router.get("/breakage", response_model=BreakageOut)
def breakage(_reader: Reporter, db: DB,
             first: Annotated[str | None, Query(alias="from", max_length=7, description="First month, YYYY-MM "
                                                "(default: twelve months ago)")] = None,
             last: Annotated[str | None, Query(alias="to", max_length=7, description="Last month, YYYY-MM "
                                               "(default: this month)")] = None):
    """Free credit per business month and campaign: granted, spent, expired, voided. Admins and analysts."""
    start, end = grants.this_year()
    if first or last:
        start, end = grants.month_range(first or last or "", last or first)
    rows = reports.breakage(db, start, end)
    return BreakageOut(rows=[BreakageRow(**r) for r in rows], **grants.breakage_totals(rows))


@router.get("/burn-rule", response_model=BurnRuleOut)
def get_burn_rule(_reader: Reporter, db: DB):
    """The order in which debits and holds draw on a wallet's lots (one business setting)."""
    rule = wallet.burn_rule(db)
    return BurnRuleOut(rule=rule, label=ledger.BURN_RULES[rule], rules=dict(ledger.BURN_RULES))


@router.put("/burn-rule", response_model=BurnRuleOut)
def put_burn_rule(body: BurnRuleIn, admin: AdminUser, db: DB):
    """Switch the burn order for every later debit and hold (audited); never chosen per operation."""
    wallet.set_burn_rule(db, body.rule, by=admin["username"])
    return BurnRuleOut(rule=body.rule, label=ledger.BURN_RULES[body.rule], rules=dict(ledger.BURN_RULES))


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
