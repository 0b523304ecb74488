"""Wallet recharge through Razorpay Payment Links (and the older Orders/Checkout flow), credited once.

docs/payments.md has the argument. In short:
- our record (`payment_links`, `_id` = reference_id) is written BEFORE Razorpay is called, so every link
  Razorpay knows has a record here, and a failed create stays reconcilable by reference_id;
- three confirmation paths (callback redirect, webhook, reconciliation), each sufficient alone;
- every credit is `ledger.post(key="razorpay:<payment_id>")` with the user from OUR record and the amount
  Razorpay captured (fetched, or from a signed webhook), so any number of paths, repeats and races
  credit each payment exactly once;
- a webhook is stored (keyed by its event id) before it is processed; one that finds no record stays
  "unmatched" with its payload until the record appears (create path, reconcile), so it is never lost.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from datetime import timedelta


from services import clock, ledger, settings, users
from services import razorpay_client as rzp
from services.db import insert_new
from services.errors import BelowMinimum, Conflict, InvalidInput, InvalidPayment, NotFound, PaymentUnavailable
from services.money import format_rupees, parse_rupees

LINK_TTL = timedelta(hours=24)
MIN_EXPIRY = timedelta(minutes=16)  # Razorpay wants MORE than 15 minutes
# A record whose create never reached Razorpay is closed after this (no request can still be in flight).
CREATE_GRACE = timedelta(minutes=15)
# Orders have no expiry at Razorpay; after this we stop polling an unpaid one.
ORDER_WINDOW = timedelta(days=2)
EVENTS_KEPT = 50
# A webhook that found no record is retried by reconcile this long (a record appears within seconds).
UNMATCHED_RETRY = timedelta(days=3)

OPEN = ("creating", "error_creating", "created", "attempted", "partially_paid")
# Status only moves up this ladder, whichever path (and in whatever order) reports it.
_RANK = {"creating": 0, "error_creating": 0, "created": 1, "attempted": 1, "partially_paid": 2,
         "paid": 3, "expired": 3, "cancelled": 3, "not_created": 3, "abandoned": 3}
ADMIN_KINDS = ("failed", "suspicious", "unmatched")

OFF_MESSAGE = "Online recharge is not available right now (payments are not configured). Please contact support."
DOWN_MESSAGE = ("Online recharge is not available right now: the payment gateway did not answer. "
                "Nothing was charged; please try again in a few minutes.")
CONFIRM_LATER = ("We could not confirm this payment with Razorpay right now. If you paid, your wallet "
                 "will be credited automatically within a few minutes.")
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


# ------------------------------------------------------------------------------------------ config

def mode() -> str:
    """live | test | sandbox | off."""
    return rzp.config().mode


def razorpay_key() -> str:
    """The public key id (Checkout needs it for the orders flow); "" when payments are off."""
    cfg = rzp.config()
    return cfg.key_id if cfg.mode != "off" else ""


def _cfg() -> rzp.Config:
    cfg = rzp.config()
    if cfg.mode == "off":
        raise PaymentUnavailable(OFF_MESSAGE)
    return cfg


def _amount(db, amount) -> int:
    s = settings.get(db)
    try:
        return parse_rupees(amount, minimum=s["min_recharge_paise"], maximum=s["max_amount_paise"],
                            what="Recharge amount")
    except BelowMinimum:
        raise BelowMinimum(f"Recharge amount is below minimum: the smallest recharge is "
                           f"{format_rupees(s['min_recharge_paise'])}.") from None


def wallet_url() -> str:
    return (os.environ.get("WALLET_PUBLIC_URL") or "http://127.0.0.1:8501").rstrip("/") + "/wallet"


# ------------------------------------------------------------------------------------------ create

def create_payment_link(db, user_id: str, amount) -> dict:
    """Create a Razorpay Payment Link for a recharge of `amount` rupees. Returns
    dict(payment_link_id, short_url, status, amount_paise, reference_id).

    Raises InvalidAmount/BelowMinimum (nothing written anywhere), NotFound (no such user),
    PaymentUnavailable (payments off, or Razorpay failed: our record stays, reconcilable by reference).
    """
    cfg = _cfg()
    paise = _amount(db, amount)
    user = users.get(db, user_id)
    record = _link_record(user, paise, cfg.mode)
    ref = record["_id"]
    db.payment_links.insert_many([record])  # BEFORE Razorpay: no link can exist that we do not know
    body = _link_body(user, record)
    try:
        link = rzp.call(cfg, "payment_link.create", body)
        _check_link(link, record)
    except (rzp.RazorpayDown, rzp.RazorpayRefused) as exc:
        _set(db, ref, {"last_error": str(exc)[:300]}, status="error_creating")
        if isinstance(exc, rzp.RazorpayRefused):
            raise PaymentUnavailable(f"Online recharge is not available right now: Razorpay refused the "
                                     f"request ({str(exc)[:120]}). Nothing was charged.") from None
        raise PaymentUnavailable(DOWN_MESSAGE) from None
    _attach(db, record, link)
    _adopt_events(db, ref, link["id"])
    return {"payment_link_id": link["id"], "short_url": link["short_url"], "status": "created",
            "amount_paise": paise, "reference_id": ref}


def _link_record(user: dict, paise: int, mode_: str) -> dict:
    ref = "wr_" + secrets.token_hex(12)  # 27 chars; Razorpay allows 40
    now = clock.now()
    return {"_id": ref, "kind": "link", "reference_id": ref, "user_id": user["username"],
            "amount_paise": paise, "currency": "INR", "status": "creating", "payment_link_id": None,
            "short_url": None, "order_id": None, "expire_by": now + max(LINK_TTL, MIN_EXPIRY), "credited": {},
            "events": [], "last_error": None, "mode": mode_, "created_at": now, "updated_at": now}


def _link_body(user: dict, record: dict) -> dict:
    return {"amount": record["amount_paise"], "currency": "INR", "accept_partial": False,
            "reference_id": record["_id"], "description": f"Wallet recharge for {user['username']}",
            "customer": {"name": user["name"][:80], "email": user["email"]},
            "notify": {"sms": False, "email": False}, "reminder_enable": False,
            "notes": {"user_id": user["username"], "reference_id": record["_id"]},
            "callback_url": wallet_url(), "callback_method": "get",
            "expire_by": int(record["expire_by"].timestamp())}


def _check_link(link: dict, record: dict) -> None:
    """The link Razorpay returned must be the one we asked for; otherwise treat the answer as garbage."""
    if not (isinstance(link.get("id"), str) and link["id"].startswith("plink_")
            and link.get("reference_id") == record["reference_id"]
            and _int(link.get("amount")) == record["amount_paise"] and isinstance(link.get("short_url"), str)):
        raise rzp.RazorpayDown("payment link answer does not match the request")


def _attach(db, record: dict, link: dict) -> None:
    sets = {"payment_link_id": link["id"], "short_url": link.get("short_url"), "last_error": None}
    if link.get("order_id"):
        sets["order_id"] = link["order_id"]
    _set(db, record["_id"], sets, status="created")


# --------------------------------------------------------------------------------------- callback

def handle_callback(db, user_id: str, params: dict) -> dict:
    """The redirect back to the wallet page. Returns dict(outcome, message, amount_paise) with outcome
    "credited" | "already_credited" | "pending". Raises InvalidPayment (forged, unknown, another user's,
    closed link; recorded for admins) or PaymentUnavailable (payments off). Razorpay unreachable →
    outcome "pending" with a message saying it will be credited automatically (nothing credited now)."""
    cfg = _cfg()
    if not isinstance(params, dict):
        raise InvalidInput("Payment details are missing.")
    p = {k: (params.get(k) if isinstance(params.get(k), str) else None) for k in (
        "razorpay_payment_id", "razorpay_payment_link_id", "razorpay_payment_link_reference_id",
        "razorpay_payment_link_status", "razorpay_signature")}
    shown = {k: str(v)[:100] for k, v in params.items() if k != "razorpay_signature"}
    ids = dict(payment_id=p["razorpay_payment_id"], payment_link_id=p["razorpay_payment_link_id"],
               reference_id=p["razorpay_payment_link_reference_id"])

    def refuse(reason: str, message: str):
        _suspicious(db, reason, source="callback", user_id=user_id, details=shown, **ids)
        raise InvalidPayment(message)

    if any(v is None for v in p.values()):
        refuse("callback with missing parameters", "The payment details are incomplete.")
    if not rzp.verify_link_callback(cfg, p):
        refuse("callback signature does not match", "The payment confirmation is not valid.")
    ref, plink, pay_id = (p["razorpay_payment_link_reference_id"], p["razorpay_payment_link_id"],
                          p["razorpay_payment_id"])
    record = _record(db, ref) if _ID.match(ref) else None
    if record is None or record.get("kind") != "link":
        refuse("callback for an unknown payment link", "This payment link is not known here.")
    if record.get("payment_link_id") not in (None, plink):
        refuse("callback link id does not match our record", "The payment confirmation is not valid.")
    if record["user_id"] != user_id:
        refuse("callback replayed by another user (link belongs to %s)" % record["user_id"],
               "This payment belongs to a different account.")
    try:
        link = rzp.call(cfg, "payment_link.fetch", plink)
    except (rzp.RazorpayDown, rzp.RazorpayRefused) as exc:
        # The customer HAS paid: "pending" (not an error saying nothing was taken); webhook or reconcile
        # will credit it, and nothing is credited from the unverified redirect meanwhile.
        _set(db, ref, {"last_error": f"callback fetch: {exc}"[:300]})
        return {"outcome": "pending", "message": CONFIRM_LATER, "amount_paise": 0}
    if link.get("id") != plink or link.get("reference_id") != ref:
        refuse("Razorpay's link does not match the callback", "The payment confirmation is not valid.")
    result = _settle_link(db, record, link, source="callback", event=None)
    mine = result["payments"].get(pay_id)
    for k in ("amount", "razorpay_amount", "amount_paise"):
        if k in params and str(params[k]) != str(mine["amount"] if mine else ""):
            _suspicious(db, f"callback carried an amount ({str(params[k])[:20]}) that Razorpay did not "
                            f"capture; ignored", source="callback", user_id=user_id, details=shown, **ids)
    if mine is None:
        if link.get("status") in ("expired", "cancelled"):
            refuse(f"callback for a link that is {link['status']}, with no such payment",
                   f"This payment link is {link['status']}; nothing was credited.")
        _suspicious(db, "callback payment not captured on the link (yet)", source="callback",
                    user_id=user_id, details=shown, **ids)
        return {"outcome": "pending", "message": CONFIRM_LATER, "amount_paise": 0}
    amt = mine["amount"]
    if mine["new"]:
        return {"outcome": "credited", "amount_paise": amt,
                "message": f"Payment received: {format_rupees(amt)} added to your wallet."}
    return {"outcome": "already_credited", "amount_paise": amt,
            "message": f"This payment of {format_rupees(amt)} is already in your wallet."}


# ---------------------------------------------------------------------------------------- webhook

def handle_webhook(db, raw_body: bytes, signature: str | None, event_id: str | None) -> dict:
    """A Razorpay webhook. Verifies the signature over the raw body, stores the event (keyed by event id)
    BEFORE acting on it, then acts with no network call (it must answer fast). Returns dict(status,
    event, event_id, ...). Raises InvalidPayment on a bad signature/body (recorded), PaymentUnavailable
    when no webhook secret is configured."""
    cfg = rzp.config()
    if not cfg.webhook_secret:
        raise PaymentUnavailable(OFF_MESSAGE)
    if isinstance(raw_body, str):
        raw_body = raw_body.encode("utf-8")
    if not isinstance(raw_body, (bytes, bytearray)):
        raise InvalidInput("Webhook body must be bytes.")
    digest = hashlib.sha256(raw_body).hexdigest()
    try:
        text = bytes(raw_body).decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or not rzp.verify_webhook(cfg, text, signature):
        _suspicious(db, "webhook signature does not match", source="webhook",
                    details={"event_id": str(event_id)[:64], "body_sha256": digest, "body": (text or "")[:500]})
        raise InvalidPayment("Webhook signature does not match.")
    try:
        payload = json.loads(text)
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
            raise ValueError("not an event")
    except ValueError:
        _suspicious(db, "signed webhook with an unreadable body", source="webhook",
                    details={"body_sha256": digest})
        raise InvalidPayment("Webhook body is not a Razorpay event.")
    if not (isinstance(event_id, str) and _ID.match(event_id)):
        event_id = "body_" + digest[:40]  # redeliveries resend the same bytes
    keys = _event_keys(payload)
    now = clock.now()
    doc = {"_id": event_id, "kind": "pending", "status": "received", "event": payload["event"],
           "payload": payload, "at": now, "received_at": now, "attempts": 0, **keys}
    if not insert_new(db.payment_events, doc):
        old = db.payment_events.find_one({"_id": event_id}) or doc
        if old.get("kind") == "webhook":
            return {"status": "duplicate", "event": payload["event"], "event_id": event_id}
        # Stored but not finished (unmatched, or a crash mid-way): acting again is safe.
    return _process_event(db, event_id, payload)


def _event_keys(payload: dict) -> dict:
    ents = _entities(payload)
    link, pay, order = ents.get("payment_link") or {}, ents.get("payment") or {}, ents.get("order") or {}
    notes = pay.get("notes") if isinstance(pay.get("notes"), dict) else {}
    return {"payment_link_id": link.get("id"), "payment_id": pay.get("id"),
            "reference_id": link.get("reference_id") or notes.get("reference_id") or order.get("receipt"),
            "order_id": pay.get("order_id") or order.get("id") or link.get("order_id")}


def _entities(payload: dict) -> dict:
    out = {}
    for kind, wrap in (payload.get("payload") or {}).items():
        if isinstance(wrap, dict) and isinstance(wrap.get("entity"), dict):
            out[kind] = wrap["entity"]
    return out


def _process_event(db, event_id: str, payload: dict) -> dict:
    name = payload["event"]
    ents = _entities(payload)
    keys = _event_keys(payload)
    if name == "payment.failed":
        pay = ents.get("payment") or {}
        rec = _find(db, keys)
        _failed(db, pay, rec, source="webhook")
        _note_event(db, rec, event_id, name, pay.get("id"))
        return _finish(db, event_id, name, "processed", "failed payment recorded")
    if name not in ("payment_link.paid", "payment_link.partially_paid", "payment_link.expired",
                    "payment_link.cancelled", "payment.captured", "order.paid"):
        return _finish(db, event_id, name, "ignored", "event not used")
    rec = _find(db, keys)
    if rec is None:
        return _finish(db, event_id, name, "unmatched", "no payment link or order on our side (yet)")
    _note_event(db, rec, event_id, name, keys.get("payment_id"))
    link, pay = ents.get("payment_link"), ents.get("payment")
    if link is not None:
        if link.get("reference_id") != rec["reference_id"] or rec.get("payment_link_id") not in (None, link.get("id")):
            _suspicious(db, "webhook link does not match our record", source="webhook", user_id=rec["user_id"],
                        payment_link_id=link.get("id"), reference_id=rec["_id"], payment_id=keys["payment_id"])
            return _finish(db, event_id, name, "processed", "link mismatch recorded")
        extra = [pay] if pay and pay.get("status") == "captured" else []
        res = _settle_link(db, rec, link, source="webhook", event=event_id, extra_payments=extra)
        return _finish(db, event_id, name, "processed", res["summary"], credited=res["credited_now"])
    if pay is not None and pay.get("status") == "captured":
        if rec.get("order_id") and pay.get("order_id") and pay["order_id"] != rec["order_id"] and \
                (pay.get("notes") or {}).get("reference_id") != rec["_id"]:
            return _finish(db, event_id, name, "unmatched", "payment's order is not ours")
        new = _credit(db, rec, pay.get("id"), pay.get("amount"), source="webhook")
        if rec["kind"] == "order":
            _set(db, rec["_id"], {}, status="paid")
        else:
            _status_from_credits(db, rec["_id"])
        return _finish(db, event_id, name, "processed", "credited" if new else "already credited",
                       credited=pay.get("amount") if new else 0)
    return _finish(db, event_id, name, "ignored", "no captured payment in the event")


def _finish(db, event_id: str, name: str, status: str, outcome: str, credited: int = 0) -> dict:
    kind = "unmatched" if status == "unmatched" else "webhook"
    upd = {"$set": {"kind": kind, "status": status, "outcome": outcome, "processed_at": clock.now()},
           "$inc": {"attempts": 1}}
    db.payment_events.update_one({"_id": event_id}, upd)
    return {"status": status, "event": name, "event_id": event_id, "outcome": outcome, "credited_paise": credited}


def _adopt_events(db, ref: str, plink: str | None = None) -> int:
    """Act on stored events that arrived before their record could be found (the race): the record is
    written first, then this reads the events; the webhook writes the event first, then reads the record;
    so one of the two always sees the other."""
    n = 0
    ors = [{"reference_id": ref}] + ([{"payment_link_id": plink}] if plink else [])
    for ev in list(db.payment_events.find({"kind": {"$in": ["pending", "unmatched"]}, "$or": ors})):
        _process_event(db, ev["_id"], ev["payload"])
        n += 1
    return n


# -------------------------------------------------------------------------------------- reconcile

def reconcile_link(db, link_id: str, user_id: str | None = None) -> dict:
    """Ask Razorpay about one of our links (by reference_id or plink id) or orders, credit what was
    captured, close what is over. With `user_id`, only that user's own links (else NotFound)."""
    if not isinstance(link_id, str) or not _ID.match(link_id):
        raise NotFound("No such payment link.")
    rec = _record(db, link_id) or _find(db, {"payment_link_id": link_id}) or _find(db, {"order_id": link_id})
    if rec is None or (user_id is not None and rec["user_id"] != user_id):
        raise NotFound("No such payment link.")
    cfg = _cfg()
    try:
        return _reconcile(db, cfg, rec)
    except (rzp.RazorpayDown, rzp.RazorpayRefused) as exc:
        _set(db, rec["_id"], {"last_error": f"reconcile: {exc}"[:300]})
        raise PaymentUnavailable("Could not check this payment with Razorpay right now; please try again "
                                 "in a few minutes.") from None


