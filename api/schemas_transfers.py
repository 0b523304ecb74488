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
