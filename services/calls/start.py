"""Starting a call: record it, hold its first slice (docs/calls.md, "Start").

The hold is the call's activation: it keeps the grant (`state`), so the call document stays "starting"
and `records.live` reads it as active while the hold is open. Two writes after the day's listing: the
call, then the hold's compare-and-set.
"""
from __future__ import annotations

import uuid

from services import accounts, clock, ids, ledger, rates, settings
from services.calls import days
from services.calls.billing import finish
from services.calls.records import (ACTIVE, ENDING, FAILED, REFUSED, STARTING, check_duration, check_kb_id,
                                    check_max_minutes, grant_fields, grant_result, hold_id, insert, live,
                                    max_seconds, normalize_number, own, slice_seconds, tariff_of)
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound, SpendCapReached, TooManyCalls
from services.money import format_rupees
from services.pricing import Tariff, affordable_seconds, call_price

# What a client refused for too many simultaneous calls is told to wait before trying again.
RETRY_AFTER_SECONDS = 5


def start_call(db, user_id: str, to_number: str, kb_id: str, max_minutes: int | None = None, *,
               call_id: str | None = None, category: str = "call", campaign_id: str | None = None,
               need_seconds: int = 0, tariff: Tariff | None = None, key_id: str | None = None) -> dict:
    """Authorise a call's first slice and return its grant: dict(call_id, status, rate_paise, plan,
    held_paise, authorized_seconds, end_at_seconds, max_duration_seconds, usage_seconds).

    The first slice is the lesser of the call's maximum length and settings call_slice_seconds, and at
    least `need_seconds` (a campaign's expected length, which must be covered in full). The tariff is the
    user's plan in force now (or `tariff`, a campaign's agreed one) and stays the call's to its end.
    Raises InvalidInput, InsufficientBalance (available below the minimum to start), SpendCapReached
    (the first slice would pass today's cap), TooManyCalls (the user's simultaneous-call limit). Refusals
    are recorded as calls with status "refused". With `call_id` the start is idempotent: repeating it
    returns the call as it stands, or retries one that was refused or failed. With `key_id` (the API key
    that places it), the key's caps and simultaneous calls bind it too (SpendCapReached / TooManyCalls
    naming the key), for its whole length.
    """
    ids.check_user_id(user_id)
    to_number = normalize_number(to_number)
    check_kb_id(kb_id)
    check_max_minutes(max_minutes)
    check_duration(need_seconds, "Seconds the call must cover")
    if category not in ledger.CALL_CATEGORIES:
        raise InvalidInput(f"Call category must be one of {', '.join(ledger.CALL_CATEGORIES)}.")
    cfg = settings.get(db)
    minutes = max_minutes or cfg["default_call_minutes"]
    if need_seconds > minutes * 60:
        raise InvalidInput("A call cannot need more seconds than its maximum length.")
    fresh = call_id is None
    call_id = ids.check_call_id(call_id) if call_id is not None else "call_" + uuid.uuid4().hex
    while True:
        attempt = _attempt(db, user_id, tariff, minutes, need_seconds, cfg)
        doc = {"_id": call_id, "user_id": user_id, "to_number": to_number, "kb_id": kb_id,
               "category": category, "campaign_id": campaign_id, "key_id": key_id, **attempt}
        # The call document exists BEFORE the hold: recovery finds every hold through its call.
        if insert(db, doc):
            days.note(db, doc)
            return _take_hold(db, doc, cfg)
        if fresh:  # a random id collided: impossible in practice, but never reuse someone's call
            raise Conflict("Could not create the call; please try again.")
        cur = db.calls.find_one({"_id": call_id})
        if cur is None:
            continue
        out = _again(db, cur, attempt, user_id, to_number, kb_id, cfg)
        if out is not None:
            return out


def _attempt(db, user_id: str, tariff: Tariff | None, minutes: int, need: int, cfg: dict) -> dict:
    t = clock.now()
    tariff = tariff or rates.tariff_for(db, user_id, t)  # the price is fixed here, at the start
    return {"status": STARTING, "tariff": tariff.to_doc(), "rate_paise": tariff.rate_paise, "max_minutes": minutes,
            "slice_seconds": cfg["call_slice_seconds"], "need_seconds": need, "started_at": t, "updated_at": t,
            "attempts": 1, "hold_id": None}


def _again(db, cur: dict, attempt: dict, user_id: str, to_number: str, kb_id: str, cfg: dict) -> dict | None:
    """A start repeated with the id of an existing call: its state, or a new attempt (None: re-read)."""
    if cur["user_id"] != user_id:
        raise NotFound(f"No call {cur['_id']}.")
    if cur["to_number"] != to_number or cur["kb_id"] != kb_id:
        raise Conflict(f"Call {cur['_id']} was started for a different number or knowledge base.")
    cur = live(db, cur)
    if cur["status"] == ENDING and "closed" in cur:  # it ended and was billed; only its completion was lost
        finish(db, cur)
        return grant_result(own(db, user_id, cur["_id"]))
    if cur["status"] == STARTING:  # its first start may have died before listing it, or before its hold
        days.note(db, cur)
        return _take_hold(db, cur, cfg)
    if cur["status"] not in (REFUSED, FAILED):
        return grant_result(cur)
    # Holds nothing: a new attempt at today's tariff, under a fresh hold id (the last attempt's may have
    # been taken and released, and the ledger never reopens a resolved hold). Billed once: the debit key
    # stays per call.
    n = int(cur.get("attempts", 1)) + 1
    attempt.update(attempts=n, hold_id=f"{cur['_id']}:{n}")
    res = db.calls.update_one({"_id": cur["_id"], "status": cur["status"], "attempts": cur.get("attempts", 1)},
                              {"$set": attempt, "$unset": {"reason": "", "message": "", "ended_at": ""}})
    if res.matched_count != 1:
        return None
    days.note(db, dict(cur, **attempt))  # listed again under its new start time
    return _take_hold(db, dict(cur, **attempt), cfg)