def _reconcile(db, cfg, rec: dict) -> dict:
    ref = rec["_id"]
    base = {"reference_id": ref, "payment_link_id": rec.get("payment_link_id"), "credited_paise": 0}
    if rec["kind"] == "order":
        return _reconcile_order(db, cfg, rec, base)
    if rec.get("payment_link_id") is None:
        found = rzp.call(cfg, "payment_link.all", {"reference_id": ref}).get("payment_links") or []
        found = [l for l in found if isinstance(l, dict) and l.get("reference_id") == ref]
        if not found:
            if clock.now() - clock.as_utc(rec["created_at"]) > CREATE_GRACE:
                _set(db, ref, {}, status="not_created")
                return dict(base, status="not_created", outcome="never created at Razorpay")
            return dict(base, status=_record(db, ref)["status"], outcome="not at Razorpay yet")
        _check_link(found[0], rec)
        _attach(db, rec, found[0])
        rec = _record(db, ref)
    link = rzp.call(cfg, "payment_link.fetch", rec["payment_link_id"])
    if link.get("reference_id") != ref or link.get("id") != rec["payment_link_id"]:
        _suspicious(db, "Razorpay returned a different link than asked", source="reconcile",
                    user_id=rec["user_id"], payment_link_id=rec["payment_link_id"], reference_id=ref)
        return dict(base, status=rec["status"], outcome="mismatch recorded")
    res = _settle_link(db, rec, link, source="reconcile", event=None)
    _adopt_events(db, ref, rec["payment_link_id"])
    return dict(base, payment_link_id=link["id"], status=res["status"], outcome=res["summary"],
                credited_paise=res["credited_now"])


