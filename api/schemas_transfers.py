"""Request and response models of bank transfers to customers' own account numbers (Smart Collect)
(api/schemas.py has the rules: `MoneyOut` twins every `x_paise` with rupees, `Strict` request bodies)."""
from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas import MoneyOut, Paise, Strict


class BankAccountOut(BaseModel):
    """The account's own bank account number for NEFT/RTGS/IMPS top-ups (a Razorpay Smart Collect virtual
    account), and its UPI id."""
    virtual_account_id: str
    account_number: str
    ifsc: str
    name: str = Field(description="The beneficiary name to give your bank")
    upi_id: str | None


class AllowedPayersIn(Strict):
    accounts: list[str] = Field(max_length=10, description="Your bank account numbers a transfer may come from "
                                                           "(empty: any); transfers from others wait for an admin")


class AllowedPayersOut(BaseModel):
    accounts: list[str]


class BankTransferOut(MoneyOut):
    payment_id: str
    user_id: str
    amount_paise: Paise
    mode: str | None
    bank_reference: str = Field(description="The bank's reference (UTR)")
    payer_name: str
    payer_account: str
    status: str
    reason: str | None = Field(description="Why it waits for an admin")
    received_at: datetime | None


class ReleasedOut(MoneyOut):
    payment_id: str
    status: str
    credited_paise: Paise


class SettlementRow(MoneyOut):
    type: str | None = Field(description="payment | refund | transfer | adjustment, as Razorpay reports it")
    entity_id: str | None
    payment_id: str | None
    amount_paise: Paise
    fee_paise: Paise = Field(description="Razorpay's fee, GST included")
    tax_paise: Paise = Field(description="The GST on that fee")
    settlement_id: str | None
    settlement_utr: str | None
    method: str | None
    status: str = Field(description="matched | unmatched | mandate authorisation | held for an admin")
    user_id: str | None


class SettlementOut(MoneyOut):
    id: str
    utr: str | None
    amount_paise: Paise
    fees_paise: Paise
    tax_paise: Paise
    status: str | None


class SettlementDayOut(MoneyOut):
    day: str
    rows: list[SettlementRow]
    settlements: list[SettlementOut]
    fees_paise: Paise
    tax_paise: Paise
    unmatched: int
    reconciled_at: datetime


class UpiQrOut(MoneyOut):
    reference_id: str
    qr_code_id: str
    image_url: str | None = Field(description="The QR image to show the payer")
    amount_paise: Paise
    status: str
    close_by: datetime | None


class FixedUpiQrOut(MoneyOut):
    """The account's own UPI QR code: pay any amount from any UPI app, as often as you like."""
    qr_code_id: str
    image_url: str | None = Field(description="The QR image to show the payer")
    min_amount_paise: Paise = Field(description="The smallest payment credited at once (smaller ones wait for "
                                                "an admin)")
