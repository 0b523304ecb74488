"""The signed-in user's wallet, and the admin's call-rate setting."""
from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import DB, AdminUser, CurrentUser, ExactRoute
from api.schemas import BalanceOut, RateOut
from services import settings, wallet

router = APIRouter(prefix="/api/wallet", tags=["wallet"], route_class=ExactRoute)


@router.get("/balance", response_model=BalanceOut)
def balance(user: CurrentUser, db: DB):
    b = wallet.balance(db, user["username"])
    return BalanceOut(balance_paise=b.balance, held_paise=b.held, available_paise=b.available, low_balance=b.low)


@router.post("/set-call-rate", response_model=RateOut)
def set_call_rate(admin: AdminUser, db: DB,
                  rate: str | None = Query(None, max_length=40, examples=["15.0"],
                                           description="Rupees per minute, e.g. 15.0; omit with user_id to "
                                                       "remove that user's own rate"),
                  user_id: str | None = Query(None, max_length=64, description="Set a per-user rate")):
    """Admin: the per-minute call rate, globally or for one user (recorded in the settings history)."""
    rec = settings.set_call_rate(db, rate, by=admin["username"], user_id=user_id)
    return RateOut(scope=rec["scope"], user_id=user_id, rate_paise=rec.get("new"),
                   previous_rate_paise=rec.get("old"), by=rec["by"])
