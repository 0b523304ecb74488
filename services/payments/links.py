"""Payment Links: create one at Razorpay for a recharge, after our record exists; reuse a fresh unpaid one;
fetch one with the payment details crediting needs.

Our record (`_id` = reference_id) is written BEFORE Razorpay is called, so every link Razorpay knows has a
record here, and a create whose answer was lost stays reconcilable by reference_id.

Asking again for the same amount while an unpaid link of that amount is younger than REUSE_WINDOW returns
that link. A claim per (user, amount) in `payment_link_claims`, taken by insert or compare-and-set, makes
it race-safe: of two concurrent creates (a double click), one makes the link and the other waits for it.
"""
from __future__ import annotations

import time
from typing import TypeGuard
from datetime import timedelta

from services import clock, config
from services.db import insert_new
from services.errors import PaymentUnavailable
from services.payments import charge, gateway, records, webhooks
from services.payments.outcomes import DOWN_MESSAGE, refused_message
from services.payments.records import to_int, valid_id

REUSE_WINDOW = timedelta(minutes=15)
# A claim whose link is still being made is waited for this long; after IN_FLIGHT it counts as dead.
WAIT_SECONDS = 10.0
IN_FLIGHT = timedelta(seconds=30)
BUSY_MESSAGE = "A payment link for this amount is being created right now; please try again in a moment."


def callback_url() -> str:
    """Where Razorpay sends the payer back: the dashboard's wallet page."""
    return config.get().public_url.rstrip("/") + "/wallet"


def create_payment_link(db, user_id: str, amount, *, expire_in: timedelta | None = None,
                        reference: str | None = None) -> dict:
    """A Razorpay Payment Link for a recharge of `amount` rupees, or the caller's own unpaid link of that
    amount made in the last 15 minutes. Returns dict(payment_link_id, short_url, status, amount_paise,
    reference_id, reused) -- amount_paise what reaches the wallet, charged_paise what the payer pays.

    `expire_in`: how long the link stays payable (default records.LINK_TTL). `reference`: a reference id
    the caller derived for one purpose (a low-balance alert): that link and no other is made or returned,
    never an unrelated open one, however often the caller asks (it is the create's idempotency key).

    Raises InvalidAmount/BelowMinimum (nothing written anywhere), NotFound (no such user),
    PaymentUnavailable (payments off, or Razorpay failed: our record stays, reconcilable by reference).
    """
    cfg = gateway.required()
    user, paise = records.checked(db, user_id, amount)
    if reference is not None:
        ref, reused = reference, _own_reference(db, cfg, reference)
    else:
        ref, reused = _claim(db, user["username"], paise)
    if reused is not None:
        return _answer(reused, reused=True)
    record = records.build("link", user, paise, cfg.mode, ref=ref)
    record.update(charge.record_fields(db, paise))  # with GST on: its terms (GST on top is asked of the payer)
    if expire_in is not None:
        record["expire_by"] = record["created_at"] + max(expire_in, records.MIN_EXPIRY)
    if reference is None:
        records.insert(db, record)
    elif not insert_new(db.payment_links, record):
        record = records.fresh(db, ref)  # an earlier attempt's record whose link Razorpay does not have
    try:
        link = gateway.create_payment_link(cfg, link_body(user, record))
        check_link(link, record)
    except gateway.FAILURES as exc:
        records.update(db, ref, {"last_error": str(exc)[:300]}, status="error_creating")
        if isinstance(exc, gateway.RazorpayRefused):
            raise PaymentUnavailable(refused_message(str(exc))) from None
        raise PaymentUnavailable(DOWN_MESSAGE) from None
    records.attach_link(db, record, link)
    webhooks.adopt_events(db, ref, link["id"])
    return _answer(records.fresh(db, ref), reused=False)


def _own_reference(db, cfg, ref: str) -> dict | None:
    """The record already made under a caller's reference, once Razorpay's link is attached to it (looked
    up at Razorpay by reference when an earlier create's answer was lost); None: create it now."""
    rec = records.get(db, ref)
    if rec is None or rec.get("short_url"):
        return rec
    if rec["status"] not in ("creating", "error_creating"):  # closed without a link: not made again
        raise PaymentUnavailable(DOWN_MESSAGE)
    try:
        found = [x for x in gateway.list_payment_links(cfg, {"reference_id": ref}).get("payment_links") or []
                 if isinstance(x, dict) and x.get("reference_id") == ref]
        if not found:
            return None
        check_link(found[0], rec)
    except gateway.FAILURES:
        raise PaymentUnavailable(DOWN_MESSAGE) from None
    records.attach_link(db, rec, found[0])
    return records.get(db, ref)


