"""Refunds: your own (Razorpay's refunds of your payments, your self-serve requests, the refundable part of
your wallet, a new request), and for admins the requests waiting for approval, the wallets with an amount
due and the daily reconciliation report. Every rule lives in services.payments; this moves JSON."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import DB, AdminUser, ExactRoute, IdempotencyKey, RefundsAsk, RefundsRead
from api.schemas import (AmountsDueOut, ReconciliationOut, RefundableOut, RefundIn, RefundRequestOut, RefundsOut,
                         RejectIn)
from services import clock, ledger, payments, wallet
from services.errors import InvalidInput, NotFound



class SharedPathRoute(ExactRoute):
    """GET and POST /api/refunds are two routes on one path: a 405 names every method of the path in
    `Allow` (Starlette would name only the first route's)."""

    async def handle(self, scope, receive, send):
        if self.methods and scope["method"] not in self.methods and "app" in scope:
            allowed = sorted({m for r in scope["app"].routes if getattr(r, "path", None) == self.path
                              for m in getattr(r, "methods", None) or ()})
            raise HTTPException(status_code=405, headers={"Allow": ", ".join(allowed)})
        await super().handle(scope, receive, send)


router = APIRouter(route_class=SharedPathRoute)

RequestId = Annotated[str, Path(max_length=40, pattern=r"^rq_[0-9a-f]{24}$")]
StatusFilter = Annotated[str | None, Query(pattern=r"^(holding|approval|refunding|done|partly_done|failed|"
                                                   r"rejected)$")]


@router.get("/api/refunds", response_model=RefundsOut, tags=["refunds"])
def mine(acct: RefundsRead, db: DB):
    """Your refund requests and Razorpay's refunds of your payments (newest first), and your amount due."""
    uid = acct.account
    return RefundsOut(requests=payments.list_refund_requests(db, uid, limit=50),
                      refunds=payments.list_refunds(db, uid, limit=50),
                      amount_due_paise=ledger.get_wallet(db, uid).due)


@router.post("/api/refunds", response_model=RefundRequestOut, tags=["refunds"])
def request(body: RefundIn, acct: RefundsAsk, db: DB, idempotency_key: IdempotencyKey = None):
    """Refund `amount` rupees of your refundable balance to the payments it came from (newest first).
    The amount is held at once and debited when Razorpay confirms; with an Idempotency-Key header a retry
    answers the same request. `status` says where it is (approval: an admin decides first)."""
    key = idempotency_key or uuid.uuid4().hex
    return payments.request_refund(db, acct.account, body.amount, key=key)


@router.get("/api/refunds/refundable", response_model=RefundableOut, tags=["refunds"])
def refundable(acct: RefundsRead, db: DB):
    """How much you may have refunded now: paid recharges of the last 180 days, less what was refunded or
    spent (spending counts against promotional and manual credits first)."""
    plan = payments.refundable_for(db, acct.account)
    return RefundableOut(refundable_paise=plan.amount_paise, recharges_paise=plan.recharges_paise,
                         available_paise=plan.available_paise, amount_due_paise=plan.due_paise,
                         window_days=plan.window_days,
                         payments=[{"payment_id": s.payment_id, "credited_paise": s.credited_paise,
                                    "left_paise": s.left_paise, "paid_at": s.paid_at} for s in plan.sources])


@router.get("/api/admin/refund-requests", response_model=list[RefundRequestOut], tags=["admin"])
def refund_requests(_admin: AdminUser, db: DB, status: StatusFilter = None):
    """Everybody's refund requests, newest first (`status=approval`: those waiting for a decision)."""
    return payments.list_refund_requests(db, status=status, limit=200)


@router.post("/api/admin/refund-requests/{request_id}/approve", response_model=RefundRequestOut, tags=["admin"])
def approve_refund(request_id: RequestId, admin: AdminUser, db: DB):
    """Send a request waiting for approval to Razorpay (409 if it is not waiting)."""
    return payments.approve_refund_request(db, request_id, by=admin["username"])


@router.post("/api/admin/refund-requests/{request_id}/reject", response_model=RefundRequestOut, tags=["admin"])
def reject_refund(request_id: RequestId, admin: AdminUser, db: DB, body: RejectIn | None = None):
    """Refuse a request waiting for approval: its held amount is released (409 if it is not waiting)."""
    return payments.reject_refund_request(db, request_id, by=admin["username"], reason=body.reason if body else "")


@router.get("/api/admin/amounts-due", response_model=AmountsDueOut, tags=["admin"])
def amounts_due(_admin: AdminUser, db: DB):
    """Wallets that owe an amount due (a refund of money already spent), largest first."""
    rows = wallet.amounts_due(db)
    return AmountsDueOut(wallets=[{"username": d.user_id, "amount_due_paise": d.due, "balance_paise": d.balance,
                                   "held_paise": d.held} for d in rows], total_due_paise=sum(d.due for d in rows))


@router.get("/api/admin/reconciliation", response_model=ReconciliationOut, tags=["admin"])
def reconciliation(_admin: AdminUser, db: DB, day: date | None = None):
    """One day's reconciliation of Razorpay's captured payments with wallet credits (default: yesterday,
    UTC); 404 if that day was not reconciled yet (the worker does it an hour after the day ends)."""
    day = day or (clock.now() - timedelta(days=1)).date()
    if day.year < 2000:
        raise InvalidInput("Ask for a day since 2000.")
    report = payments.reconciliation_report(db, day)
    if report is None:
        raise NotFound(f"No reconciliation for {day.isoformat()} yet.")
    return report
