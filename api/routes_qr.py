"""UPI QR codes: a single-use one for a chosen amount, and the account's own fixed one (any amount, any number
of times); scan and pay in any UPI app, the wallet credited once per payment."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import DB, ExactRoute, Pay
from api.schemas import AmountBody
from api.schemas_transfers import FixedUpiQrOut, UpiQrOut
from services import payments

router = APIRouter(route_class=ExactRoute)


@router.post("/api/wallet/upi-qr", response_model=UpiQrOut, tags=["wallet"])
def upi_qr(body: AmountBody, acct: Pay, db: DB):
    """A UPI QR for `amount` rupees (single use: it closes once paid, or 15 minutes from now)."""
    return payments.create_upi_qr(db, acct.account, body.amount)


@router.get("/api/wallet/upi-qr", response_model=FixedUpiQrOut, tags=["wallet"])
def fixed_upi_qr(acct: Pay, db: DB):
    """The account's own UPI QR code (made on first ask): every payment to it tops up the wallet, once; one
    below the smallest recharge waits for an admin."""
    return payments.fixed_upi_qr(db, acct.account)