def _reconcile_order(db, cfg, rec: dict, base: dict) -> dict:
    ref = rec["_id"]
    if rec.get("order_id") is None:
        found = [o for o in (rzp.call(cfg, "order.all", {"receipt": ref}).get("items") or [])
                 if isinstance(o, dict) and o.get("receipt") == ref]
        if not found:
            if clock.now() - clock.as_utc(rec["created_at"]) > CREATE_GRACE:
                _set(db, ref, {}, status="not_created")
                return dict(base, status="not_created", outcome="never created at Razorpay")
            return dict(base, status=rec["status"], outcome="not at Razorpay yet")
        _set(db, ref, {"order_id": found[0]["id"]}, status="created")
        rec = _record(db, ref)
    pays = rzp.call(cfg, "order.payments", rec["order_id"]).get("items") or []
    now_credited = 0
    for pay in pays:
        if isinstance(pay, dict) and pay.get("status") == "captured" and pay.get("order_id") == rec["order_id"]:
            if _credit(db, rec, pay.get("id"), pay.get("amount"), source="reconcile"):
                now_credited += _int(pay.get("amount"))
        elif isinstance(pay, dict) and pay.get("status") == "failed":
            _failed(db, pay, rec, source="reconcile")
    rec = _record(db, ref)
    if rec["credited"]:
        _set(db, ref, {}, status="paid")
    elif clock.now() - clock.as_utc(rec["created_at"]) > ORDER_WINDOW:
        _set(db, ref, {}, status="abandoned")
    st = _record(db, ref)["status"]
    return dict(base, status=st, outcome=f"{len(rec['credited'])} payment(s) credited",
                credited_paise=now_credited, order_id=rec["order_id"])


