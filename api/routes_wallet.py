"""The account's wallet and call terms, and the admin's call-rate setting."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from api.deps import DB, AdminUser, Balance, ExactRoute, Terms
from api.schemas import BalanceOut, RateOut, TermsOut
from services import rates, wallet

router = APIRouter(prefix="/api/wallet", tags=["wallet"], route_class=ExactRoute)


@router.get("/balance", response_model=BalanceOut)
def balance(acct: Balance, db: DB):
    """The account's balance, what calls in progress hold, and what is available."""
    # the signed-in person's own account: their role is known (staff wallets never warn); else it is read
    b = wallet.balance(db, acct.account, **({"role": acct.person_role} if acct.person == acct.account else {}))
    return BalanceOut(balance_paise=b.balance, held_paise=b.held, available_paise=b.available, low_balance=b.low)


@router.get("/terms", response_model=TermsOut)
def terms(acct: Terms, db: DB):
    """Your call price (plan, rate, billing increments, attempt fee), your limits (daily spend cap,
    simultaneous calls) and the price changes ahead, each with the time it takes effect."""
    return TermsOut.model_validate(rates.customer_terms(db, acct.account))


@router.post("/set-call-rate", response_model=RateOut)
def set_call_rate(admin: AdminUser, db: DB,
                  rate: str | None = Query(None, max_length=40, examples=["15.0"],
                                           description="Rupees per minute, e.g. 15.0; omit with user_id to "
                                                       "remove that user's own rate"),
                  user_id: str | None = Query(None, max_length=64, description="Set a per-user rate"),
                  effective_at: datetime | None = Query(None, description="When it takes effect (ISO 8601, UTC "
                                                                          "if no offset); default now")):
    """Admin: the per-minute call rate, globally or for one user, from now or a chosen time (audited; a
    call keeps the rate of its start)."""
    rec = rates.set_call_rate(db, rate, by=admin["username"], user_id=user_id, at=effective_at)
    return RateOut(scope=rec["scope"], user_id=user_id, rate_paise=rec.get("new"),
                   previous_rate_paise=rec.get("old"), by=rec["by"], effective_at=rec["effective_at"])
