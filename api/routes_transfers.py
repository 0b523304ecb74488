"""Bank transfers to each account's own account number (Razorpay Smart Collect): the number, the payer
allow-list, and the admin's view and release of transfers held for a decision."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import DB, AdminUser, ExactRoute, Pay
from api.schemas_transfers import AllowedPayersIn, AllowedPayersOut, BankAccountOut, BankTransferOut, ReleasedOut
from services import payments
from services.payments import transfers

router = APIRouter(route_class=ExactRoute)
PaymentId = Annotated[str, Path(max_length=64, pattern=r"^pay_[A-Za-z0-9]{1,60}$")]


@router.get("/api/wallet/bank-account", response_model=BankAccountOut, tags=["wallet"])
def bank_account(acct: Pay, db: DB):
    """The account's own bank account number (made on first ask): a NEFT, RTGS or IMPS transfer to it
    tops up the wallet, the bank's reference (UTR) on the receipt."""
    return BankAccountOut.model_validate(payments.bank_account(db, acct.account))


@router.put("/api/wallet/bank-account/allowed-payers", response_model=AllowedPayersOut, tags=["wallet"])
def allowed_payers(body: AllowedPayersIn, acct: Pay, db: DB):
    """Only transfers from these bank accounts of yours are credited at once; others wait for an admin."""
    return AllowedPayersOut(accounts=payments.set_allowed_payers(db, acct.account, body.accounts))


@router.get("/api/admin/bank-transfers", response_model=list[BankTransferOut], tags=["admin"])
def held_transfers(_admin: AdminUser, db: DB):
    """Bank transfers waiting for an admin (below the minimum, above the bank-transfer maximum, or from a
    payer outside the customer's allow-list), and payments to customers' fixed UPI QR codes (mode "UPI QR",
    the RRN as bank reference) below the minimum, oldest first."""
    return [BankTransferOut(payment_id=d["_id"], **{k: d.get(k) for k in BankTransferOut.model_fields
                                                   if k != "payment_id"}) for d in transfers.held(db)]


@router.post("/api/admin/bank-transfers/{payment_id}/release", response_model=ReleasedOut, tags=["admin"])
def release_transfer(payment_id: PaymentId, admin: AdminUser, db: DB):
    """Credit a held transfer to its customer's wallet, once (409 if it is not held)."""
    out = transfers.release(db, payment_id, by=admin["username"])
    return ReleasedOut(payment_id=out["payment_id"], status=out["status"], credited_paise=out["credited_now"])