def reconcile_open(db) -> dict:
    """Settle every open link/order with Razorpay and retry stored webhooks that found no record.
    For the scheduled worker: never raises for one bad link; counts it instead."""
    out = {"checked": 0, "credited": 0, "credited_paise": 0, "closed": 0, "errors": 0, "events_retried": 0}
    cfg = rzp.config()
    if cfg.mode != "off":
        for rec in list(db.payment_links.find({"status": {"$in": list(OPEN)}})):
            out["checked"] += 1
            try:
                res = _reconcile(db, cfg, rec)
            except (rzp.RazorpayDown, rzp.RazorpayRefused) as exc:
                out["errors"] += 1
                _set(db, rec["_id"], {"last_error": f"reconcile: {exc}"[:300]})
                continue
            if res["credited_paise"]:
                out["credited"] += 1
                out["credited_paise"] += res["credited_paise"]
            if res["status"] not in OPEN:
                out["closed"] += 1
    stale = clock.now() - timedelta(seconds=30)
    for ev in list(db.payment_events.find({"kind": {"$in": ["pending", "unmatched"]}})):
        # A "pending" event younger than this is most likely being handled right now.
        received = clock.as_utc(ev.get("received_at") or ev["at"])
        if ev["kind"] == "pending" and received > stale:
            continue
        if ev["kind"] == "unmatched" and received < clock.now() - UNMATCHED_RETRY:
            continue  # stays in the admin view; not polled for ever
        out["events_retried"] += 1
        pid = ev.get("payment_id")
        if ev["kind"] == "unmatched" and pid and ledger.find_entry(db, f"razorpay:{pid}") is not None:
            _finish(db, ev["_id"], ev.get("event", ""), "processed", "payment credited by another path")
            continue
        _process_event(db, ev["_id"], ev["payload"])
    return out


