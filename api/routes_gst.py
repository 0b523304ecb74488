"""Business details and GST settings (admins set them; admins and analysts read them), GSTR-1 of a month
as the GST offline tool's JSON and a CSV per section (admins and analysts), and a month's tax invoices on
demand (admins)."""
from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.deps import DB, AdminUser, ExactRoute, Reporter
from api.schemas import BusinessIn, BusinessOut
from services import documents

router = APIRouter(prefix="/api/admin", tags=["admin"], route_class=ExactRoute)

Month = Annotated[str, Path(max_length=7, pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM (a month in IST)")]
Section = Annotated[str, Path(max_length=10, pattern=r"^[a-z_0-9]+$", description="b2b, b2cs, cdnr, cdnur, at, "
                                                                                  "txpd, hsn or doc_issue")]
_RENAMED = {"state_code": "state"}  # the API's name -> the business detail's


def business_out(db) -> BusinessOut:
    b = documents.business.get(db)
    return BusinessOut(legal_name=b["legal_name"], address=b["address"], gstin=b["gstin"], state_code=b["state"],
                       sac=b["sac"], gst_mode=b["gst_mode"], gst_rate_bp=b["gst_rate_bp"], signatory=b["signatory"],
                       missing=documents.business.missing(db),
                       sac_candidates=dict(documents.business.SAC_CANDIDATES))


@router.get("/business", response_model=BusinessOut)
def get_business(_reader: Reporter, db: DB):
    """The business details and GST settings documents are issued with."""
    return business_out(db)


@router.put("/business", response_model=BusinessOut)
def put_business(body: BusinessIn, admin: AdminUser, db: DB):
    """Change business details (only the fields given), checked as a whole; recorded in the settings history."""
    values = {_RENAMED.get(k, k): v for k, v in body.model_dump(exclude_none=True).items()}
    documents.business.update(db, values, by=admin["username"])
    return business_out(db)


@router.get("/gst/gstr1/{month}.json", response_class=Response)
def gstr1_json(month: Month, _reader: Reporter, db: DB):
    """GSTR-1 of a month as the GST offline tool's JSON, from the documents dated in it."""
    body = json.dumps(documents.gstr1.build(db, month), indent=1)
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="gstr1-{month}.json"'})


@router.get("/gst/gstr1/{month}/{section}.csv", response_class=Response)
def gstr1_csv(month: Month, section: Section, _reader: Reporter, db: DB):
    """One section of a month's GSTR-1 as CSV."""
    body = documents.gstr1.section_csv(documents.gstr1.build(db, month), section)
    return Response(body, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="gstr1-{month}-{section}.csv"'})


@router.post("/gst/invoices/{month}")
def issue_invoices(month: Month, _admin: AdminUser, db: DB) -> dict:
    """Every customer's tax invoice for a closed month, issued now where missing (the worker does it on days
    1-5 of the next month)."""
    return documents.invoices.issue_month(db, month)