def first_slice(doc: dict) -> int:
    return min(max_seconds(doc), max(slice_seconds(doc), int(doc.get("need_seconds") or 0)))


def _take_hold(db, doc: dict, cfg: dict) -> dict:
    """Hold the first slice (or what the wallet has, if at least the minimum to start) and make the call
    active. The minimum, the daily cap and the simultaneous-call limit are checked by the ledger inside
    the hold's own compare-and-set: two racing starts cannot both squeeze under them."""
    uid, cid, hid = doc["user_id"], doc["_id"], hold_id(doc)
    tariff = tariff_of(doc)
    amount = max(call_price(first_slice(doc), tariff), tariff.attempt_fee_paise, 1)
    # Never start a call that cannot pay for its first billable block, its fee or what it must cover.
    floor = max(cfg["min_call_balance_paise"], call_price(1, tariff), tariff.attempt_fee_paise,
                call_price(int(doc.get("need_seconds") or 0), tariff))
    limits = settings.limits_for(db, uid)
    budget = accounts.keys.budget_for(db, doc.get("key_id"))
    try:
        held = ledger.hold(db, uid, hid, amount, min_amount=floor, daily_cap=limits["daily_cap_paise"],
                           ref=f"call:{cid}", max_open=limits["max_concurrent_calls"], budget=budget,
                           state={"target": first_slice(doc), "usage": 0})
    except Conflict:
        # This attempt's hold id is resolved already (recovery gave up on a start that seemed dead): the
        # ledger never reopens it, so continue under the next attempt's id if the call is still starting.
        return _take_hold(db, _next_hold_id(db, doc), cfg)
    except InsufficientBalance as exc:
        avail = exc.available if exc.available is not None else ledger.get_wallet(db, uid).available
        msg = (f"Insufficient balance to start a call: {format_rupees(avail)} available, at least "
               f"{format_rupees(max(floor, 1))} needed. Please recharge.")
        _refuse(db, cid, "insufficient_balance", msg)
        raise InsufficientBalance(msg, available=avail, needed=max(floor, 1)) from None
    except SpendCapReached as exc:
        msg = _cap_message(exc, tariff) if exc.key is None else f"{exc.message} {_fits(exc, tariff)}"
        _refuse(db, cid, "spend_cap" if exc.key is None else "key_spend_cap", msg)
        raise SpendCapReached(msg, cap=exc.cap, committed=exc.committed, wanted=exc.wanted, key=exc.key) from None
    except TooManyCalls as exc:
        msg = (f"You already have {exc.limit} call{'s' if exc.limit != 1 else ''} on the line, your limit of "
               f"simultaneous calls. Try again when one ends.") if exc.key is None else \
            f"{exc.message} Try again when one ends."
        _refuse(db, cid, "too_many_calls" if exc.key is None else "key_too_many_calls", msg)
        raise TooManyCalls(msg, limit=exc.limit, retry_after=RETRY_AFTER_SECONDS, key=exc.key) from None
    return grant_result(dict(doc, **activation(doc, held)))


def _next_hold_id(db, doc: dict) -> dict:
    n = int(doc.get("attempts", 1)) + 1
    nxt = {"attempts": n, "hold_id": f"{doc['_id']}:{n}"}
    res = db.calls.update_one({"_id": doc["_id"], "status": STARTING, "attempts": doc.get("attempts", 1)},
                              {"$set": nxt})
    if res.matched_count != 1:
        raise Conflict("The call could not be started; please try again.")
    return dict(doc, **nxt)


def activation(doc: dict, held: int) -> dict:
    """The call as its first hold of `held` paise makes it: active, with what the hold authorises."""
    return {"status": ACTIVE, **grant_fields(doc, held, first_slice(doc)), "steps": 0, "usage_seconds": 0}


def _cap_message(exc: SpendCapReached, tariff: Tariff) -> str:
    """Why this call does not fit under the daily cap, and what would: `committed` is today's debits +
    every open hold (those calls may still be billed today)."""
    if exc.cap is None or exc.committed is None or exc.wanted is None:
        return exc.message  # raised without its figures
    return (f"Daily spend limit of {format_rupees(exc.cap)} reached: {format_rupees(exc.committed)} already "
            f"spent or reserved today, and this call needs {format_rupees(exc.wanted)} to start. "
            f"{_fits(exc, tariff, 'Try again tomorrow or ask an admin to raise the limit.')}")


def _fits(exc: SpendCapReached, tariff: Tariff, otherwise: str = "") -> str:
    """A shorter call that would fit under the cap, or what else to do."""
    fits = affordable_seconds(exc.room or 0, tariff) // 60
    return (f"A call of up to {fits} minute{'s' if fits != 1 else ''} would fit." if fits >= 1 else otherwise or
            f"Try again when the key's cap starts again (a daily one at midnight {clock.abbr()}) or ask an owner "
            "to raise it.")


def _refuse(db, cid: str, reason: str, message: str) -> None:
    t = clock.now()
    db.calls.update_one({"_id": cid, "status": STARTING},
                        {"$set": {"status": REFUSED, "reason": reason, "message": message, "ended_at": t,
                                  "updated_at": t}})
