"""Razorpay's webhooks: verify the signature over the raw body, check the content is sane, store the event
(keyed by its event id) BEFORE acting on it, then act with no network call (Razorpay wants an answer
within seconds).

A request whose signature fails writes NOTHING to the database (anyone can send those, as fast as they
like): it is counted in process memory and logged, and `ForgedWebhook` tells the caller whether the
client address should be slowed down. A signed event whose content is not sane (an amount of 2**63, a
float, a body that is not an event) is refused with InvalidPayment and recorded as "rejected".

An event that finds no record stays "unmatched" with its payload; the create path (`adopt_events`) and
reconciliation (`retry_stored`) act on it once the record is there, so it is never lost.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta

from services import clock
from services.db import insert_new
from services.errors import InvalidInput, InvalidPayment, NotFound, PaymentUnavailable
from services.payments import crediting, fixedqr, gateway, qrcodes, records, refunds, transfers
from services.payments.admin import suspicious_on
from services.payments.outcomes import DUPLICATE, IGNORED, OFF_MESSAGE, PROCESSED, REJECTED, UNMATCHED
from services.payments.records import valid_id
from services.payments.screening import ForgedWebhook, forged_count, insane, note_forged  # noqa: F401 (forged_count: public here too)

# Events that can credit or close a record; payment.failed and refund.* are recorded; the rest is ignored.
SETTLING = ("payment_link.paid", "payment_link.partially_paid", "payment_link.expired",
            "payment_link.cancelled", "payment.captured", "order.paid")

# A webhook that found no record is retried by reconcile this long (a record appears within seconds).
UNMATCHED_RETRY = timedelta(days=3)
# A "pending" event younger than this is most likely being handled right now.
STALE = timedelta(seconds=30)
_WAITING = ("pending", "unmatched")
_LINK_DESCRIPTION = re.compile(r"#[A-Za-z0-9]{14}")

# Who looks first at a mandate's event (a token's, or a payment made on a token): services.autorecharge,
# handed in by services.razorpay_events. (db, event name, entities) -> (status, outcome) when it dealt with
# the event, or None to let the payment paths go on. Without one, such an event waits for the router.
FirstLook = Callable[[object, str, dict], "tuple[str, str] | None"]


def handle_webhook(db, raw_body: bytes, signature: str | None, event_id: str | None, *,
                   client: str | None = None, first: FirstLook | None = None) -> dict:
    """A Razorpay webhook. Returns dict(status, event, event_id, ...), status processed | duplicate |
    ignored | unmatched. Raises ForgedWebhook (an InvalidPayment: nothing written) on a bad signature,
    InvalidPayment on a signed body that is not a sane event (recorded as rejected), PaymentUnavailable
    when no webhook secret is configured. `client`: the sender's address, for counting forgeries; `first`:
    who looks first at a mandate's event (services.razorpay_events routes them)."""
    cfg = gateway.settings()
    if not cfg.webhook_secret:
        raise PaymentUnavailable(OFF_MESSAGE)
    body = _as_bytes(raw_body)
    digest = hashlib.sha256(body).hexdigest()
    text = _verified_text(cfg, body, signature, client)
    if not valid_id(event_id):
        event_id = "body_" + digest[:40]  # redeliveries resend the same bytes
    payload = _event(db, text, digest, event_id)
    if not _store(db, event_id, payload):
        return {"status": DUPLICATE, "event": payload["event"], "event_id": event_id}
    return process_event(db, event_id, payload, first)


def _as_bytes(raw_body) -> bytes:
    if isinstance(raw_body, str):
        raw_body = raw_body.encode("utf-8")
    if not isinstance(raw_body, (bytes, bytearray)):
        raise InvalidInput("Webhook body must be bytes.")
    return bytes(raw_body)


def _verified_text(cfg, body: bytes, signature, client) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or not gateway.verify_webhook(cfg, text, signature):
        raise ForgedWebhook(client, note_forged(client))
    return text


def _event(db, text: str, digest: str, event_id: str) -> dict:
    """The signed body as an event, or InvalidPayment (recorded as rejected) when it is not a sane one."""
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        _reject(db, event_id, None, digest, "body is not a Razorpay event")
        raise InvalidPayment("Webhook body is not a Razorpay event.")
    bad = insane(payload)
    if bad:
        _reject(db, event_id, payload["event"], digest, bad)
        raise InvalidPayment(f"Webhook refused: {bad}.")
    return payload


def _reject(db, event_id: str, name, digest: str, reason: str) -> None:
    """A signed event refused for its content: recorded (once per event id), not its payload."""
    now = clock.now()
    insert_new(db.payment_events, {"_id": event_id, "kind": REJECTED, "status": REJECTED, "event": name,
                                   "reason": f"signed webhook refused: {reason}"[:300], "body_sha256": digest,
                                   "source": "webhook", "at": now, "received_at": now, "count": 1})


