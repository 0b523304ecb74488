"""Auto-charges (`autorecharge_charges`): one document per debit attempt, and the steps that take it from
planned to credited, failed or skipped.

    planned --order + notice--> notified --after payment_after--> debiting --> credited | failed
          \\______________________________________________ skipped (paused, cancelled, token not confirmed)

- The money path is the payments package's: each charge has an ordinary recharge record (kind "order",
  `_id` = `ref`, derived from the charge id) written before Razorpay hears of it, and the order's
  receipt is that ref. The captured payment is credited by whichever of webhook, reconciliation or this
  worker's look comes first, under the one ledger key `razorpay:<payment id>`.
- The order carries Razorpay's `notification` object, so the merchant controls the notice: the
  pre-debit notification leaves with the order, our own notice goes out through the alert channels, and
  the recurring payment is made only after `payment_after` (now + the notice period). Razorpay does not
  retry such a debit, which leaves the one retry of a crossing to us.
- Crash safety: the record (its receipt) is written before the order is asked for, and a try that finds
  the record already there looks the order up by its receipt (`GET /v1/orders?receipt=`, preferring the
  order id kept on the record) before making one: Razorpay accepts a receipt again, so that look-up,
  under the charge's lease, is what keeps it to one order. The order's payments are looked at before a
  recurring payment is made (Razorpay refuses a second one on the order, and on the token while one is
  in flight), and the notices are keyed. A charge is worked on under a lease (services.procs: a dead
  holder's lease is taken at once).
"""
from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta, timezone

from services import clock, procs, users
from services.db import insert_new
from services.errors import PaymentUnavailable
from services.autorecharge import events
from services.payments import gateway, records, webhooks
from services.payments import get_link, reconcile_link
from services.payments.records import to_int, valid_id

PLANNED, NOTIFIED, DEBITING, CREDITED, FAILED, SKIPPED = \
    "planned", "notified", "debiting", "credited", "failed", "skipped"
OPEN = (PLANNED, NOTIFIED, DEBITING)
FINAL = (CREDITED, FAILED, SKIPPED)
COUNTED = (PLANNED, NOTIFIED, DEBITING, CREDITED)  # what counts against the caps
LEASE = timedelta(minutes=2)
LIVE_PAYMENT = ("created", "authorized", "captured", "refunded")
# Failures after which a retry cannot help: the mandate is gone.
REVOKED_REASONS = ("mandate_revoked", "token_cancelled", "mandate_cancelled")


def coll(db):
    return db.autorecharge_charges


def charge_id(m: dict, basis: int, attempt: int) -> str:
    return f"{m['user_id']}:{m['no']}.{int(m.get('era', 0))}:{basis}:{attempt}"


def crossing_of(cid: str) -> str:
    return cid.rsplit(":", 1)[0]


def ref_of(cid: str) -> str:
    """Our recharge record's id and the order's receipt (Razorpay allows 40 characters)."""
    return "wa_" + hashlib.sha256(cid.encode()).hexdigest()[:24]


def get(db, cid: str | None) -> dict | None:
    return coll(db).find_one({"_id": cid}) if cid else None


def fresh(db, cid: str) -> dict:
    """A charge as stored now, read again by a caller that has seen it (charges are never deleted)."""
    c = get(db, cid)
    if c is None:
        raise LookupError(f"auto-recharge charge {cid} is missing")
    return c


def create(db, m: dict, cid: str, *, attempt: int, retry_of: str | None = None) -> dict:
    now = clock.now()
    insert_new(coll(db), {"_id": cid, "crossing": crossing_of(cid), "attempt": attempt, "retry_of": retry_of,
                          "user_id": m["user_id"], "mandate_no": m["no"], "amount_paise": int(m["amount_paise"]),
                          "method": m["method"], "state": PLANNED, "ref": ref_of(cid), "order_id": None,
                          "notification_id": None, "debit_at": None, "payment_id": None, "reason": None,
                          "error_reason": None, "credited_paise": 0, "next_check_at": now, "lease_owner": None,
                          "lease_until": None, "created_at": now, "updated_at": now, "concluded_at": None})
    return fresh(db, cid)


def set_state(db, c: dict, state: str, **sets) -> dict:
    now = clock.now()
    sets.update(state=state, updated_at=now)
    if state in FINAL:
        sets["concluded_at"] = now
    coll(db).update_one({"_id": c["_id"], "state": c["state"]}, {"$set": sets})
    return fresh(db, c["_id"])


def open_charges(db) -> list[dict]:
    rows = [c for st in OPEN for c in coll(db).find({"state": st}).hint([("state", 1)])]
    rows.sort(key=lambda c: clock.as_utc(c["created_at"]))
    return rows


def committed(db, user_id: str, *, since: datetime) -> int:
    """Paise of the customer's top-ups planned since `since` that are credited or may still be."""
    return sum(int(c["amount_paise"]) for c in coll(db).find({"user_id": user_id})
               if c["state"] in COUNTED and clock.as_utc(c["created_at"]) >= since)


