"""The signed-in customer's auto-recharge: its terms, state and next planned charge (GET), setting it up or
changing it, pausing and resuming (PUT), and turning it off (DELETE, which also cancels the mandate at
Razorpay). Rules live in services.autorecharge."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import DB, AutoRead, AutoWrite, ExactRoute
from api.schemas import AutoChargeOut, AutoRechargeIn, AutoRechargeOut, NextChargeOut
from services import autorecharge

router = APIRouter(prefix="/api/auto-recharge", tags=["auto_recharge"], route_class=ExactRoute)
_MANDATE = ("reason", "threshold_paise", "amount_paise", "monthly_cap_paise", "daily_cap_paise", "method",
            "frequency", "max_amount_paise", "afa_accepted", "authorisation_url", "token_status")


def _out(st: dict) -> AutoRechargeOut:
    m = st["mandate"] or {}
    nxt = st["next_charge"]
    return AutoRechargeOut(state=st["state"], label=st["label"], notice_hours=st["notice_hours"],
                           used_this_month_paise=st["used_this_month_paise"], used_today_paise=st["used_today_paise"],
                           next_charge=NextChargeOut(**nxt) if nxt else None,
                           charges=[AutoChargeOut.model_validate(c) for c in st["charges"]],
                           **{k: m.get(k) for k in _MANDATE if k in m})


@router.get("", response_model=AutoRechargeOut)
def get(acct: AutoRead, db: DB):
    """Your auto-recharge: its state, terms, what the caps have used, the next planned charge."""
    return _out(autorecharge.status(db, acct.account))


@router.put("", response_model=AutoRechargeOut)
def put(body: AutoRechargeIn, acct: AutoWrite, db: DB):
    """Set auto-recharge up, or change it. A new one is `pending` until you authorise the mandate at
    `authorisation_url`; bad input changes nothing."""
    uid = acct.account
    st = autorecharge.configure(db, uid, threshold=body.threshold, amount=body.amount, monthly_cap=body.monthly_cap,
                                daily_cap=body.daily_cap, method=body.method, accept_afa=body.accept_afa,
                                contact=body.contact)
    if body.paused is True:
        st = autorecharge.pause(db, uid)
    elif body.paused is False and st["state"] == "paused":
        st = autorecharge.resume(db, uid)
    return _out(st)


@router.delete("", response_model=AutoRechargeOut)
def delete(acct: AutoWrite, db: DB):
    """Turn auto-recharge off: no charge is made after this, and the mandate is cancelled at Razorpay."""
    return _out(autorecharge.cancel(db, acct.account))