# --------------------------------------------------------------------------------- settle & credit

def _settle_link(db, rec: dict, link: dict, *, source: str, event: str | None,
                 extra_payments: list | None = None) -> dict:
    """Credit every captured payment Razorpay reports on `link` (fetched, or from a signed webhook) and
    move our status up to Razorpay's. Returns {payments: {pay_id: {amount, new}}, status, credited_now}."""
    ref = rec["_id"]
    if _int(link.get("amount")) != rec["amount_paise"]:
        _suspicious(db, f"Razorpay's link amount {link.get('amount')} differs from ours "
                        f"{rec['amount_paise']}", source=source, user_id=rec["user_id"],
                    payment_link_id=link.get("id"), reference_id=ref)
        return {"payments": {}, "status": rec["status"], "credited_now": 0, "summary": "amount mismatch"}
    if rec.get("payment_link_id") is None and link.get("id"):
        _attach(db, rec, link)
    elif link.get("order_id") and not rec.get("order_id"):
        _set(db, ref, {"order_id": link["order_id"]})
    pays = {}
    for p in (link.get("payments") or []) + list(extra_payments or []):
        if not isinstance(p, dict):
            continue
        pid = p.get("payment_id") or p.get("id")
        if p.get("status") != "captured" or not isinstance(pid, str) or pid in pays:
            continue
        if "payment_id" not in p and link.get("order_id") and p.get("order_id") != link.get("order_id"):
            continue  # a payment entity that is not on this link
        pays[pid] = {"amount": _int(p.get("amount")), "new": False}
    credited_now = 0
    for pid, info in pays.items():
        info["new"] = _credit(db, rec, pid, info["amount"], source=source)
        credited_now += info["amount"] if info["new"] else 0
    status = link.get("status")
    if status in _RANK and status not in ("creating", "error_creating"):
        if status in ("expired", "cancelled") and not (rec.get("credited") or pays):
            _closed_unpaid(db, rec, status)
        _set(db, ref, {}, status=status)
    rec2 = _record(db, ref)
    return {"payments": pays, "status": rec2["status"], "credited_now": credited_now,
            "summary": f"{len(rec2['credited'])} payment(s) credited, Razorpay says {status}"}