def _store(db, event_id: str, payload: dict) -> bool:
    """Store the event before acting. False: it was handled already (a redelivery)."""
    now = clock.now()
    doc = {"_id": event_id, "kind": "pending", "status": "received", "event": payload["event"],
           "payload": payload, "at": now, "received_at": now, "attempts": 0, **event_keys(payload)}
    if insert_new(db.payment_events, doc):
        return True
    old = db.payment_events.find_one({"_id": event_id}) or doc
    # Stored but not finished (unmatched, or a crash mid-way): acting again is safe.
    return old.get("kind") not in ("webhook", REJECTED)


def entities(payload: dict) -> dict:
    out = {}
    for kind, wrap in (payload.get("payload") or {}).items():
        if isinstance(wrap, dict) and isinstance(wrap.get("entity"), dict):
            out[kind] = wrap["entity"]
    return out


def event_keys(payload: dict) -> dict:
    ents = entities(payload)
    link, pay, order = ents.get("payment_link") or {}, ents.get("payment") or {}, ents.get("order") or {}
    notes = n if isinstance(n := pay.get("notes"), dict) else {}
    return {"payment_link_id": link.get("id") or _link_of(pay), "payment_id": pay.get("id"),
            "reference_id": link.get("reference_id") or notes.get("reference_id") or order.get("receipt"),
            "order_id": pay.get("order_id") or order.get("id") or link.get("order_id"),
            # a token.* event names nothing else (no customer, no order): its token id is what ties it
            "token_id": (ents.get("token") or {}).get("id") or pay.get("token_id")}


def _link_of(pay: dict) -> str | None:
    """A payment made on a payment link is described "#<link id without plink_>" by Razorpay (its
    published samples): the only tie of a bare payment.failed/captured to its link when notes are empty."""
    desc = pay.get("description")
    if isinstance(desc, str) and _LINK_DESCRIPTION.fullmatch(desc):
        return "plink_" + desc[1:]
    return None


# ------------------------------------------------------------------------------------------- act

def process_event(db, event_id: str, payload: dict, first: FirstLook | None = None) -> dict:
    """Act on a stored event (signed by Razorpay, so its entities are trusted for amounts)."""
    name = payload["event"]
    if for_mandates(payload):
        if first is None:  # stays pending: the router's next retry (the worker's) takes it
            return {"status": "pending", "event": name, "event_id": event_id, "outcome": "waits for its router",
                    "credited_paise": 0}
        done = first(db, name, entities(payload))
        if done is not None:
            return _conclude(db, event_id, name, *done)
    if name == "virtual_account.credited":
        return _transfer_event(db, event_id, payload)
    if name == "qr_code.credited":
        return _qr_event(db, event_id, payload)
    if name == "payment.failed":
        return _failed_payment(db, event_id, payload)
    if name.startswith("refund."):
        return _refund_event(db, event_id, payload)
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
    if pay is not None and crediting.is_captured(pay):
        return _payment_event(db, event_id, name, rec, pay)
    return _conclude(db, event_id, name, IGNORED, "no captured payment in the event")


def for_mandates(payload: dict) -> bool:
    """Token events, and payments made on a token: services.autorecharge looks at them first."""
    return payload["event"].startswith("token.") or bool((entities(payload).get("payment") or {}).get("token_id"))


def _failed_payment(db, event_id: str, payload: dict) -> dict:
    pay = entities(payload).get("payment") or {}
    rec = records.find(db, event_keys(payload))
    crediting.note_failed(db, rec, pay, source="webhook")
    records.note_event(db, rec, event_id, payload["event"], pay.get("id"))
    return _conclude(db, event_id, payload["event"], PROCESSED, "failed payment recorded")


def _transfer_event(db, event_id: str, payload: dict) -> dict:
    """A bank transfer into a customer's virtual account (Smart Collect)."""
    ents, name = entities(payload), payload["event"]
    if ents.get("payment") is None or ents.get("bank_transfer") is None:
        return _conclude(db, event_id, name, IGNORED, "no payment or bank transfer in the event")
    try:
        res = transfers.settle(db, ents["payment"], ents["bank_transfer"], source="webhook")
    except NotFound:
        return _conclude(db, event_id, name, UNMATCHED, "no customer has this virtual account (yet)")
    except InvalidPayment as exc:
        return _conclude(db, event_id, name, IGNORED, exc.message)
    return _conclude(db, event_id, name, PROCESSED, f"bank transfer {res['status']}", credited=res["credited_now"])


def _qr_event(db, event_id: str, payload: dict) -> dict:
    """A payment of one of our UPI QR codes: a customer's fixed one, or one for a chosen amount."""
    ents, name = entities(payload), payload["event"]
    if ents.get("payment") is None or ents.get("qr_code") is None:
        return _conclude(db, event_id, name, IGNORED, "no payment or QR code in the event")
    rail = fixedqr if fixedqr.by_qr(db, ents["qr_code"].get("id")) is not None else qrcodes
    try:
        res = rail.settle(db, ents["payment"], ents["qr_code"], source="webhook")
    except NotFound:
        return _conclude(db, event_id, name, UNMATCHED, "no UPI QR code of ours (yet)")
    except InvalidPayment as exc:
        return _conclude(db, event_id, name, IGNORED, exc.message)
    return _conclude(db, event_id, name, PROCESSED, f"UPI QR {res['status']}", credited=res["credited_now"])


