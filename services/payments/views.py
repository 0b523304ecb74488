"""What the wallet page and the admin Payments page show, each in one call (pages stay thin)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from services import clock, settings, wallet
from services.payments import daily, gateway, records, refund_requests, refunds, selfserve
from services.payments.admin import failed_payments
from services.payments.refundable import Refundable


@dataclass(frozen=True)
class WalletPage:
    balance: wallet.Balance
    mode: str
    links: list = field(default_factory=list)       # records.public, newest first (last_failed included)
    refunds: list = field(default_factory=list)     # Razorpay refunds of the user's payments
    requests: list = field(default_factory=list)    # self-serve refund requests
    refundable: Refundable | None = None            # None while payments are off


def wallet_page(db, user_id: str, *, links: int = 20) -> WalletPage:
    mode = gateway.mode()
    return WalletPage(wallet.balance(db, user_id), mode, records.list_links(db, user_id, limit=links),
                      refunds.list_refunds(db, user_id, limit=20), refund_requests.list_requests(db, user_id, limit=20),
                      selfserve.refundable_for(db, user_id) if mode != "off" else None)


@dataclass(frozen=True)
class AdminPage:
    failed: list
    waiting: list             # refund requests waiting for approval
    requests: list            # recent refund requests
    refunds: list             # recent Razorpay refunds
    amounts_due: list         # ledger.Due rows
    reports: list             # daily reconciliations, newest first
    approval_required: bool


def admin_page(db, *, days: int = 7) -> AdminPage:
    return AdminPage(failed_payments(db, limit=100), refund_requests.list_requests(db, status=refund_requests.APPROVAL),
                     refund_requests.list_requests(db, limit=50), refunds.list_refunds(db, limit=50),
                     wallet.amounts_due(db), recent_reports(db, days),
                     bool(settings.get(db)["refund_approval_required"]))


def recent_reports(db, days: int = 7) -> list[dict]:
    """The daily reconciliations of the last `days` days that ran, newest first."""
    today = clock.today()
    out = [daily.reconciliation_report(db, today - timedelta(days=i)) for i in range(1, days + 1)]
    return [r for r in out if r]
