"""Our recharge records (`payment_links`, `_id` = reference_id, one per link or order): built, found,
moved up the status ladder, scheduled for polling, listed and shown. The only module that writes a
record's fields."""
from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import TypeGuard

from services import clock, settings, users
from services.db import insert_new
from services.payments import charge
from services.errors import BelowMinimum, NotFound
from services.money import format_rupees, parse_rupees

LINK_TTL = timedelta(hours=24)
MIN_EXPIRY = timedelta(minutes=16)  # Razorpay wants MORE than 15 minutes
EVENTS_KEPT = 50
_PREFIX = {"link": "wr_", "order": "wo_"}  # + 24 hex characters: 27, Razorpay allows 40

OPEN = ("creating", "error_creating", "created", "attempted", "partially_paid")
# Status only moves up this ladder, whichever path (and in whatever order) reports it. THE ladder: nothing
# else ranks statuses. "paid" is set only from ledger credits (`follow_credits`), never from Razorpay's
# word alone; "review" = Razorpay says paid but a payment was refused here (amount mismatch, flagged for
# admins), below "paid" so a credit that lands after all still moves it up.
_RANK = {"creating": 0, "error_creating": 0, "created": 1, "attempted": 1, "partially_paid": 2, "review": 3,
         "paid": 4, "expired": 4, "cancelled": 4, "not_created": 4, "abandoned": 4}
STATUSES = tuple(_RANK)
# Our polling of an open record backs off with its age (a payment is most likely right after the link is
# made; webhooks and the callback do the real work): (age below, interval).
POLL_STEPS = ((timedelta(minutes=5), timedelta(seconds=30)), (timedelta(minutes=30), timedelta(minutes=2)),
              (timedelta(hours=2), timedelta(minutes=10)))
POLL_SLOWEST = timedelta(hours=1)
# Once expire_by has passed, one more look (after this grace) sees Razorpay's "expired".
EXPIRY_GRACE = timedelta(minutes=1)
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def valid_id(value: object) -> TypeGuard[str]:
    """A Razorpay or reference id we are willing to look up or store."""
    return isinstance(value, str) and bool(_ID.match(value))


def to_int(v) -> int:
    """Paise from Razorpay's JSON (int or digit string); anything else is 0, never a float."""
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return v
    return int(v) if isinstance(v, str) and v.isdecimal() else 0


# ------------------------------------------------------------------------------------------ create

def recharge_amount(db, amount) -> int:
    s = settings.get(db)
    try:
        return parse_rupees(amount, minimum=s["min_recharge_paise"], maximum=s["max_amount_paise"],
                            what="Recharge amount")
    except BelowMinimum:
        raise BelowMinimum(f"Recharge amount is below minimum: the smallest recharge is "
                           f"{format_rupees(s['min_recharge_paise'])}.") from None


def new_reference(kind: str) -> str:
    return _PREFIX[kind] + secrets.token_hex(12)


# Made by the customer; an auto-recharge top-up; a mandate's authorisation payment (services.autorecharge).
PURPOSES = ("recharge", "auto_recharge", "mandate")


def build(kind: str, user: dict, paise: int, mode: str, *, ref: str | None = None,
          purpose: str = "recharge") -> dict:
    """THE recharge record, for a payment link or an order, status `creating`."""
    ref = ref or new_reference(kind)
    now = clock.now()
    return {"_id": ref, "kind": kind, "purpose": purpose, "reference_id": ref, "user_id": user["username"],
            "amount_paise": paise, "currency": "INR", "status": "creating", "payment_link_id": None,
            "short_url": None, "order_id": None,
            "expire_by": now + max(LINK_TTL, MIN_EXPIRY) if kind == "link" else None, "credited": {},
            "events": [], "last_error": None, "last_failed": None, "cancelled_by": None, "mode": mode,
            "next_check_at": now, "created_at": now, "updated_at": now}


def create(db, kind: str, user_id: str, amount, mode: str) -> tuple[dict, dict]:
    """Check the amount and the user (both before anything is written), then store the record.
    Returns (user, record). Called BEFORE Razorpay: no link or order can exist that we do not know."""
    user, paise = checked(db, user_id, amount)
    record = build(kind, user, paise, mode)
    record.update(charge.record_fields(db, paise))  # GST on top in `exclusive` mode: one tax base per channel
    db.payment_links.insert_many([record])
    return user, record