def taken(db, user_id: str, *, since: datetime) -> int:
    """Paise of the customer's top-ups planned since `since` that were credited: money actually taken."""
    return sum(int(c.get("credited_paise") or 0) for c in coll(db).find({"user_id": user_id})
               if c["state"] == CREDITED and clock.as_utc(c["created_at"]) >= since)


def of_user(db, user_id: str, limit: int = 20) -> list[dict]:
    rows = sorted(coll(db).find({"user_id": user_id}), key=lambda c: clock.as_utc(c["created_at"]), reverse=True)
    return [public(c) for c in rows[:limit]]


def recent(db, limit: int = 500) -> list[dict]:
    rows = sorted(coll(db).find({}), key=lambda c: clock.as_utc(c["created_at"]), reverse=True)
    return [public(c) for c in rows[:limit]]


def public(c: dict) -> dict:
    return {"id": c["_id"], "user_id": c["user_id"], "attempt": int(c["attempt"]), "state": c["state"],
            "amount_paise": int(c["amount_paise"]), "method": c.get("method"), "order_id": c.get("order_id"),
            "payment_id": c.get("payment_id"), "debit_at": clock.as_utc(c.get("debit_at")),
            "reason": c.get("reason"), "credited_paise": int(c.get("credited_paise") or 0),
            "created_at": clock.as_utc(c["created_at"]), "concluded_at": clock.as_utc(c.get("concluded_at"))}


# ------------------------------------------------------------------------------------------ lease

def claim(db, c: dict, now: datetime) -> bool:
    me, owner = procs.owner(), c.get("lease_owner")
    if owner and owner != me and clock.as_utc(c["lease_until"]) > now and procs.owner_gone(owner) is not True:
        return False
    res = coll(db).update_one({"_id": c["_id"], "lease_owner": owner},
                              {"$set": {"lease_owner": me, "lease_until": now + LEASE}})
    return res.matched_count == 1


def release(db, c: dict) -> None:
    coll(db).update_one({"_id": c["_id"], "lease_owner": procs.owner()},
                        {"$set": {"lease_owner": None, "lease_until": None}})


# ------------------------------------------------------------------------------------------ steps

def announce(db, cfg, m: dict, c: dict, notice: timedelta) -> dict:
    """planned -> notified: our recharge record, then the order with its pre-debit notification (found by
    its receipt if an earlier try made it). Raises gateway.FAILURES when Razorpay cannot be asked."""
    user = users.get(db, c["user_id"])
    made_now = records.insert_once(db, records.build("order", user, c["amount_paise"], cfg.mode, ref=c["ref"],
                                                     purpose="auto_recharge"))
    # An earlier try (killed, or its answer lost) may have made the order: Razorpay accepts a receipt
    # again, so it is looked up by its receipt before one is made (never twice: the charge's lease).
    known = None if made_now else (records.get(db, c["ref"]) or {}).get("order_id")
    order = None if made_now else find_order(cfg, c["ref"], known=known)
    payment_after = math.ceil((clock.now() + notice).timestamp())
    if order is None:
        order = gateway.create_order(cfg, order_body(m, c, payment_after))
    if order.get("receipt") != c["ref"] or to_int(order.get("amount")) != c["amount_paise"]:
        raise gateway.RazorpayDown("order answer does not match the charge")
    records.update(db, c["ref"], {"order_id": order["id"], "last_error": None}, status="created")
    webhooks.adopt_events(db, c["ref"], first=events.seen)
    notification = order.get("notification") or {}
    # an e-mandate's order carries no notification: our own notice (alerts) still gives the customer the time
    debit_at = datetime.fromtimestamp(int(notification.get("payment_after") or payment_after), timezone.utc)
    return set_state(db, c, NOTIFIED, order_id=order["id"], notification_id=notification.get("id"),
                     debit_at=debit_at)


def order_body(m: dict, c: dict, payment_after: int) -> dict:
    """A debit's order. UPI and card debits carry the pre-debit `notification` (the merchant controls the
    notice); an e-mandate debit sends none (Razorpay's recurring docs and SDK fixtures)."""
    body = {"amount": c["amount_paise"], "currency": "INR", "receipt": c["ref"], "payment_capture": True,
            "notes": {"user_id": c["user_id"], "reference_id": c["ref"], "auto_recharge": c["_id"]}}
    if m["method"] != "emandate":
        body["notification"] = {"token_id": m["token_id"], "payment_after": payment_after}
    return body


def recurring_body(user: dict, m: dict, c: dict) -> dict:
    """`POST /v1/payments/create/recurring`, the fields of Razorpay's SDK fixture."""
    return {"email": user["email"], "contact": user.get("contact") or "", "amount": c["amount_paise"],
            "currency": "INR", "order_id": c["order_id"], "customer_id": m["customer_id"], "token": m["token_id"],
            "recurring": "1", "description": "Wallet auto-recharge",
            "notes": {"user_id": c["user_id"], "reference_id": c["ref"], "auto_recharge": c["_id"]}}


