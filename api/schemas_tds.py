"""Request and response models of TDS: customers deducting it, Form 16A certificates, the quarter's report
(api/schemas.py has the rules: `MoneyOut` twins every `x_paise` with rupees, `Strict` request bodies)."""
from datetime import date

from pydantic import BaseModel, Field

from api.schemas import AmountIn, MoneyOut, Paise, Strict


class TdsCustomerIn(Strict):
    rate_bp: int | None = Field(description="TDS rate in basis points (200 = 2 %, section 194J); null: not deducting")


class TdsCustomerOut(BaseModel):
    user_id: str
    rate_bp: int | None


class CertificateIn(Strict):
    quarter: str = Field(max_length=10, examples=["2026-27 Q3"])
    certificate: str = Field(max_length=20, description="The certificate number printed on Form 16A")
    amount: AmountIn = Field(description="The TDS amount on the certificate, in rupees")
    pdf_base64: str = Field(max_length=3_000_000, description="The Form 16A PDF, base64 (at most 2 MB)")


class CertificateOut(MoneyOut):
    id: str
    user_id: str
    quarter: str
    certificate: str
    amount_paise: Paise
    status: str
    verified_by: str | None
    credited_paise: Paise


class TdsRow(MoneyOut):
    user_id: str
    quarter: str
    payments: int
    deducted_paise: Paise
    verified_paise: Paise
    outstanding_paise: Paise
    lapsed_paise: Paise = Field(description="Unclaimed after the cut-off: reported, never credited")
    claims_close: date