def checked(db, user_id: str, amount) -> tuple[dict, int]:
    """(user, paise) for a recharge request; raises before anything is written."""
    paise = recharge_amount(db, amount)
    user = users.get(db, user_id)
    charge.check_recipient(db, user_id, paise)
    return user, paise


def insert(db, record: dict) -> None:
    db.payment_links.insert_many([record])


def insert_once(db, record: dict) -> bool:
    """Insert a record made under a known reference; False if it exists already (a retried step)."""
    return insert_new(db.payment_links, record)


# ------------------------------------------------------------------------------------------- find

def get(db, ref: str) -> dict | None:
    return db.payment_links.find_one({"_id": ref})


def fresh(db, ref: str) -> dict:
    """A record as stored now, read again by a caller that has seen it (records are never deleted)."""
    rec = get(db, ref)
    if rec is None:
        raise LookupError(f"payment record {ref} is missing")
    return rec


def find(db, keys: dict) -> dict | None:
    """Our record for an event/answer: by reference_id (our _id), else plink id, else order id."""
    ref = keys.get("reference_id")
    if valid_id(ref):
        rec = get(db, ref)
        if rec is not None:
            return rec
    for field in ("payment_link_id", "order_id"):
        val = keys.get(field)
        if isinstance(val, str) and val:
            rec = db.payment_links.find_one({field: val})
            if rec is not None:
                return rec
    return None


def lookup(db, ident, fields=("payment_link_id",)) -> dict | None:
    """By reference_id, else by each Razorpay id field in `fields`."""
    if not isinstance(ident, str):
        return None
    return find(db, {"reference_id": ident, **{f: ident for f in fields}})


def open_records(db) -> list[dict]:
    """The records still open, through the status index (one state at a time): not every link ever made."""
    return [r for st in OPEN for r in db.payment_links.find({"status": st}).hint([("status", 1)])]


def due_records(db, now, limit: int) -> list[dict]:
    """Open records whose next poll is due, most overdue first, at most `limit`."""
    epoch = now - timedelta(days=3650)
    due = [r for r in open_records(db) if clock.as_utc(r.get("next_check_at") or epoch) <= now]
    due.sort(key=lambda r: clock.as_utc(r.get("next_check_at") or epoch))
    return due[:limit]


def user_links(db, user_id: str) -> list[dict]:
    return list(db.payment_links.find({"user_id": user_id}))


# ------------------------------------------------------------------------------------------ polling

def poll_interval(age: timedelta) -> timedelta:
    for below, interval in POLL_STEPS:
        if age < below:
            return interval
    return POLL_SLOWEST


def next_check(rec: dict, now) -> object:
    """When to poll `rec` again after a check at `now`: by its age, and once just after its expiry."""
    nxt = now + poll_interval(now - clock.as_utc(rec["created_at"]))
    expire_by = clock.as_utc(rec.get("expire_by"))
    if expire_by is not None and now < expire_by + EXPIRY_GRACE:
        nxt = min(nxt, expire_by + EXPIRY_GRACE)
    return nxt


def checked_now(db, rec: dict, now) -> None:
    db.payment_links.update_one({"_id": rec["_id"]}, {"$set": {"next_check_at": next_check(rec, now)}})


# ------------------------------------------------------------------------------------------ write

def update(db, ref: str, sets: dict | None = None, *, status: str | None = None) -> None:
    """Plain fields always; the status only if it moves UP the ladder (paths report in any order)."""
    now = clock.now()
    if sets:
        db.payment_links.update_one({"_id": ref}, {"$set": dict(sets, updated_at=now)})
    if status is not None:
        db.payment_links.update_one({"_id": ref, "status": {"$in": _below(status)}},
                                    {"$set": {"status": status, "updated_at": now}})


def _below(status: str) -> list[str]:
    if status == "error_creating":
        return ["creating"]
    return [s for s, r in _RANK.items() if r < _RANK[status]]


def is_remote_status(status) -> bool:
    """A status Razorpay reports that our record follows (ours alone: creating, error_creating)."""
    return status in _RANK and status not in ("creating", "error_creating")


def follow_credits(db, ref: str) -> None:
    """A link's status from what has been credited on it: paid in full, or partially."""
    rec = fresh(db, ref)
    total = credited_total(rec)
    if total >= rec["amount_paise"]:
        update(db, ref, status="paid")
    elif total > 0:
        update(db, ref, status="partially_paid")


def note_error(db, ref: str, where: str, exc: Exception) -> None:
    update(db, ref, {"last_error": f"{where}{exc}"[:300]})


