"""A single-use UPI QR code for a chosen amount: scan and pay in any UPI app, the wallet credited once."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import DB, ExactRoute, Pay
from api.schemas import AmountBody
from api.schemas_transfers import UpiQrOut
from services import payments

router = APIRouter(route_class=ExactRoute)


@router.post("/api/wallet/upi-qr", response_model=UpiQrOut, tags=["wallet"])
def upi_qr(body: AmountBody, acct: Pay, db: DB):
    """A UPI QR for `amount` rupees (single use: it closes once paid, or 15 minutes from now)."""
    return payments.create_upi_qr(db, acct.account, body.amount)