def find_order(cfg, ref: str, *, known: str | None = None) -> dict | None:
    """The charge's order at Razorpay (`GET /v1/orders?receipt=`), made by an earlier try."""
    return order_of_receipt(gateway.list_orders(cfg, {"receipt": ref}), ref, known=known)


def order_of_receipt(answer: dict, ref: str, *, known: str | None = None) -> dict | None:
    """From a list of orders: the one whose id we kept (`known`), else the first made with this receipt
    (receipts are not unique at Razorpay; under the charge's lease there is one, but be exact)."""
    found = [o for o in answer.get("items") or [] if isinstance(o, dict) and o.get("receipt") == ref]
    mine = [o for o in found if known and o.get("id") == known]
    found.sort(key=lambda o: (o.get("created_at") or 0, str(o.get("id"))))
    chosen = mine or found
    return chosen[0] if chosen else None


def debit(db, cfg, m: dict, c: dict) -> dict:
    """notified -> debiting (or failed): the order's payment if an earlier try made one, else the recurring
    payment now. The caller has checked that the mandate and its token allow it."""
    pays = [p for p in gateway.list_order_payments(cfg, c["order_id"]).get("items") or [] if isinstance(p, dict)]
    live = [p for p in pays if p.get("status") in LIVE_PAYMENT and valid_id(p.get("id"))]
    if live:
        return set_state(db, c, DEBITING, payment_id=live[0]["id"], next_check_at=clock.now())
    failed = [p for p in pays if p.get("status") == "failed"]
    if failed:
        return fail(db, c, failed[0])
    user = dict(users.get(db, c["user_id"]), contact=users.phone(db, c["user_id"]))
    try:
        res = gateway.create_recurring_payment(cfg, recurring_body(user, m, c))
    except gateway.RazorpayRefused as exc:
        return set_state(db, c, FAILED, reason=f"Razorpay refused the debit: {exc}"[:300], error_reason="refused")
    pid = res.get("razorpay_payment_id")
    if not valid_id(pid):
        raise gateway.RazorpayDown("recurring payment answer without a payment id")
    return set_state(db, c, DEBITING, payment_id=pid, next_check_at=clock.now())


def fail(db, c: dict, pay: dict) -> dict:
    reason = pay.get("error_description") or "The debit did not go through."
    return set_state(db, c, FAILED, payment_id=pay.get("id"), reason=str(reason)[:300],
                     error_reason=str(pay.get("error_reason") or "")[:80] or None)


def observe(db, c: dict) -> dict:
    """debiting -> credited | failed, as our recharge record shows it (webhook or reconciliation wrote it);
    when it shows nothing yet, reconcile the record now and then (payments' own third path)."""
    c = _outcome(db, c)
    now = clock.now()
    if c["state"] != DEBITING or clock.as_utc(c["next_check_at"]) > now:
        return c
    try:
        reconcile_link(db, c["ref"])
    except PaymentUnavailable:
        pass
    age = now - clock.as_utc(c["updated_at"])
    coll(db).update_one({"_id": c["_id"]}, {"$set": {"next_check_at": now + records.poll_interval(age)}})
    return _outcome(db, fresh(db, c["_id"]))


def _outcome(db, c: dict) -> dict:
    rec = get_link(db, c["ref"])
    if c["payment_id"] in rec["payments"]:
        return set_state(db, c, CREDITED, credited_paise=int(rec["payments"][c["payment_id"]]))
    failed = rec.get("last_failed")
    if failed and failed.get("payment_id") == c["payment_id"]:
        return fail(db, c, {"id": c["payment_id"], "error_description": failed.get("error_description"),
                            "error_reason": failed.get("error_reason")})
    return c


SKIPPED_BY_YOU = "Skipped by you."


def skip(db, c: dict) -> dict:
    """The customer skips a top-up not yet debited (planned or announced): it is not taken. Under the
    charge's lease, so a worker about to debit it either finishes first (then it is no longer skippable)
    or finds it skipped; its order's record is closed, so nothing lists it as still to come. Returns the
    charge as it stands (skipped, or whatever it had become)."""
    if not claim(db, c, clock.now()):
        return fresh(db, c["_id"])  # a worker is on it right now: the caller says so
    try:
        now = fresh(db, c["_id"])
        if now["state"] in (PLANNED, NOTIFIED):
            now = set_state(db, now, SKIPPED, reason=SKIPPED_BY_YOU)
        if now["state"] == SKIPPED and now["reason"] == SKIPPED_BY_YOU and records.get(db, now["ref"]) is not None:
            records.update(db, now["ref"], status="abandoned")  # never debited: the order stays unpaid
        return now
    finally:
        release(db, c)


def credited(db, cid: str | None) -> bool:
    """Was this charge's payment credited after all (a failure can be captured late under its id)?"""
    c = get(db, cid)
    if c is None or not c.get("payment_id"):
        return False
    return c["payment_id"] in get_link(db, c["ref"])["payments"]


def revoked(c: dict) -> bool:
    return (c.get("error_reason") or "") in REVOKED_REASONS