def _credit(db, rec: dict, payment_id, amount, *, source: str) -> bool:
    """Credit one captured payment to the owner of OUR record. True if this call posted it."""
    amount = _int(amount)
    if not (isinstance(payment_id, str) and payment_id.startswith("pay_") and _ID.match(payment_id)) or amount <= 0:
        _suspicious(db, "captured payment with a bad id or amount", source=source, user_id=rec["user_id"],
                    payment_id=str(payment_id)[:64], reference_id=rec["_id"],
                    payment_link_id=rec.get("payment_link_id"), details={"amount": str(amount)})
        return False
    key = f"razorpay:{payment_id}"
    # Whether THIS call posted it is only a label for messages and counts; money depends on the key alone.
    # Our own record answers it (a ledger key lookup that misses is a scan on the embedded engine), and
    # `credited` is written only after the ledger has the key, so skipping on it is safe.
    rec = _record(db, rec["_id"]) or rec
    done = dict(rec.get("credited") or {})
    if payment_id in done:
        return False
    if sum(_int(v) for v in done.values()) + amount > rec["amount_paise"]:
        _suspicious(db, "payments would exceed the link amount", source=source, user_id=rec["user_id"],
                    payment_id=payment_id, reference_id=rec["_id"], payment_link_id=rec.get("payment_link_id"),
                    amount_paise=amount)
        return False
    t0 = clock.now()
    if rec["kind"] == "order":
        meta = {"order_id": rec.get("order_id"), "reference_id": rec["_id"]}
    else:
        meta = {"payment_link_id": rec.get("payment_link_id"), "reference_id": rec["_id"]}
    try:
        entry = ledger.post(db, rec["user_id"], key=key, type="credit", category="recharge", amount=amount,
                            source=payment_id, note="Razorpay recharge", meta=meta)
    except Conflict:
        first = ledger.find_entry(db, key)
        if first is None or (first["user_id"] == rec["user_id"] and int(first["amount"]) == amount):
            return False  # another path holds the key and is finishing the same credit (or recover will)
        _suspicious(db, "payment already credited with a different amount or user", source=source,
                    user_id=rec["user_id"], payment_id=payment_id, reference_id=rec["_id"],
                    payment_link_id=rec.get("payment_link_id"), amount_paise=amount)
        return False
    db.payment_links.update_one({"_id": rec["_id"]}, {"$set": {f"credited.{payment_id}": int(entry["amount"]),
                                                               "updated_at": clock.now()}})
    created = clock.as_utc(entry.get("created_at"))
    return created is None or created >= t0


def _status_from_credits(db, ref: str) -> None:
    rec = _record(db, ref)
    total = sum(_int(v) for v in (rec.get("credited") or {}).values())
    if total >= rec["amount_paise"]:
        _set(db, ref, {}, status="paid")
    elif total > 0:
        _set(db, ref, {}, status="partially_paid")


def _set(db, ref: str, sets: dict, *, status: str | None = None) -> None:
    """Plain fields always; the status only if it moves UP the ladder (paths report in any order)."""
    now = clock.now()
    if sets:
        db.payment_links.update_one({"_id": ref}, {"$set": dict(sets, updated_at=now)})
    if status is not None:
        lower = [s for s, r in _RANK.items() if r < _RANK[status]]
        if status == "error_creating":
            lower = ["creating"]
        db.payment_links.update_one({"_id": ref, "status": {"$in": lower}},
                                    {"$set": {"status": status, "updated_at": now}})


def _note_event(db, rec: dict | None, event_id: str, name: str, payment_id) -> None:
    if rec is None:
        return
    db.payment_links.update_one({"_id": rec["_id"]}, {"$push": {"events": {
        "$each": [{"id": event_id, "event": name, "payment_id": payment_id, "at": clock.now()}],
        "$slice": -EVENTS_KEPT}}})


# --------------------------------------------------------------------------------- admin records

def _suspicious(db, reason: str, *, source: str, user_id=None, payment_id=None, payment_link_id=None,
                reference_id=None, amount_paise=None, details: dict | None = None) -> None:
    """One record per distinct (reason, who, what); repeats bump `count` instead of flooding."""
    # Not keyed by anything an unauthenticated sender chooses freely (a webhook body): a flood of forged
    # webhooks bumps one counter instead of filling the collection.
    ident = json.dumps([reason, source, user_id, payment_id, payment_link_id, reference_id], default=str)
    _id = "suspicious:" + hashlib.sha256(ident.encode()).hexdigest()[:32]
    now = clock.now()
    db.payment_events.update_one({"_id": _id}, {
        "$setOnInsert": {"first_at": now, "kind": "suspicious", "reason": reason, "source": source,
                         "user_id": user_id, "payment_id": payment_id, "payment_link_id": payment_link_id,
                         "reference_id": reference_id, "amount_paise": amount_paise},
        "$set": {"at": now, "details": details or {}}, "$inc": {"count": 1}}, upsert=True)


