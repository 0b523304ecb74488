"""TDS deducted by customers (section 194J / 393): the admin marks who deducts it, the customer uploads each
quarter's Form 16A, the admin verifies it (the deducted part reaches the wallet, once), and the report per
customer and quarter for admins and analysts."""
from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import DB, AdminUser, ExactRoute, Pay, Reporter
from api.schemas_tds import CertificateIn, CertificateOut, TdsCustomerIn, TdsCustomerOut, TdsRow
from services import tds
from services.errors import InvalidInput
from services.money import parse_rupees

router = APIRouter(route_class=ExactRoute)
UserId = Annotated[str, Path(max_length=64)]
CertId = Annotated[str, Path(max_length=90)]


@router.put("/api/admin/tds/customers/{user_id}", response_model=TdsCustomerOut, tags=["admin"])
def set_customer(user_id: UserId, body: TdsCustomerIn, _admin: AdminUser, db: DB):
    """Mark a customer as deducting TDS (from now on each recharge records its TDS receivable)."""
    return tds.set_customer(db, user_id, body.rate_bp)


@router.post("/api/tds/certificates", response_model=CertificateOut, tags=["tds"])
def submit_certificate(body: CertificateIn, acct: Pay, db: DB):
    """Upload a quarter's Form 16A: an admin verifies it, then the TDS deducted that quarter reaches the wallet."""
    try:
        pdf = base64.b64decode(body.pdf_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("pdf_base64 is not base64.") from None
    paise = parse_rupees(body.amount, minimum=1, maximum=10**12, what="TDS amount")
    return tds.submit(db, acct.account, quarter=body.quarter, certificate=body.certificate, amount_paise=paise,
                      pdf=pdf)


@router.post("/api/admin/tds/certificates/{cert_id}/verify", response_model=CertificateOut, tags=["admin"])
def verify_certificate(cert_id: CertId, admin: AdminUser, db: DB):
    """The certificate checks out: its quarter's outstanding TDS, up to its amount, is credited once."""
    return tds.verify(db, cert_id, by=admin["username"])


@router.get("/api/admin/tds/report", response_model=list[TdsRow], tags=["admin"])
def report(_who: Reporter, db: DB):
    """Per customer and quarter: TDS deducted, verified (credited), outstanding, and lapsed after the cut-off."""
    return tds.report(db)
