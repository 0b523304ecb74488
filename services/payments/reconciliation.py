"""Reconciliation: ask Razorpay about our open links and orders, credit what was captured, note what
failed, record refunds, close what is over, and retry stored webhooks and refunds that could not be
settled yet. "Check status" (`reconcile_link`) and the scheduled worker (`reconcile_open`) are the third
confirmation path, sufficient alone.

The worker's polling backs off per record with its age (records.POLL_STEPS: every 30 s at first, then
minutes, then hourly) and checks at most MAX_CHECKS_PER_RUN records per run, most overdue first, so a
thousand open links cost a bounded number of calls however many are open.
"""
from __future__ import annotations

from datetime import timedelta

from services import clock
from services.errors import NotFound, PaymentUnavailable
from services.payments import crediting, fixedqr, gateway, links, qrcodes, records, refunds, transfers, webhooks
from services.payments.admin import suspicious_on
from services.payments.outcomes import CHECK_LATER, MISMATCH, NEVER_CREATED, NOT_YET, order_settled
from services.payments.records import OPEN, to_int, valid_id

# A record whose create never reached Razorpay is closed after this (no request can still be in flight).
CREATE_GRACE = timedelta(minutes=15)
# Orders have no expiry at Razorpay; after this we stop polling an unpaid one.
ORDER_WINDOW = timedelta(days=2)
MAX_CHECKS_PER_RUN = 100


def reconcile_link(db, link_id: str, user_id: str | None = None) -> dict:
    """Ask Razorpay about one of our links (by reference_id or plink id) or orders, credit what was
    captured, close what is over. With `user_id`, only that user's own links (else NotFound).
    Returns dict(reference_id, payment_link_id, status, outcome, credited_paise[, order_id])."""
    rec = records.lookup(db, link_id, ("payment_link_id", "order_id")) if valid_id(link_id) else None
    if rec is None or (user_id is not None and rec["user_id"] != user_id):
        raise NotFound("No such payment link.")
    cfg = gateway.required()
    try:
        return reconcile(db, cfg, rec)
    except gateway.FAILURES as exc:
        records.note_error(db, rec["_id"], "reconcile: ", exc)
        raise PaymentUnavailable(CHECK_LATER) from None


def reconcile_open(db, *, due_only: bool = True, first: webhooks.FirstLook | None = None) -> dict:
    """Settle the open links/orders whose poll is due (all open ones with `due_only=False`) with Razorpay,
    and retry stored webhooks (`first`: as handle_webhook's) and refunds that could not be settled yet. For
    the scheduled worker: never raises for one bad link; counts it instead."""
    out = {"checked": 0, "credited": 0, "credited_paise": 0, "closed": 0, "errors": 0, "events_retried": 0,
           "refunds_retried": 0, "transfers_credited_paise": 0,
           "qr_credited_paise": 0, "fixed_qr_credited_paise": 0}
    cfg = gateway.settings()
    if cfg.mode != "off":
        recs = records.due_records(db, clock.now(), MAX_CHECKS_PER_RUN) if due_only else records.open_records(db)
        for rec in recs:
            _reconcile_counted(db, cfg, rec, out)
            records.checked_now(db, rec, clock.now())
        out["transfers_credited_paise"] = transfers.reconcile_accounts(db)["credited_paise"]
        out["qr_credited_paise"] = qrcodes.reconcile_open(db)
        out["fixed_qr_credited_paise"] = fixedqr.reconcile(db)["credited_paise"]
    out["events_retried"] = webhooks.retry_stored(db, first)
    out["refunds_retried"] = refunds.retry_waiting(db)
    return out


def _reconcile_counted(db, cfg, rec: dict, out: dict) -> None:
    out["checked"] += 1
    try:
        res = reconcile(db, cfg, rec)
    except gateway.FAILURES as exc:
        out["errors"] += 1
        records.note_error(db, rec["_id"], "reconcile: ", exc)
        return
    if res["credited_paise"]:
        out["credited"] += 1
        out["credited_paise"] += res["credited_paise"]
    if res["status"] not in OPEN:
        out["closed"] += 1


def reconcile(db, cfg, rec: dict) -> dict:
    """One record with Razorpay. Raises the gateway's FAILURES for the caller to count or report."""
    base = {"reference_id": rec["_id"], "payment_link_id": rec.get("payment_link_id"), "credited_paise": 0}
    if rec["kind"] == "order":
        return _reconcile_order(db, cfg, rec, base)
    return _reconcile_link(db, cfg, rec, base)