def _refund_event(db, event_id: str, payload: dict) -> dict:
    ents = entities(payload)
    if ents.get("refund") is None:
        return _conclude(db, event_id, payload["event"], IGNORED, "no refund in the event")
    try:
        doc = refunds.record(db, ents["refund"], ents.get("payment"), source="webhook", event=payload["event"])
    except InvalidPayment as exc:
        return _conclude(db, event_id, payload["event"], IGNORED, exc.message)
    return _conclude(db, event_id, payload["event"], PROCESSED, f"refund {doc['status']}: {doc['outcome']}")


def _link_event(db, event_id: str, name: str, rec: dict, ents: dict, keys: dict) -> dict:
    link, pay = ents["payment_link"], ents.get("payment")
    if link.get("reference_id") != rec["reference_id"] or rec.get("payment_link_id") not in (None, link.get("id")):
        suspicious_on(db, rec, "webhook link does not match our record", source="webhook",
                      payment_link_id=link.get("id"), payment_id=keys["payment_id"])
        return _conclude(db, event_id, name, PROCESSED, "link mismatch recorded")
    extra = [pay] if pay and crediting.is_captured(pay) else []
    res = crediting.settle_link(db, rec, link, source="webhook", extra_payments=extra)
    return _conclude(db, event_id, name, PROCESSED, res["summary"], credited=res["credited_now"])


def _payment_event(db, event_id: str, name: str, rec: dict, pay: dict) -> dict:
    theirs = pay.get("order_id")
    if rec.get("order_id") and theirs and theirs != rec["order_id"] and \
            (pay.get("notes") or {}).get("reference_id") != rec["_id"]:
        return _conclude(db, event_id, name, UNMATCHED, "payment's order is not ours")
    result = crediting.settle_payment(db, rec, pay, source="webhook")
    outcome = "flagged for review" if result.flagged else ("credited" if result.new else "already credited")
    return _conclude(db, event_id, name, PROCESSED, outcome, credited=result.amount if result.new else 0)


def _conclude(db, event_id: str, name: str, status: str, outcome: str, credited: int = 0) -> dict:
    """Write how the event ended (an unmatched one stays retryable) and answer with it."""
    kind = UNMATCHED if status == UNMATCHED else "webhook"
    db.payment_events.update_one({"_id": event_id}, {
        "$set": {"kind": kind, "status": status, "outcome": outcome, "processed_at": clock.now()},
        "$inc": {"attempts": 1}})
    return {"status": status, "event": name, "event_id": event_id, "outcome": outcome, "credited_paise": credited}


# ----------------------------------------------------------------------------------- act again

def adopt_events(db, ref: str, plink: str | None = None, first: FirstLook | None = None) -> int:
    """Act on stored events that arrived before their record could be found (the race): the record is
    written first, then this reads the events; the webhook writes the event first, then reads the record;
    so one of the two always sees the other."""
    ors = [{"reference_id": ref}] + ([{"payment_link_id": plink}] if plink else [])
    events = list(db.payment_events.find({"kind": {"$in": list(_WAITING)}, "$or": ors}))
    for ev in events:
        process_event(db, ev["_id"], ev["payload"], first)
    return len(events)


def adopt_token_events(db, token_id: str, first: FirstLook | None = None) -> int:
    """Act on stored `token.*` events of a token whose mandate has just learnt its id (from the
    authorisation payment): they waited, unmatched, since Razorpay's token payloads name no customer."""
    events = [ev for ev in db.payment_events.find({"kind": {"$in": list(_WAITING)}, "token_id": token_id})
              if str(ev.get("event", "")).startswith("token.")]
    for ev in events:
        process_event(db, ev["_id"], ev["payload"], first)
    return len(events)


def retry_stored(db, first: FirstLook | None = None) -> int:
    """Act again on every unmatched event (for UNMATCHED_RETRY) and every pending one a crash left behind.
    Returns how many were retried."""
    now = clock.now()
    due = [ev for ev in db.payment_events.find({"kind": {"$in": list(_WAITING)}}) if _due(ev, now)]
    for ev in due:
        pid = ev.get("payment_id")
        if ev["kind"] == UNMATCHED and pid and crediting.in_ledger(db, pid):
            _conclude(db, ev["_id"], ev.get("event", ""), PROCESSED, "payment credited by another path")
        else:
            process_event(db, ev["_id"], ev["payload"], first)
    return len(due)


def _due(ev: dict, now) -> bool:
    received = clock.as_utc(ev.get("received_at") or ev["at"])
    if ev["kind"] == "pending":
        return received <= now - STALE
    return received >= now - UNMATCHED_RETRY  # older ones stay in the admin view, not polled for ever
