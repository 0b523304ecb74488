"""The account's receipts and GST invoices (PDF) and monthly statements (PDF, CSV).

A recharge's document is issued by the worker within a tick, and on demand here: listing the receipts
first issues any that a recent recharge still lacks.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.deps import DB, Documents, ExactRoute
from api.links import Responses
from api.schemas import ReceiptOut, ReceiptsOut
from services import documents

router = APIRouter(prefix="/api", tags=["documents"], route_class=ExactRoute)

Number = Annotated[str, Path(max_length=20, pattern=r"^[A-Z0-9]{1,4}-[0-9]{4}-[0-9]{6,7}$",
                             description="The document number with '-' for '/', e.g. RV-2627-000123")]
Month = Annotated[str, Path(max_length=7, pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM (a month in IST)")]
PDF: Responses = {200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
             "description": "A PDF file"}}
CSV: Responses = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, times in IST"}}


def receipt_out(d: dict) -> ReceiptOut:
    a = d["amounts"]
    return ReceiptOut(number=d["number"], kind=d["kind"], title=d["title"], date=d["date"], issued_at=d["issued_at"],
                      entry_id=d["entry_id"], payment_id=d.get("payment_id") or "", gst_mode=d["gst"]["mode"],
                      refers_to=d.get("refers_to"), credited_by=d.get("credited_by"), taxable_paise=a["taxable"],
                      cgst_paise=a["cgst"], sgst_paise=a["sgst"], igst_paise=a["igst"], total_paise=a["total"],
                      wallet_paise=a["wallet"], pdf_url=f"/api/receipts/{documents.slug(d['number'])}.pdf")


def _file(content: bytes | str, media: str, name: str) -> Response:
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/receipts", response_model=ReceiptsOut)
def receipts(acct: Documents, db: DB):
    """Your receipts, tax invoices and credit notes, newest first (a recent recharge's is issued now)."""
    documents.catch_up(db, acct.account)
    return ReceiptsOut(receipts=[receipt_out(d) for d in documents.list_documents(db, acct.account)])


@router.get("/receipts/{number}.pdf", response_class=Response, responses=PDF)
def receipt_pdf(number: Number, acct: Documents, db: DB):
    """One of your documents as PDF (another customer's is 404)."""
    doc = documents.get_document(db, number, user_id=acct.account)
    return _file(documents.document_pdf(doc), "application/pdf", f"{number}.pdf")


@router.get("/statements/{month}.pdf", response_class=Response, responses=PDF)
def statement_pdf(month: Month, acct: Documents, db: DB):
    """Your statement for a month (IST): opening balance, recharges, usage, refunds, closing balance."""
    st = documents.monthly(db, acct.account, month)
    return _file(documents.statement_pdf(st), "application/pdf", f"statement-{acct.account}-{month}.pdf")


@router.get("/statements/{month}.csv", response_class=Response, responses=CSV)
def statement_csv(month: Month, acct: Documents, db: DB):
    """The same statement as CSV (ISO-8601 times with the +05:30 offset, amounts in rupees)."""
    st = documents.monthly(db, acct.account, month)
    return _file(documents.statement_csv(st), "text/csv; charset=utf-8", f"statement-{acct.account}-{month}.csv")