def _answer(rec: dict, *, reused: bool) -> dict:
    return {"payment_link_id": rec["payment_link_id"], "short_url": rec["short_url"], "status": rec["status"],
            "amount_paise": int(rec["amount_paise"]), "charged_paise": charge.charged(rec),
            "reference_id": rec["_id"], "reused": reused}


def _claim(db, user_id: str, paise: int) -> tuple[str, dict | None]:
    """(new reference to create under, None) or (its reference, the reusable record). The claim of
    (user, amount) names the latest link made for it; it is taken over once that link is no longer
    reusable nor being made."""
    key, ref = f"{user_id}|{paise}", records.new_reference("link")
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        now = clock.now()
        if insert_new(db.payment_link_claims, {"_id": key, "ref": ref, "at": now}):
            return ref, None
        claim = db.payment_link_claims.find_one({"_id": key})
        if claim is None:
            continue
        rec = records.get(db, claim["ref"])
        if _reusable(rec, now):
            return rec["_id"], rec
        if _in_flight(rec, claim, now):
            if time.monotonic() > deadline:
                raise PaymentUnavailable(BUSY_MESSAGE)
            time.sleep(0.05)
            continue
        if db.payment_link_claims.update_one({"_id": key, "ref": claim["ref"]},
                                             {"$set": {"ref": ref, "at": now}}).modified_count == 1:
            return ref, None


def _reusable(rec: dict | None, now) -> TypeGuard[dict]:
    return (rec is not None and rec["status"] in ("created", "attempted") and bool(rec.get("short_url"))
            and not rec.get("credited") and now - clock.as_utc(rec["created_at"]) < REUSE_WINDOW)


def _in_flight(rec: dict | None, claim: dict, now) -> bool:
    if rec is None:  # claimed, record not written yet (or its writer died: then the claim grows old)
        return now - clock.as_utc(claim["at"]) < IN_FLIGHT
    return rec["status"] == "creating" and now - clock.as_utc(rec["created_at"]) < IN_FLIGHT


def link_body(user: dict, record: dict) -> dict:
    """What Razorpay is asked to create for `record` (notes carry our ids for webhooks to find it)."""
    return {"amount": charge.charged(record), "currency": "INR", "accept_partial": False,
            "reference_id": record["_id"], "description": f"Wallet recharge for {user['username']}",
            "customer": {"name": user["name"][:80], "email": user["email"]},
            "notify": {"sms": False, "email": False}, "reminder_enable": False,
            "notes": {"user_id": user["username"], "reference_id": record["_id"]},
            "callback_url": callback_url(), "callback_method": "get",
            "expire_by": int(record["expire_by"].timestamp())}


def check_link(link: dict, record: dict) -> None:
    """The link Razorpay returned must be the one we asked for; otherwise treat the answer as garbage."""
    if not (isinstance(link.get("id"), str) and link["id"].startswith("plink_")
            and link.get("reference_id") == record["reference_id"]
            and to_int(link.get("amount")) == charge.charged(record) and isinstance(link.get("short_url"), str)):
        raise gateway.RazorpayDown("payment link answer does not match the request")


def fetch_link(cfg, rec: dict, plink: str) -> dict:
    """Razorpay's link, where each payment summary not credited yet that exceeds what is due is replaced
    by the payment itself: only its `fee` says whether a convenience fee explains the difference."""
    link = gateway.fetch_payment_link(cfg, plink)
    due = rec["amount_paise"] - records.credited_total(rec) + charge.gst_of(rec)
    pays = []
    for p in link.get("payments") or []:
        pid = p.get("payment_id") if isinstance(p, dict) else None
        if valid_id(pid) and pid not in (rec.get("credited") or {}) and to_int(p.get("amount")) > due:
            pays.append(gateway.fetch_payment(cfg, pid))
        else:
            pays.append(p)
    return dict(link, payments=pays) if pays else link