def _not_created(db, rec: dict, base: dict) -> dict:
    """Razorpay has no link/order with our reference: closed once no create can still be in flight."""
    if clock.now() - clock.as_utc(rec["created_at"]) > CREATE_GRACE:
        records.update(db, rec["_id"], status="not_created")
        return dict(base, status="not_created", outcome=NEVER_CREATED)
    return dict(base, status=records.fresh(db, rec["_id"])["status"], outcome=NOT_YET)


def look_at_payments(db, cfg, rec: dict, pays: list) -> None:
    """Payment entities of our record, whatever their state now: a failure the customer should see, and
    the refunds of a payment that was refunded (a refunded payment was captured: it is credited, then
    its refunds debit)."""
    for pay in pays:
        if not isinstance(pay, dict) or not valid_id(pay.get("id")):
            continue
        if pay.get("status") == "failed" and (rec.get("last_failed") or {}).get("payment_id") != pay["id"]:
            crediting.note_failed(db, rec, pay, source="reconcile")
        if to_int(pay.get("amount_refunded")) > 0:
            refunds.sync_payment(db, cfg, pay)


# ------------------------------------------------------------------------------------------- links

def _reconcile_link(db, cfg, rec: dict, base: dict) -> dict:
    ref = rec["_id"]
    if rec.get("payment_link_id") is None:  # the create's answer was lost: look it up by reference
        found = [x for x in gateway.list_payment_links(cfg, {"reference_id": ref}).get("payment_links") or []
                 if isinstance(x, dict) and x.get("reference_id") == ref]
        if not found:
            return _not_created(db, rec, base)
        links.check_link(found[0], rec)
        records.attach_link(db, rec, found[0])
        rec = records.fresh(db, ref)
    link = links.fetch_link(cfg, rec, rec["payment_link_id"])
    if link.get("reference_id") != ref or link.get("id") != rec["payment_link_id"]:
        suspicious_on(db, rec, "Razorpay returned a different link than asked", source="reconcile")
        return dict(base, status=rec["status"], outcome=MISMATCH)
    attempts = _attempts(cfg, link)
    res = crediting.settle_link(db, rec, link, source="reconcile",
                                extra_payments=[p for p in attempts if crediting.is_captured(p)])
    look_at_payments(db, cfg, records.fresh(db, ref), attempts)
    webhooks.adopt_events(db, ref, rec["payment_link_id"])
    return dict(base, payment_link_id=link["id"], status=res["status"], outcome=res["summary"],
                credited_paise=res["credited_now"])


def _attempts(cfg, link: dict) -> list:
    """Every payment made on the link (failed, refunded...), from its order: the link itself lists only
    captured ones. Asked only once someone tried to pay (the order exists) and while it is still open."""
    if not link.get("order_id") or link.get("status") not in ("created", "partially_paid"):
        return []
    return [p for p in gateway.list_order_payments(cfg, link["order_id"]).get("items") or []
            if isinstance(p, dict)]


# ------------------------------------------------------------------------------------------ orders

def _reconcile_order(db, cfg, rec: dict, base: dict) -> dict:
    ref = rec["_id"]
    if rec.get("order_id") is None:  # the create's answer was lost: look it up by receipt
        found = [o for o in gateway.list_orders(cfg, {"receipt": ref}).get("items") or []
                 if isinstance(o, dict) and o.get("receipt") == ref]
        if not found:
            return _not_created(db, rec, base)
        records.update(db, ref, {"order_id": found[0]["id"]}, status="created")
        rec = records.fresh(db, ref)
    pays = gateway.list_order_payments(cfg, rec["order_id"]).get("items") or []
    credited_now = crediting.settle_order(db, rec, pays, source="reconcile")
    rec = records.fresh(db, ref)
    look_at_payments(db, cfg, rec, [p for p in pays if isinstance(p, dict) and p.get("status") != "failed"])
    if not rec["credited"] and rec["status"] in OPEN and clock.now() - clock.as_utc(rec["created_at"]) > ORDER_WINDOW:
        records.update(db, ref, status="abandoned")
    return dict(base, status=records.fresh(db, ref)["status"], outcome=order_settled(len(rec["credited"])),
                credited_paise=credited_now, order_id=rec["order_id"])