def _failed(db, pay: dict, rec: dict | None, *, source: str) -> None:
    pid = pay.get("id")
    if not isinstance(pid, str) or not _ID.match(pid):
        return
    now = clock.now()
    db.payment_events.update_one({"_id": f"failed:{pid}"}, {
        "$setOnInsert": {"kind": "failed", "first_at": now, "payment_id": pid, "source": source,
                         "reason": f"payment failed: {pay.get('error_description') or pay.get('error_code') or 'unknown'}"[:300],
                         "error_code": pay.get("error_code"), "amount_paise": _int(pay.get("amount")),
                         "method": pay.get("method"), "user_id": rec["user_id"] if rec else None,
                         "reference_id": rec["_id"] if rec else None,
                         "payment_link_id": rec.get("payment_link_id") if rec else None,
                         "order_id": pay.get("order_id")},
        "$set": {"at": now}, "$inc": {"count": 1}}, upsert=True)


def _closed_unpaid(db, rec: dict, status: str) -> None:
    now = clock.now()
    db.payment_events.update_one({"_id": f"closed:{rec['_id']}"}, {
        "$setOnInsert": {"kind": "failed", "first_at": now, "reason": f"payment link {status} without payment",
                         "user_id": rec["user_id"], "reference_id": rec["_id"],
                         "payment_link_id": rec.get("payment_link_id"), "amount_paise": rec["amount_paise"],
                         "payment_id": None, "source": "razorpay"},
        "$set": {"at": now}, "$inc": {"count": 1}}, upsert=True)


def failed_payments(db, limit: int = 100) -> list[dict]:
    """For admins: failed payments, closed-unpaid links, refused/suspicious confirmations (with reasons)
    and webhooks still unmatched. Newest first."""
    limit = max(1, min(int(limit), 1000))
    now = clock.now()
    # Widening windows over the (kind, at) index: a sort would cost the whole collection on the embedded engine.
    for days in (7, 60, 730, None):
        flt: dict = {"kind": {"$in": list(ADMIN_KINDS)}}
        if days is not None:
            flt["at"] = {"$gte": now - timedelta(days=days)}
        rows = list(db.payment_events.find(flt))
        if len(rows) >= limit:
            break
    out = []
    for r in rows:
        at = clock.as_utc(r.get("at"))
        row = {"id": r["_id"], "kind": r["kind"], "at": at, "first_at": clock.as_utc(r.get("first_at") or at),
               "count": int(r.get("count") or 1), "source": r.get("source", "webhook"),
               "reason": r.get("reason") or r.get("outcome") or "", "user_id": r.get("user_id"),
               "payment_id": r.get("payment_id"), "payment_link_id": r.get("payment_link_id"),
               "reference_id": r.get("reference_id"),
               "amount_paise": int(r["amount_paise"]) if r.get("amount_paise") is not None else None}
        if r["kind"] == "unmatched":
            row["reason"] = f"{r.get('event')}: {r.get('outcome')}"
        out.append(row)
    out.sort(key=lambda r: r["at"] or now, reverse=True)
    return out[:limit]


# --------------------------------------------------------------------------------------- listing

def list_links(db, user_id: str, limit: int = 20) -> list[dict]:
    """A user's recharges (links and orders), newest first."""
    rows = sorted(db.payment_links.find({"user_id": user_id}), key=lambda r: clock.as_utc(r["created_at"]),
                  reverse=True)[:max(1, min(int(limit), 500))]
    return [_public(r) for r in rows]


def get_link(db, link_id: str, user_id: str | None = None) -> dict:
    rec = _record(db, link_id) if isinstance(link_id, str) and _ID.match(link_id) else None
    rec = rec or (_find(db, {"payment_link_id": link_id}) if isinstance(link_id, str) else None)
    if rec is None or (user_id is not None and rec["user_id"] != user_id):
        raise NotFound("No such payment link.")
    return _public(rec)


def _public(r: dict) -> dict:
    credited = {k: _int(v) for k, v in (r.get("credited") or {}).items()}
    return {"reference_id": r["_id"], "kind": r.get("kind", "link"), "payment_link_id": r.get("payment_link_id"),
            "order_id": r.get("order_id"), "short_url": r.get("short_url"), "status": r["status"],
            "amount_paise": int(r["amount_paise"]), "credited_paise": sum(credited.values()),
            "payments": credited, "user_id": r["user_id"], "created_at": clock.as_utc(r["created_at"]),
            "updated_at": clock.as_utc(r.get("updated_at")), "expire_by": clock.as_utc(r.get("expire_by")),
            "last_error": r.get("last_error"), "events": len(r.get("events") or [])}


# ------------------------------------------------------------------------------------------ orders

