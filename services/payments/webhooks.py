"""Razorpay's webhooks: verify the signature over the raw body, store the event (keyed by its event id)
BEFORE acting on it, then act with no network call (Razorpay wants an answer within seconds).

An event that finds no record stays "unmatched" with its payload; the create path (`adopt_events`) and
reconciliation (`retry_stored`) act on it once the record is there, so it is never lost.
"""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from services import clock
from services.db import insert_new
from services.errors import InvalidInput, InvalidPayment, PaymentUnavailable
from services.payments import crediting, gateway, records
from services.payments.admin import failed, suspicious, suspicious_on
from services.payments.outcomes import DUPLICATE, IGNORED, OFF_MESSAGE, PROCESSED, UNMATCHED
from services.payments.records import to_int, valid_id

# Events that can credit or close a record; payment.failed is recorded; the rest is ignored.
SETTLING = ("payment_link.paid", "payment_link.partially_paid", "payment_link.expired",
            "payment_link.cancelled", "payment.captured", "order.paid")
# A webhook that found no record is retried by reconcile this long (a record appears within seconds).
UNMATCHED_RETRY = timedelta(days=3)
# A "pending" event younger than this is most likely being handled right now.
STALE = timedelta(seconds=30)
_WAITING = ("pending", "unmatched")


def handle_webhook(db, raw_body: bytes, signature: str | None, event_id: str | None) -> dict:
    """A Razorpay webhook. Returns dict(status, event, event_id, ...), status processed | duplicate |
    ignored | unmatched. Raises InvalidPayment on a bad signature/body (recorded), PaymentUnavailable
    when no webhook secret is configured."""
    cfg = gateway.settings()
    if not cfg.webhook_secret:
        raise PaymentUnavailable(OFF_MESSAGE)
    body = _as_bytes(raw_body)
    digest = hashlib.sha256(body).hexdigest()
    text = _verified_text(db, cfg, body, signature, event_id, digest)
    payload = _event(db, text, digest)
    if not valid_id(event_id):
        event_id = "body_" + digest[:40]  # redeliveries resend the same bytes
    if not _store(db, event_id, payload):
        return {"status": DUPLICATE, "event": payload["event"], "event_id": event_id}
    return process_event(db, event_id, payload)


def _as_bytes(raw_body) -> bytes:
    if isinstance(raw_body, str):
        raw_body = raw_body.encode("utf-8")
    if not isinstance(raw_body, (bytes, bytearray)):
        raise InvalidInput("Webhook body must be bytes.")
    return bytes(raw_body)


def _verified_text(db, cfg, body: bytes, signature, event_id, digest: str) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or not gateway.verify_webhook(cfg, text, signature):
        suspicious(db, "webhook signature does not match", source="webhook",
                   details={"event_id": str(event_id)[:64], "body_sha256": digest, "body": (text or "")[:500]})
        raise InvalidPayment("Webhook signature does not match.")
    return text


def _event(db, text: str, digest: str) -> dict:
    try:
        payload = json.loads(text)
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
            raise ValueError("not an event")
    except ValueError:
        suspicious(db, "signed webhook with an unreadable body", source="webhook", details={"body_sha256": digest})
        raise InvalidPayment("Webhook body is not a Razorpay event.") from None
    return payload


def _store(db, event_id: str, payload: dict) -> bool:
    """Store the event before acting. False: it was handled already (a redelivery)."""
    now = clock.now()
    doc = {"_id": event_id, "kind": "pending", "status": "received", "event": payload["event"],
           "payload": payload, "at": now, "received_at": now, "attempts": 0, **event_keys(payload)}
    if insert_new(db.payment_events, doc):
        return True
    old = db.payment_events.find_one({"_id": event_id}) or doc
    # Stored but not finished (unmatched, or a crash mid-way): acting again is safe.
    return old.get("kind") != "webhook"


def entities(payload: dict) -> dict:
    out = {}
    for kind, wrap in (payload.get("payload") or {}).items():
        if isinstance(wrap, dict) and isinstance(wrap.get("entity"), dict):
            out[kind] = wrap["entity"]
    return out


def event_keys(payload: dict) -> dict:
    ents = entities(payload)
    link, pay, order = ents.get("payment_link") or {}, ents.get("payment") or {}, ents.get("order") or {}
    notes = pay.get("notes") if isinstance(pay.get("notes"), dict) else {}
    return {"payment_link_id": link.get("id"), "payment_id": pay.get("id"),
            "reference_id": link.get("reference_id") or notes.get("reference_id") or order.get("receipt"),
            "order_id": pay.get("order_id") or order.get("id") or link.get("order_id")}


# ------------------------------------------------------------------------------------------- act

