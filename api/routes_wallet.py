"""The account's wallet and call terms, and the admin's call-rate setting."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from api.deps import DB, AdminUser, Balance, ExactRoute, Terms
from api.schemas import BalanceAtOut, BalanceOut, LotOut, RateOut, TermsOut, WalletLotsOut
from services import ledger, rates, wallet
from services.errors import InvalidInput

router = APIRouter(prefix="/api/wallet", tags=["wallet"], route_class=ExactRoute)


@router.get("/balance", response_model=BalanceOut | BalanceAtOut)
def balance(acct: Balance, db: DB,
            at: str | None = Query(None, max_length=40, examples=["2026-11-30T23:59:59+05:30"],
                                   description="A past instant (ISO 8601; without an offset: the business zone): "
                                               "the balance after every entry at or before it, from the ledger, "
                                               "and the lots as they stood")):
    """The account's balance now (held and available too), or at a past instant with `at`."""
    if at is not None:
        t = _instant(at)
        past = wallet.balance_at(db, acct.account, t)
        return BalanceAtOut(at=t, balance_paise=past["balance"], entries=past["entries"],
                            lots=[lot_out(v) for v in past["lots"]])
    # the signed-in person's own account: their role is known (staff wallets never warn); else it is read
    b = wallet.balance(db, acct.account, **({"role": acct.person_role} if acct.person == acct.account else {}))
    return BalanceOut(balance_paise=b.balance, held_paise=b.held, available_paise=b.available, low_balance=b.low)


def _instant(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        t = None
    if t is None or not 1900 <= t.year < 3000:
        raise InvalidInput("`at` must be an ISO date and time like 2026-11-30T23:59:59+05:30.")
    return t


@router.get("/lots", response_model=WalletLotsOut)
def lots(acct: Balance, db: DB):
    """What is left of each credit in the account's wallet (recharges, promotional and manual credit) and
    when it expires, in the order its money is spent."""
    rule = wallet.burn_rule(db)
    views = wallet.lots(db, acct.account)
    return WalletLotsOut(burn_rule=rule, burn_rule_label=ledger.BURN_RULES[rule],
                         balance_paise=sum(v.remaining for v in views), lots=[lot_out(v) for v in views])


def lot_out(v: ledger.LotView) -> LotOut:
    return LotOut(lot=v.lot, kind=v.kind, promotional=v.promotional, amount_paise=v.amount,
                  remaining_paise=v.remaining, held_paise=v.held, expires_at=v.expires_at, priority=v.priority,
                  campaign=v.campaign, voided=v.voided)


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