def create_order(db, user_id: str, amount) -> dict:
    """The older Checkout flow: a Razorpay order for `amount` rupees. dict(order_id, amount_paise, currency)."""
    cfg = _cfg()
    paise = _amount(db, amount)
    user = users.get(db, user_id)
    ref = "wo_" + secrets.token_hex(12)
    now = clock.now()
    rec = {"_id": ref, "kind": "order", "reference_id": ref, "user_id": user["username"], "amount_paise": paise,
           "currency": "INR", "status": "creating", "order_id": None, "payment_link_id": None,
           "short_url": None, "credited": {}, "events": [], "last_error": None, "mode": cfg.mode,
           "created_at": now, "updated_at": now}
    db.payment_links.insert_many([rec])
    try:
        order = rzp.call(cfg, "order.create", {"amount": paise, "currency": "INR", "receipt": ref,
                                                "notes": {"user_id": user["username"], "reference_id": ref}})
        if not (isinstance(order.get("id"), str) and order["id"].startswith("order_")
                and _int(order.get("amount")) == paise and order.get("receipt") == ref):
            raise rzp.RazorpayDown("order answer does not match the request")
    except (rzp.RazorpayDown, rzp.RazorpayRefused) as exc:
        _set(db, ref, {"last_error": str(exc)[:300]}, status="error_creating")
        raise PaymentUnavailable(DOWN_MESSAGE) from None
    _set(db, ref, {"order_id": order["id"], "last_error": None}, status="created")
    _adopt_events(db, ref)
    return {"order_id": order["id"], "amount_paise": paise, "currency": "INR"}


def verify_order_payment(db, user_id: str, order_id: str, payment_id: str, signature: str) -> dict:
    """Checkout's answer: check `order_id|payment_id` is signed with our key secret, the order is ours and
    this user's, then credit what Razorpay captured (fetched). dict(outcome, amount_paise, balance_paise)."""
    cfg = _cfg()
    details = {"order_id": str(order_id)[:64], "payment_id": str(payment_id)[:64]}

    def refuse(reason: str, message: str):
        _suspicious(db, reason, source="order", user_id=user_id, payment_id=details["payment_id"],
                    details=details)
        raise InvalidPayment(message)

    if not all(isinstance(x, str) and _ID.match(x) for x in (order_id, payment_id)) or not isinstance(signature, str):
        refuse("order payment with malformed ids", "The payment details are not valid.")
    if not rzp.verify_order_signature(cfg, order_id, payment_id, signature):
        refuse("order payment signature does not match", "The payment confirmation is not valid.")
    rec = _find(db, {"order_id": order_id})
    if rec is None or rec.get("kind") != "order":
        refuse("payment for an unknown order", "This order is not known here.")
    if rec["user_id"] != user_id:
        refuse(f"order payment replayed by another user (order belongs to {rec['user_id']})",
               "This payment belongs to a different account.")
    try:
        pay = rzp.call(cfg, "payment.fetch", payment_id)
    except (rzp.RazorpayDown, rzp.RazorpayRefused):
        raise PaymentUnavailable(CONFIRM_LATER) from None
    if pay.get("id") != payment_id or pay.get("order_id") != order_id:
        refuse("payment is not on this order", "The payment confirmation is not valid.")
    if pay.get("status") == "authorized":  # captured shortly; webhook or reconcile credit it then
        return {"outcome": "pending", "amount_paise": 0, "balance_paise": ledger.get_wallet(db, user_id).balance}
    if pay.get("status") != "captured":
        if pay.get("status") == "failed":
            _failed(db, pay, rec, source="order")
        raise InvalidPayment(f"The payment is {pay.get('status') or 'not complete'}; nothing was credited.")
    amount = _int(pay.get("amount"))
    new = _credit(db, rec, payment_id, amount, source="order")
    if payment_id not in (_record(db, rec["_id"]).get("credited") or {}):
        first = ledger.find_entry(db, f"razorpay:{payment_id}")
        if first is None:  # another path is mid-way through this very credit
            return {"outcome": "pending", "amount_paise": 0, "balance_paise": ledger.get_wallet(db, user_id).balance}
        if first["user_id"] != user_id or int(first["amount"]) != amount:
            raise InvalidPayment("This payment could not be credited; it has been flagged for review.")
    _set(db, rec["_id"], {}, status="paid")
    return {"outcome": "credited" if new else "already_credited", "amount_paise": _int(pay.get("amount")),
            "balance_paise": ledger.get_wallet(db, user_id).balance}


# ---------------------------------------------------------------------------------------- helpers

def _record(db, ref: str) -> dict | None:
    return db.payment_links.find_one({"_id": ref})


def _find(db, keys: dict) -> dict | None:
    """Our record for an event/answer: by reference_id (our _id), else plink id, else order id."""
    ref = keys.get("reference_id")
    if isinstance(ref, str) and _ID.match(ref):
        rec = _record(db, ref)
        if rec is not None:
            return rec
    for field in ("payment_link_id", "order_id"):
        val = keys.get(field)
        if isinstance(val, str) and val:
            rec = db.payment_links.find_one({field: val})
            if rec is not None:
                return rec
    return None


def _int(v) -> int:
    if isinstance(v, bool):
        return 0
    try:
        return int(v) if isinstance(v, int) or (isinstance(v, str) and v.isdigit()) else 0
    except (TypeError, ValueError):
        return 0