def process_event(db, event_id: str, payload: dict) -> dict:
    """Act on a stored event (signed by Razorpay, so its entities are trusted for amounts)."""
    name = payload["event"]
    if name == "payment.failed":
        return _failed_payment(db, event_id, payload)
    if name not in SETTLING:
        return _conclude(db, event_id, name, IGNORED, "event not used")
    keys = event_keys(payload)
    rec = records.find(db, keys)
    if rec is None:
        return _conclude(db, event_id, name, UNMATCHED, "no payment link or order on our side (yet)")
    records.note_event(db, rec, event_id, name, keys.get("payment_id"))
    ents = entities(payload)
    if ents.get("payment_link") is not None:
        return _link_event(db, event_id, name, rec, ents, keys)
    pay = ents.get("payment")
    if pay is not None and pay.get("status") == "captured":
        return _payment_event(db, event_id, name, rec, pay)
    return _conclude(db, event_id, name, IGNORED, "no captured payment in the event")


def _failed_payment(db, event_id: str, payload: dict) -> dict:
    pay = entities(payload).get("payment") or {}
    rec = records.find(db, event_keys(payload))
    failed(db, pay, rec, source="webhook")
    records.note_event(db, rec, event_id, payload["event"], pay.get("id"))
    return _conclude(db, event_id, payload["event"], PROCESSED, "failed payment recorded")


def _link_event(db, event_id: str, name: str, rec: dict, ents: dict, keys: dict) -> dict:
    link, pay = ents["payment_link"], ents.get("payment")
    if link.get("reference_id") != rec["reference_id"] or rec.get("payment_link_id") not in (None, link.get("id")):
        suspicious_on(db, rec, "webhook link does not match our record", source="webhook",
                      payment_link_id=link.get("id"), payment_id=keys["payment_id"])
        return _conclude(db, event_id, name, PROCESSED, "link mismatch recorded")
    extra = [pay] if pay and pay.get("status") == "captured" else []
    res = crediting.settle_link(db, rec, link, source="webhook", extra_payments=extra)
    return _conclude(db, event_id, name, PROCESSED, res["summary"], credited=res["credited_now"])


def _payment_event(db, event_id: str, name: str, rec: dict, pay: dict) -> dict:
    theirs = pay.get("order_id")
    if rec.get("order_id") and theirs and theirs != rec["order_id"] and \
            (pay.get("notes") or {}).get("reference_id") != rec["_id"]:
        return _conclude(db, event_id, name, UNMATCHED, "payment's order is not ours")
    new = crediting.settle_payment(db, rec, pay, source="webhook")
    return _conclude(db, event_id, name, PROCESSED, "credited" if new else "already credited",
                     credited=to_int(pay.get("amount")) if new else 0)


def _conclude(db, event_id: str, name: str, status: str, outcome: str, credited: int = 0) -> dict:
    """Write how the event ended (an unmatched one stays retryable) and answer with it."""
    kind = UNMATCHED if status == UNMATCHED else "webhook"
    db.payment_events.update_one({"_id": event_id}, {
        "$set": {"kind": kind, "status": status, "outcome": outcome, "processed_at": clock.now()},
        "$inc": {"attempts": 1}})
    return {"status": status, "event": name, "event_id": event_id, "outcome": outcome, "credited_paise": credited}


# ----------------------------------------------------------------------------------- act again

def adopt_events(db, ref: str, plink: str | None = None) -> int:
    """Act on stored events that arrived before their record could be found (the race): the record is
    written first, then this reads the events; the webhook writes the event first, then reads the record;
    so one of the two always sees the other."""
    ors = [{"reference_id": ref}] + ([{"payment_link_id": plink}] if plink else [])
    events = list(db.payment_events.find({"kind": {"$in": list(_WAITING)}, "$or": ors}))
    for ev in events:
        process_event(db, ev["_id"], ev["payload"])
    return len(events)


def retry_stored(db) -> int:
    """Act again on every unmatched event (for UNMATCHED_RETRY) and every pending one a crash left behind.
    Returns how many were retried."""
    now = clock.now()
    due = [ev for ev in db.payment_events.find({"kind": {"$in": list(_WAITING)}}) if _due(ev, now)]
    for ev in due:
        pid = ev.get("payment_id")
        if ev["kind"] == UNMATCHED and pid and crediting.in_ledger(db, pid):
            _conclude(db, ev["_id"], ev.get("event", ""), PROCESSED, "payment credited by another path")
        else:
            process_event(db, ev["_id"], ev["payload"])
    return len(due)


def _due(ev: dict, now) -> bool:
    received = clock.as_utc(ev.get("received_at") or ev["at"])
    if ev["kind"] == "pending":
        return received <= now - STALE
    return received >= now - UNMATCHED_RETRY  # older ones stay in the admin view, not polled for ever
