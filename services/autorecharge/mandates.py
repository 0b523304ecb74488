"""Mandate documents: one current mandate per customer (`autorecharge_mandates`, `_id` = user id), the
ones it replaced (`autorecharge_history`), their states and every move between them.

States: `pending` (waiting for the customer's authorisation), `active`, `paused` (by the customer here,
or at their bank / in their UPI app), `cancelled` (here, or revoked at the bank), `rejected` (the
authorisation failed or its link lapsed). A move is a compare-and-set on the state it leaves, so two
processes (a webhook, the worker, a click) never undo each other. What the token at Razorpay says is
applied by `apply_token`, whichever path brought it.

`in_flight` names the one charge that may be under way (Razorpay: one debit per token until it has a
final status); `era` grows at every resume, so a crossing after a pause is a new one; `seen_n`/`basis_n`
follow the wallet's entries (services.autorecharge.planner).
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from services import clock, ledger
from services.db import insert_new
from services.errors import Conflict

PENDING, ACTIVE, PAUSED, CANCELLED, REJECTED = "pending", "active", "paused", "cancelled", "rejected"
LIVE = (PENDING, ACTIVE, PAUSED)
LABELS = {PENDING: "pending authorisation", ACTIVE: "active", PAUSED: "paused", CANCELLED: "cancelled",
          REJECTED: "rejected", "off": "off"}
FREQUENCY = "as_presented"  # see docs/autorecharge.md: the one UPI frequency that allows several top-ups
REVOKED = "Your mandate was cancelled at your bank or in your UPI app, so auto-recharge turned itself off."
BANK_PAUSED = "Paused at your bank or in your UPI app: resume it there."
# A pending mandate is asked about by its age (webhooks usually come first): (age below, interval).
POLL_STEPS = ((timedelta(minutes=10), timedelta(seconds=5)), (timedelta(hours=1), timedelta(minutes=2)),
              (timedelta(days=1), timedelta(minutes=10)))
POLL_SLOWEST = timedelta(hours=1)
MANDATE_LIFE = timedelta(days=3652)  # ten years: the mandate lasts until cancelled, in practice


def coll(db):
    return db.autorecharge_mandates


def get(db, user_id: str) -> dict | None:
    return coll(db).find_one({"_id": user_id})


def fresh(db, user_id: str) -> dict:
    """A mandate as stored now, read again by a caller that has seen it (mandates are never deleted)."""
    m = get(db, user_id)
    if m is None:
        raise LookupError(f"mandate of {user_id} is missing")
    return m


def by_token(db, token_id: str | None) -> dict | None:
    return coll(db).find_one({"token_id": token_id}) if isinstance(token_id, str) and token_id else None


def by_auth_order(db, order_id: str | None) -> dict | None:
    return coll(db).find_one({"auth_order_id": order_id}) if isinstance(order_id, str) and order_id else None


def in_states(db, states) -> list[dict]:
    """The mandates in these states, through the state index (the ended ones are never read)."""
    return [m for st in states for m in coll(db).find({"state": st}).hint([("state", 1)])]


def to_close(db) -> list[dict]:
    """Ended mandates whose token or registration link must still be closed at Razorpay."""
    return list(coll(db).find({"razorpay_open": True}).hint([("razorpay_open", 1)]))


def in_flight(db) -> list[dict]:
    """Mandates with a charge under way (or one a crash left half-written)."""
    return list(coll(db).find({"in_flight": {"$gte": ""}}).hint([("in_flight", 1)]))


def changed_since(db, t: datetime) -> list[dict]:
    """Mandates whose own document changed at or after `t` (states, settings, the charge under way)."""
    return list(coll(db).find({"updated_at": {"$gte": t}}).hint([("updated_at", 1)]))


def plan_again(db, now: datetime) -> list[dict]:
    """Mandates whose caps refused a top-up in a month or day that has ended since (`plan_again_at`)."""
    return list(coll(db).find({"plan_again_at": {"$lte": now}}).hint([("plan_again_at", 1)]))


def set_plan_again(db, m: dict, at: datetime | None) -> None:
    """When the planner must look at this mandate again though nothing changed (caps reopen); not a change
    of the mandate itself (`updated_at` stays)."""
    coll(db).update_one({"_id": m["_id"], "no": m["no"]}, {"$set": {"plan_again_at": at}})


# ------------------------------------------------------------------------------------------ create

def start(db, user_id: str, terms, *, auth_amount: int) -> dict:
    """Store a new pending mandate (BEFORE Razorpay is asked for anything), replacing an ended one."""
    cur = get(db, user_id)
    if cur is not None and cur["state"] in LIVE:
        raise Conflict("Auto-recharge is already set up: change its settings, or cancel it first.")
    now = clock.now()
    doc = {"_id": user_id, "user_id": user_id, "no": (cur["no"] + 1) if cur else 1, "state": PENDING,
           "reason": None, **terms.fields(), "max_amount_paise": terms.amount_paise, "frequency": FREQUENCY,
           "expire_at": now + MANDATE_LIFE, "auth_amount_paise": auth_amount,
           "auth_ref": "wm_" + secrets.token_hex(12), "customer_id": None, "registration_id": None,
           "auth_url": None, "auth_order_id": None, "registered_at": None, "token_id": None, "token_status": None,
           "paused_by": None, "cancelled_by": None, "razorpay_open": False, "in_flight": None,
           "charged_crossing": None, "era": 0,
           "seen_n": 0, "basis_n": 0, "setup_error": None, "next_check_at": now, "token_checked_at": None,
           "created_at": now, "updated_at": now, "activated_at": None, "ended_at": None}
    if cur is None:
        if not insert_new(coll(db), doc):
            raise Conflict("Auto-recharge was set up a moment ago.")
        return doc
    insert_new(db.autorecharge_history, dict(cur, _id=f"{user_id}:{cur['no']}"))
    res = coll(db).update_one({"_id": user_id, "no": cur["no"], "state": cur["state"]},
                              {"$set": {k: v for k, v in doc.items() if k != "_id"}})
    if res.matched_count != 1:
        raise Conflict("Auto-recharge was changed a moment ago; try again.")
    return doc


def registered(db, m: dict, *, customer_id: str, invoice: dict) -> dict:
    """Razorpay made the registration link: keep its ids (the customer authorises on `auth_url`)."""
    return update(db, m, {"customer_id": customer_id, "registration_id": invoice["id"],
                          "auth_url": invoice["short_url"], "auth_order_id": invoice.get("order_id"),
                          "registered_at": invoice.get("created_at"), "setup_error": None})


# ------------------------------------------------------------------------------------------ moves

def update(db, m: dict, sets: dict) -> dict:
    """Plain fields of this very mandate (not one that replaced it)."""
    coll(db).update_one({"_id": m["_id"], "no": m["no"]}, {"$set": dict(sets, updated_at=clock.now())})
    return get(db, m["_id"]) or m


def move(db, m: dict, to: str, *, sets: dict | None = None, only_from=None) -> bool:
    """Compare-and-set of the state: from `only_from` (default: the state `m` was read in) to `to`."""
    now = clock.now()
    sets = dict(sets or {}, state=to, updated_at=now)
    if to in (CANCELLED, REJECTED):
        sets.setdefault("ended_at", now)
    if to == ACTIVE and m["state"] == PENDING:
        w = ledger.get_wallet(db, m["user_id"])
        sets.update(activated_at=now, seen_n=w.entries, basis_n=w.entries)
    flt = {"_id": m["_id"], "no": m["no"], "state": {"$in": list(only_from or [m["state"]])}}
    return coll(db).update_one(flt, {"$set": sets}).matched_count == 1


def pause(db, m: dict) -> None:
    if m["state"] == PAUSED:
        return
    if m["state"] != ACTIVE or not move(db, m, PAUSED, sets={"paused_by": "you", "reason": "Paused by you."}):
        raise Conflict("Only an active auto-recharge can be paused.")


def resume(db, m: dict) -> None:
    if m["state"] == ACTIVE:
        return
    if m["state"] != PAUSED:
        raise Conflict("Only a paused auto-recharge can be resumed.")
    if m.get("paused_by") == "bank":
        raise Conflict(BANK_PAUSED)
    if not move(db, m, ACTIVE, sets={"paused_by": None, "reason": None, "era": int(m.get("era", 0)) + 1}):
        raise Conflict("Auto-recharge was changed a moment ago; try again.")


def cancel(db, m: dict, *, by: str, reason: str) -> bool:
    """End a live mandate (`by`: you | bank | system). Something left at Razorpay is closed later."""
    return move(db, m, CANCELLED, only_from=LIVE,
                sets={"cancelled_by": by, "reason": reason, "razorpay_open": by != "bank"})


def set_in_flight(db, m: dict, charge_id: str | None, *, was: str | None, crossing: str | None = None) -> bool:
    """Compare-and-set of the charge under way; a first charge also marks its crossing as charged (so the
    planner never asks the charges collection whether one exists: a miss there is a scan)."""
    sets = {"in_flight": charge_id, "updated_at": clock.now()}
    flt = {"_id": m["_id"], "no": m["no"], "in_flight": was}
    if crossing is not None:  # and never twice: a planner reading a stale mandate loses here
        sets["charged_crossing"] = crossing
        flt["charged_crossing"] = {"$ne": crossing}
    return coll(db).update_one(flt, {"$set": sets}).matched_count == 1


def attach_token(db, m: dict, token_id: str) -> None:
    if m.get("token_id") is None:
        coll(db).update_one({"_id": m["_id"], "no": m["no"], "token_id": None},
                            {"$set": {"token_id": token_id, "next_check_at": clock.now()}})


def checked(db, m: dict) -> None:
    """A pending mandate was asked about: the next time by its age (POLL_STEPS)."""
    now = clock.now()
    age = now - clock.as_utc(m["created_at"])
    wait = next((step for below, step in POLL_STEPS if age < below), POLL_SLOWEST)
    coll(db).update_one({"_id": m["_id"], "no": m["no"]}, {"$set": {"next_check_at": now + wait}})


# ------------------------------------------------------------------------------------------ the token

def token_state(token: dict) -> str | None:
    details = d if isinstance(d := token.get("recurring_details"), dict) else {}
    return details.get("status") or token.get("status")


def apply_token(db, m: dict, token: dict) -> str | None:
    """What Razorpay's token says, applied to its mandate. Returns "revoked" when the customer's bank
    cancelled the mandate (the caller tells them, once per mandate), else None."""
    status = token_state(token)
    sets = {"token_id": token.get("id"), "token_status": status, "token_checked_at": clock.now()}
    update(db, m, sets)
    m = dict(m, **sets)
    if status == "confirmed":
        _confirmed(db, m)
    elif status == "rejected" and m["state"] == PENDING:
        reason = (token.get("recurring_details") or {}).get("failure_reason") or "the bank did not register it"
        move(db, m, REJECTED, sets={"reason": f"The mandate was not authorised: {reason}.",
                                   "razorpay_open": True})
    elif status == "paused" and m["state"] == ACTIVE:
        move(db, m, PAUSED, sets={"paused_by": "bank", "reason": BANK_PAUSED})
    elif status in ("cancelled", "cancellation_initiated"):
        return _revoked(db, m)
    return None


def _revoked(db, m: dict) -> str | None:
    if m["state"] in LIVE:
        cancel(db, m, by="bank", reason=REVOKED)
    now = get(db, m["_id"]) or {}
    # "revoked" again after a crash between the cancel and the notice: the notice is keyed, told once
    return "revoked" if now.get("no") == m["no"] and now.get("cancelled_by") == "bank" else None


def _confirmed(db, m: dict) -> None:
    if m["state"] == PENDING:
        move(db, m, ACTIVE, sets={"reason": None})
    elif m["state"] == PAUSED and m.get("paused_by") == "bank":
        move(db, m, ACTIVE, sets={"paused_by": None, "reason": None, "era": int(m.get("era", 0)) + 1})
    elif m["state"] in (CANCELLED, REJECTED) and m.get("cancelled_by") != "bank":
        update(db, m, {"razorpay_open": True})  # authorised after we gave up on it: cancel that token


# ------------------------------------------------------------------------------------------ show

def all_mandates(db, limit: int = 500) -> list[dict]:
    """Every mandate, current and replaced, newest first (admins)."""
    rows = list(coll(db).find({})) + list(db.autorecharge_history.find({}))
    rows.sort(key=lambda m: clock.as_utc(m["created_at"]), reverse=True)
    return [public(m) for m in rows[:limit]]


def public(m: dict) -> dict:
    return {"user_id": m["user_id"], "no": m["no"], "state": m["state"], "label": LABELS[m["state"]],
            "reason": m.get("reason") or m.get("setup_error"), "threshold_paise": int(m["threshold_paise"]),
            "amount_paise": int(m["amount_paise"]), "monthly_cap_paise": int(m["monthly_cap_paise"]),
            "daily_cap_paise": None if m.get("daily_cap_paise") is None else int(m["daily_cap_paise"]),
            "method": m["method"], "frequency": m["frequency"], "max_amount_paise": int(m["max_amount_paise"]),
            "afa_accepted": bool(m.get("afa_accepted")), "authorisation_url": m.get("auth_url"),
            "customer_id": m.get("customer_id"), "token_id": m.get("token_id"),
            "token_status": m.get("token_status"), "paused_by": m.get("paused_by"),
            "cancelled_by": m.get("cancelled_by"), "created_at": clock.as_utc(m["created_at"]),
            "activated_at": clock.as_utc(m.get("activated_at")), "ended_at": clock.as_utc(m.get("ended_at"))}


def ts(t: datetime) -> int:
    return int(clock.as_utc(t).timestamp())


def from_ts(value) -> datetime | None:
    return datetime.fromtimestamp(value, timezone.utc) if isinstance(value, int) else None
