"""What Razorpay settled to the business's bank on a day: every payment and refund matched to its wallet
entry, Razorpay's fee and GST on it, each settlement's UTR and amount, anything unmatched; and its CSV."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.deps import DB, AdminUser, ExactRoute, Reporter
from api.schemas_transfers import SettlementDayOut
from services import payments
from services.errors import NotFound
from services.payments import settlements

router = APIRouter(prefix="/api/admin/settlements", tags=["admin"], route_class=ExactRoute)
Day = Annotated[str, Path(pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-12-06"])]


def _stored(db, day: str) -> dict:
    doc = payments.settlement_report(db, day)
    if doc is None:
        raise NotFound("That day's settlements are not reconciled yet.")
    return doc


@router.get("/{day}.csv", response_class=Response)
def settlement_csv(day: Day, _reader: Reporter, db: DB):
    """The same rows as CSV (paise)."""
    return Response(settlements.csv_text(_stored(db, day)), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="settlements-{day}.csv"'})


@router.get("/{day}", response_model=SettlementDayOut)
def settlement_day(day: Day, _reader: Reporter, db: DB):
    """The day's settlement reconciliation as the worker stored it."""
    return _stored(db, day)


@router.post("/{day}/reconcile", response_model=SettlementDayOut)
def reconcile_day(day: Day, _admin: AdminUser, db: DB):
    """Fetch the day's recon from Razorpay again and match it now."""
    return payments.reconcile_settlements(db, day)
