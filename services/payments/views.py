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
    refund_rows: list = field(default_factory=list)  # `refund_rows`: one plain status each
    latest: dict | None = None                      # `latest_outcome`: the payment just made


def wallet_page(db, user_id: str, *, links: int = 20) -> WalletPage:
    mode = gateway.mode()
    every = records.list_links(db, user_id, limit=500)  # one read: the list, and the recharges refunds went to
    refs, reqs = refunds.list_refunds(db, user_id, limit=20), refund_requests.list_requests(db, user_id, limit=20)
    return WalletPage(wallet.balance(db, user_id), mode, every[:links], refs, reqs,
                      selfserve.refundable_for(db, user_id) if mode != "off" else None,
                      refund_rows(reqs, refs, every), latest_outcome(every))


# The payment "just made": the customer's latest recharge, if it moved this recently. Razorpay sends the
# payer back with no word of a failure ("Back to the merchant"), so the page leads with this.
JUST_NOW = timedelta(minutes=30)
PAID, FAILED, PENDING, WAITING = "paid", "failed", "pending", "waiting"


def latest_outcome(links: list[dict], now=None) -> dict | None:
    """The outcome of the customer's latest recharge made by hand (not an auto-recharge top-up) when it
    was made or moved in the last JUST_NOW: `state` paid | failed (with Razorpay's `reason`) | pending
    (paid or tried, Razorpay's word not in yet) | waiting (not paid yet), with `charged_paise` (what the
    payer pays) and `amount_paise` (what reaches the wallet). None: nothing recent to report."""
    now = now or clock.now()
    mine = [ln for ln in links if ln.get("purpose", "recharge") == "recharge"]
    if not mine:
        return None
    ln = mine[0]  # newest first
    moved = max(t for t in (ln.get("updated_at"), ln.get("created_at"), (ln.get("last_failed") or {}).get("at"))
                if t is not None)
    if now - moved > JUST_NOW:
        return None
    status, failed = ln["status"], ln.get("last_failed")
    if status == "paid":
        state, reason = PAID, None
    elif failed:
        state, reason = FAILED, failed.get("error_description")
    elif status in ("attempted", "partially_paid", "review"):
        state, reason = PENDING, None
    elif status in ("created", "creating"):
        state, reason = WAITING, None
    else:  # expired, cancelled, not created: nothing was charged and nothing is under way
        return None
    return {"reference_id": ln["reference_id"], "state": state, "reason": reason, "status": status,
            "amount_paise": ln["amount_paise"], "charged_paise": ln["charged_paise"],
            "credited_paise": ln["credited_paise"], "short_url": ln.get("short_url"), "at": moved}


def refund_rows(requests: list[dict], refund_list: list[dict], links: list[dict]) -> list[dict]:
    """The customer's refunds as they read them: one row per request (and per refund made outside one),
    with ONE status (names.REFUND_REQUEST) that follows its refunds at Razorpay to the bank, what reached
    the bank or is on its way, and the recharges it went back to (`to`: amount, the recharge's amount and
    date)."""
    by_id = {r["refund_id"]: r for r in refund_list}
    paid_by = {pid: ln for ln in links for pid in (ln.get("payments") or {})}
    rows, used = [], set()
    for rq in requests:
        amounts = {"processed": 0, "pending": 0, "failed": 0}
        to = []
        for part in rq["parts"]:
            ref = by_id.get(part.get("refund_id") or "")
            used.add(part.get("refund_id"))
            if part["status"] == "sent":
                amounts[ref["status"] if ref else "pending"] += part["amount_paise"]
            to.append(_went_to(part["payment_id"], part["amount_paise"], paid_by))
        rows.append({"at": rq["created_at"], "amount_paise": rq["amount_paise"], "status": _request_state(rq, amounts),
                     "refunded_paise": amounts["processed"], "on_its_way_paise": amounts["pending"], "to": to,
                     "note": rq.get("reason") or rq.get("last_error") or ""})
    for ref in refund_list:  # refunds made at Razorpay by staff, not through a request
        if ref["refund_id"] in used or ref.get("auto_refund"):
            continue
        done = ref["status"] == "processed"
        rows.append({"at": ref["created_at"], "amount_paise": ref["amount_paise"],
                     "status": {"processed": "refunded", "pending": "on_its_way"}.get(ref["status"], "failed"),
                     "refunded_paise": ref["amount_paise"] if done else 0,
                     "on_its_way_paise": ref["amount_paise"] if ref["status"] == "pending" else 0,
                     "to": [_went_to(ref["payment_id"], ref["amount_paise"], paid_by)],
                     "note": "Part became an amount due" if ref.get("amount_due_paise") else ""})
    rows.sort(key=lambda r: r["at"], reverse=True)
    return rows


def _request_state(rq: dict, amounts: dict) -> str:
    """One status for a request: its own while open or refused; once sent, what its refunds did."""
    if rq["status"] not in (refund_requests.DONE, refund_requests.PARTLY_DONE):
        return rq["status"]
    if amounts["pending"]:
        return "on_its_way"
    if amounts["processed"] >= rq["amount_paise"]:
        return "refunded"
    return "partly_refunded" if amounts["processed"] else "failed"


def _went_to(payment_id: str, paise: int, paid_by: dict) -> dict:
    ln = paid_by.get(payment_id)
    return {"payment_id": payment_id, "amount_paise": paise,
            "recharge_paise": ln["charged_paise"] if ln else None, "paid_at": ln["created_at"] if ln else None}


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


def approvals(db) -> tuple[list[dict], bool]:
    """Refund requests waiting for an administrator's decision, and whether requests must wait at all."""
    return (refund_requests.list_requests(db, status=refund_requests.APPROVAL),
            bool(settings.get(db)["refund_approval_required"]))


def recent_reports(db, days: int = 7) -> list[dict]:
    """The daily reconciliations of the last `days` days that ran, newest first."""
    today = clock.today()
    out = [daily.reconciliation_report(db, today - timedelta(days=i)) for i in range(1, days + 1)]
    return [r for r in out if r]