def attach_link(db, rec: dict, link: dict) -> None:
    """Razorpay's link is ours (checked by the caller): keep its ids; the record is `created`."""
    sets = {"payment_link_id": link["id"], "short_url": link.get("short_url"), "last_error": None}
    if link.get("order_id"):
        sets["order_id"] = link["order_id"]
    update(db, rec["_id"], sets, status="created")


def mark_credited(db, ref: str, payment_id: str, paise: int, paid: int) -> None:
    """Written only AFTER the ledger holds the payment's key (crediting relies on that order). `paid`: what
    the payer was charged for it (GST on top included), so the part that completes a charge is known."""
    db.payment_links.update_one({"_id": ref}, {"$set": {f"credited.{payment_id}": int(paise),
                                                        f"paid.{payment_id}": int(paid),
                                                        "updated_at": clock.now()}})


def credited_total(rec: dict) -> int:
    return sum(to_int(v) for v in (rec.get("credited") or {}).values())


def paid_total(rec: dict) -> int:
    """What the payer was charged for the payments credited so far (0 for parts credited before it was kept)."""
    return sum(to_int(v) for v in (rec.get("paid") or {}).values())


def note_failure(db, rec: dict, pay: dict) -> None:
    """The last failed attempt on our record, in Razorpay's words, so the customer sees why and retries."""
    failure = {"payment_id": pay.get("id"), "error_code": _short(pay.get("error_code")),
               "error_description": _short(pay.get("error_description")) or "The payment did not go through.",
               "error_reason": _short(pay.get("error_reason")), "method": _short(pay.get("method")),
               "at": clock.now()}
    update(db, rec["_id"], {"last_failed": failure})


def _short(value) -> str | None:
    return str(value)[:300] if value not in (None, "") else None


def note_event(db, rec: dict | None, event_id: str, name: str, payment_id) -> None:
    if rec is None:
        return
    db.payment_links.update_one({"_id": rec["_id"]}, {"$push": {"events": {
        "$each": [{"id": event_id, "event": name, "payment_id": payment_id, "at": clock.now()}],
        "$slice": -EVENTS_KEPT}}})


# ------------------------------------------------------------------------------------------- show

def list_links(db, user_id: str, limit: int = 20) -> list[dict]:
    """A user's recharges (links and orders), newest first."""
    rows = sorted(db.payment_links.find({"user_id": user_id}), key=lambda r: clock.as_utc(r["created_at"]),
                  reverse=True)[:max(1, min(int(limit), 500))]
    return [public(r) for r in rows]


def get_link(db, link_id: str, user_id: str | None = None) -> dict:
    """One recharge by reference_id, plink id or order id; with `user_id`, only that user's own (else
    NotFound)."""
    rec = lookup(db, link_id, ("payment_link_id", "order_id"))
    if rec is None or (user_id is not None and rec["user_id"] != user_id):
        raise NotFound("No such payment link.")
    return public(rec)


def public(r: dict) -> dict:
    """What pages and the API show. `payments`/`credited_paise` come from ledger-backed credits only;
    `last_failed` (payment_id, error_code, error_description, error_reason, method, at) is the latest failed
    attempt while the record is still payable, so the customer sees Razorpay's reason and tries again."""
    credited = {k: to_int(v) for k, v in (r.get("credited") or {}).items()}
    failed = r.get("last_failed")
    if not failed or r["status"] not in OPEN or failed.get("payment_id") in credited:
        failed = None
    else:
        failed = dict(failed, at=clock.as_utc(failed.get("at")))
    return {"reference_id": r["_id"], "kind": r.get("kind", "link"), "purpose": r.get("purpose") or "recharge",
            "payment_link_id": r.get("payment_link_id"),
            "order_id": r.get("order_id"), "short_url": r.get("short_url"), "status": r["status"],
            # amount_paise: what reaches the wallet; charged_paise: what the payer pays (GST on top included)
            "amount_paise": int(r["amount_paise"]), "gst_paise": charge.gst_of(r), "charged_paise": charge.charged(r),
            "credited_paise": sum(credited.values()),
            "payments": credited, "user_id": r["user_id"], "created_at": clock.as_utc(r["created_at"]),
            "updated_at": clock.as_utc(r.get("updated_at")), "expire_by": clock.as_utc(r.get("expire_by")),
            "last_error": r.get("last_error"), "last_failed": failed, "cancelled_by": r.get("cancelled_by"),
            "events": len(r.get("events") or [])}
