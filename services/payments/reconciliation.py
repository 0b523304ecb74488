"""Reconciliation: ask Razorpay about our open links and orders, credit what was captured, close what is
over, and retry stored webhooks that found no record. "Check status" (`reconcile_link`) and the
scheduled worker (`reconcile_open`) are the third confirmation path, sufficient alone."""
from __future__ import annotations

from datetime import timedelta

from services import clock
from services.errors import NotFound, PaymentUnavailable
from services.payments import crediting, gateway, links, records, webhooks
from services.payments.admin import suspicious_on
from services.payments.outcomes import CHECK_LATER, MISMATCH, NEVER_CREATED, NOT_YET, order_settled
from services.payments.records import OPEN, valid_id

# A record whose create never reached Razorpay is closed after this (no request can still be in flight).
CREATE_GRACE = timedelta(minutes=15)
# Orders have no expiry at Razorpay; after this we stop polling an unpaid one.
ORDER_WINDOW = timedelta(days=2)


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


def reconcile_open(db) -> dict:
    """Settle every open link/order with Razorpay and retry stored webhooks that found no record.
    For the scheduled worker: never raises for one bad link; counts it instead."""
    out = {"checked": 0, "credited": 0, "credited_paise": 0, "closed": 0, "errors": 0, "events_retried": 0}
    cfg = gateway.settings()
    if cfg.mode != "off":
        for rec in records.open_records(db):
            _reconcile_counted(db, cfg, rec, out)
    out["events_retried"] = webhooks.retry_stored(db)
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
    return dict(base, status=records.get(db, rec["_id"])["status"], outcome=NOT_YET)


# ------------------------------------------------------------------------------------------- links

def _reconcile_link(db, cfg, rec: dict, base: dict) -> dict:
    ref = rec["_id"]
    if rec.get("payment_link_id") is None:  # the create's answer was lost: look it up by reference
        found = [x for x in gateway.call(cfg, "payment_link.all", {"reference_id": ref}).get("payment_links") or []
                 if isinstance(x, dict) and x.get("reference_id") == ref]
        if not found:
            return _not_created(db, rec, base)
        links.check_link(found[0], rec)
        records.attach_link(db, rec, found[0])
        rec = records.get(db, ref)
    link = gateway.call(cfg, "payment_link.fetch", rec["payment_link_id"])
    if link.get("reference_id") != ref or link.get("id") != rec["payment_link_id"]:
        suspicious_on(db, rec, "Razorpay returned a different link than asked", source="reconcile")
        return dict(base, status=rec["status"], outcome=MISMATCH)
    res = crediting.settle_link(db, rec, link, source="reconcile")
    webhooks.adopt_events(db, ref, rec["payment_link_id"])
    return dict(base, payment_link_id=link["id"], status=res["status"], outcome=res["summary"],
                credited_paise=res["credited_now"])


# ------------------------------------------------------------------------------------------ orders

def _reconcile_order(db, cfg, rec: dict, base: dict) -> dict:
    ref = rec["_id"]
    if rec.get("order_id") is None:  # the create's answer was lost: look it up by receipt
        found = [o for o in gateway.call(cfg, "order.all", {"receipt": ref}).get("items") or []
                 if isinstance(o, dict) and o.get("receipt") == ref]
        if not found:
            return _not_created(db, rec, base)
        records.update(db, ref, {"order_id": found[0]["id"]}, status="created")
        rec = records.get(db, ref)
    pays = gateway.call(cfg, "order.payments", rec["order_id"]).get("items") or []
    credited_now = crediting.settle_order(db, rec, pays, source="reconcile")
    rec = records.get(db, ref)
    if rec["credited"]:
        records.update(db, ref, status="paid")
    elif clock.now() - clock.as_utc(rec["created_at"]) > ORDER_WINDOW:
        records.update(db, ref, status="abandoned")
    return dict(base, status=records.get(db, ref)["status"], outcome=order_settled(len(rec["credited"])),
                credited_paise=credited_now, order_id=rec["order_id"])
