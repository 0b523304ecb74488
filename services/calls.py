"""AI voice calls billed from the wallet: hold at start, settle at end, never below zero.

A call document (`calls`, `_id` = call id = the hold id) moves through:

    starting -> active -> ending -> completed
    starting -> refused            (balance below the minimum, or the daily spend cap)
    starting -> failed             (recovery: interrupted before funds were held)
    active   -> expiring -> expired (recovery: never ended within stale_call_minutes; released, no charge)

Every step is one guarded single-document update (filter on the status it leaves) plus one idempotent
ledger step, so a crash at any point leaves a state `recover_stale_calls` (or simply repeating the
request) can finish. docs/calls.md walks through each kill point.
"""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

from services import clock, ledger, settings, telephony, users
from services.checks import whole_number
from services.db import insert_new
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound, SpendCapReached, WalletError
from services.money import cost_paise, covered_seconds, format_rupees

STARTING, ACTIVE, ENDING, COMPLETED = "starting", "active", "ending", "completed"
REFUSED, FAILED, EXPIRING, EXPIRED = "refused", "failed", "expiring", "expired"
MAX_CALL_MINUTES = settings.MAX_CALL_MINUTES
MAX_DURATION_SECONDS = 24 * 3600  # a reported duration beyond a day is a bug upstream, not a call
# A "starting" call younger than this may still be taking its hold in another process.
STARTING_GRACE = timedelta(minutes=1)

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_KB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
_CALL_ID = re.compile(r"^[A-Za-z0-9_\-]{1,90}$")  # room for the ":<attempt>" of later hold ids
_NUMBER_NOISE = re.compile(r"[\s\-().]")


# ------------------------------------------------------------------------------------ validation

def normalize_number(raw) -> str:
    """An E.164 number (`+919876543210`); spaces, dashes, dots and brackets are ignored."""
    if not isinstance(raw, str):
        raise InvalidInput("Phone number must be text like +919876543210.")
    n = _NUMBER_NOISE.sub("", raw.strip())
    if not _E164.match(n):
        shown = raw.strip()[:40]
        if n.isdigit():
            raise InvalidInput(f"{shown!r} needs a + and the country code, like +919876543210.")
        raise InvalidInput(f"{shown!r} is not a phone number in E.164 form, like +919876543210.")
    return n


def check_kb_id(kb_id) -> str:
    if not isinstance(kb_id, str) or not _KB_ID.match(kb_id):
        raise InvalidInput("Knowledge base id must be 1-64 letters, digits, '_' or '-'.")
    return kb_id


def check_max_minutes(max_minutes) -> int | None:
    if max_minutes is None:
        return None
    return whole_number(max_minutes, 1, MAX_CALL_MINUTES, what="Maximum call length", unit="of minutes")


def check_duration(seconds) -> int:
    return whole_number(seconds, 0, MAX_DURATION_SECONDS, what="Call duration", unit="of seconds")


def _check_call_id(call_id) -> str:
    if not isinstance(call_id, str) or not _CALL_ID.match(call_id):
        raise InvalidInput("Malformed call id.")
    return call_id


# ------------------------------------------------------------------------------------------ start

def start_call(db, user_id: str, to_number: str, kb_id: str, max_minutes: int | None = None, *,
               call_id: str | None = None, category: str = "call", campaign_id: str | None = None) -> dict:
    """Hold funds for a call's maximum length and return dict(call_id, max_duration_seconds,
    rate_paise, held_paise, status).

    Raises InvalidInput (bad number, kb_id, max_minutes), InsufficientBalance (available balance below
    settings min_call_balance_paise), SpendCapReached (its maximum cost could pass today's daily cap).
    Refusals are recorded as calls with status "refused". With `call_id` (campaign items) the start is
    idempotent: repeating it returns the call as it stands, or retries one that was refused or failed.
    """
    users.check_user_id(user_id)
    to_number = normalize_number(to_number)
    check_kb_id(kb_id)
    check_max_minutes(max_minutes)
    if category not in ledger.CALL_CATEGORIES:
        raise InvalidInput(f"Call category must be one of {', '.join(ledger.CALL_CATEGORIES)}.")
    cfg = settings.get(db)
    fresh = call_id is None
    call_id = _check_call_id(call_id) if call_id is not None else "call_" + uuid.uuid4().hex
    while True:
        t = clock.now()
        rate = settings.call_rate_for(db, user_id)  # the price is fixed here, at the start
        minutes = max_minutes or cfg["default_call_minutes"]
        attempt = {"status": STARTING, "rate_paise": rate, "max_minutes": minutes, "started_at": t,
                   "updated_at": t, "attempts": 1, "hold_id": call_id}
        doc = {"_id": call_id, "user_id": user_id, "to_number": to_number, "kb_id": kb_id,
               "category": category, "campaign_id": campaign_id, **attempt}
        # The call document exists BEFORE the hold: recovery finds every hold through its call.
        if _insert(db, doc):
            return _take_hold(db, doc, cfg)
        if fresh:  # a random id collided: impossible in practice, but never reuse someone's call
            raise Conflict("Could not create the call; please try again.")
        cur = db.calls.find_one({"_id": call_id})
        if cur is None:
            continue
        if cur["user_id"] != user_id:
            raise NotFound(f"No call {call_id}.")
        if cur["to_number"] != to_number or cur["kb_id"] != kb_id:
            raise Conflict(f"Call {call_id} was started for a different number or knowledge base.")
        if cur["status"] == STARTING:
            return _take_hold(db, cur, cfg)
        if cur["status"] in (REFUSED, FAILED):  # holds nothing: a new attempt at today's rate
            # A fresh hold id per attempt: the last attempt's may have been taken and released, and the
            # ledger refuses to reopen a resolved hold. The debit key stays per call: billed once.
            n = int(cur.get("attempts", 1)) + 1
            attempt.update(attempts=n, hold_id=f"{call_id}:{n}")
            res = db.calls.update_one({"_id": call_id, "status": cur["status"], "attempts": cur.get("attempts", 1)},
                                      {"$set": attempt, "$unset": {"reason": "", "message": "", "ended_at": ""}})
            if res.matched_count == 1:
                return _take_hold(db, dict(cur, **attempt), cfg)
            continue
        return _start_result(cur)


def _hold_id(doc: dict) -> str:
    return doc.get("hold_id") or doc["_id"]


def _take_hold(db, doc: dict, cfg: dict) -> dict:
    """Hold the call's maximum cost (or what the wallet has, if at least the minimum to start) and make
    the call active. The minimum balance and the daily cap are checked by the ledger inside the hold's
    own compare-and-set: two racing starts cannot both squeeze under the cap."""
    uid, cid, hid = doc["user_id"], doc["_id"], _hold_id(doc)
    rate, minutes = int(doc["rate_paise"]), int(doc["max_minutes"])
    floor = cfg["min_call_balance_paise"]
    cap = settings.user_overrides(db, uid).get("daily_cap_paise")
    try:
        held = ledger.hold(db, uid, hid, minutes * rate, min_amount=floor, daily_cap=cap, ref=f"call:{cid}")
    except Conflict:
        # This attempt's hold was taken and given back already (an earlier run of this start died
        # after giving it back): the ledger never reopens it, so continue under the next attempt's id.
        return _take_hold(db, _next_hold_id(db, doc), cfg)
    except InsufficientBalance as exc:
        avail = exc.available if exc.available is not None else ledger.get_wallet(db, uid).available
        msg = (f"Insufficient balance to start a call: {format_rupees(avail)} available, at least "
               f"{format_rupees(max(floor, 1))} needed. Please recharge.")
        _refuse(db, cid, "insufficient_balance", msg)
        raise InsufficientBalance(msg, available=avail, needed=max(floor, 1)) from None
    except SpendCapReached as exc:
        msg = _cap_message(exc, rate)
        _refuse(db, cid, "spend_cap", msg)
        raise SpendCapReached(msg, cap=exc.cap, committed=exc.committed, wanted=exc.wanted) from None
    return _activate(db, doc, held)


def _next_hold_id(db, doc: dict) -> dict:
    n = int(doc.get("attempts", 1)) + 1
    nxt = {"attempts": n, "hold_id": f"{doc['_id']}:{n}"}
    res = db.calls.update_one({"_id": doc["_id"], "status": STARTING, "attempts": doc.get("attempts", 1)},
                              {"$set": nxt})
    if res.matched_count != 1:
        raise Conflict("The call could not be started; please try again.")
    return dict(doc, **nxt)


def _activate(db, doc: dict, held: int) -> dict:
    """Guarded starting -> active with the held amount and the longest call it pays for."""
    uid, cid, rate = doc["user_id"], doc["_id"], int(doc["rate_paise"])
    max_secs = min(int(doc["max_minutes"]) * 60, covered_seconds(held, rate))
    t = clock.now()
    res = db.calls.update_one({"_id": cid, "status": STARTING},
                              {"$set": {"status": ACTIVE, "held_paise": held, "max_duration_seconds": max_secs,
                                        "active_at": t, "updated_at": t}})
    if res.matched_count != 1:
        cur = db.calls.find_one({"_id": cid})
        if cur is not None and cur["status"] in (ACTIVE, ENDING, COMPLETED):
            return _start_result(cur)  # recovery activated it meanwhile: same hold, same call
        ledger.release(db, uid, _hold_id(doc))  # recovery gave up on it: give the money back
        raise Conflict("The call could not be started; please try again.")
    return {"call_id": cid, "max_duration_seconds": max_secs, "rate_paise": rate, "held_paise": held,
            "status": ACTIVE}


def _cap_message(exc: SpendCapReached, rate: int) -> str:
    """Why this call does not fit under the daily cap, and what would: `committed` is today's debits +
    every open hold (those calls may still be billed today)."""
    fits = exc.room // rate
    hint = (f" A call of up to {fits} minute{'s' if fits != 1 else ''} would fit." if fits >= 1
            else " Try again tomorrow or ask an admin to raise the limit.")
    return (f"Daily spend limit of {format_rupees(exc.cap)} reached: {format_rupees(exc.committed)} already "
            f"spent or reserved today, and this call could cost up to {format_rupees(exc.wanted)}.{hint}")


def _refuse(db, cid: str, reason: str, message: str) -> None:
    t = clock.now()
    db.calls.update_one({"_id": cid, "status": STARTING},
                        {"$set": {"status": REFUSED, "reason": reason, "message": message, "ended_at": t,
                                  "updated_at": t}})


def _start_result(doc: dict) -> dict:
    return {"call_id": doc["_id"], "max_duration_seconds": int(doc.get("max_duration_seconds") or 0),
            "rate_paise": int(doc["rate_paise"]), "held_paise": int(doc.get("held_paise") or 0),
            "status": doc["status"]}


# -------------------------------------------------------------------------------------------- end

def end_call(db, user_id: str, call_id: str, duration_seconds: int) -> dict:
    """Bill a call: ceil(seconds x rate / 60) at the rate of its start, capped at its maximum length
    (then `cut_off` is True). Returns dict(call_id, billed_seconds, cost_paise, status, balance_paise,
    cut_off). Ending again returns the first result, whatever duration is passed.
    """
    users.check_user_id(user_id)
    _check_call_id(call_id)
    seconds = check_duration(duration_seconds)
    doc = _own(db, user_id, call_id)
    while True:
        st = doc["status"]
        if st == COMPLETED:
            return _end_result(doc)
        if st == ENDING:
            return _bill(db, doc)
        if st == ACTIVE:
            billed = min(seconds, int(doc["max_duration_seconds"]))
            t = clock.now()
            # The duration is recorded before any money moves: recovery can finish a half-ended call.
            fields = {"status": ENDING, "requested_seconds": seconds, "billed_seconds": billed,
                      "cost_paise": cost_paise(billed, int(doc["rate_paise"])),
                      "cut_off": seconds > int(doc["max_duration_seconds"]), "ending_at": t, "updated_at": t}
            res = db.calls.update_one({"_id": call_id, "status": ACTIVE}, {"$set": fields})
            if res.matched_count == 1:
                return _bill(db, dict(doc, **fields))
            doc = _own(db, user_id, call_id)
            continue
        if st == STARTING:
            raise Conflict("This call is still connecting; end it once it has started.")
        if st in (REFUSED, FAILED):
            raise Conflict("This call never started, so there is nothing to end or bill.")
        raise Conflict("This call was closed without charge because no end was reported in time.")


def _bill(db, doc: dict) -> dict:
    """Settle an "ending" call: one debit (none for a free call), the rest of the hold released."""
    cid, uid = doc["_id"], doc["user_id"]
    meta = {"call_id": cid, "to_number": doc["to_number"], "kb_id": doc["kb_id"],
            "seconds": int(doc["billed_seconds"]), "rate_paise": int(doc["rate_paise"]),
            "requested_seconds": int(doc["requested_seconds"]), "cut_off": bool(doc["cut_off"])}
    if doc.get("campaign_id"):
        meta["campaign_id"] = doc["campaign_id"]
    try:
        entry = ledger.settle(db, uid, _hold_id(doc), int(doc["cost_paise"]), key=f"call:{cid}",
                              category=doc.get("category") or "call", source="calls",
                              note=f"Call to {doc['to_number']}, {int(doc['billed_seconds'])} s", meta=meta)
    except NotFound:
        # The wallet keeps only recent resolved holds. An "ending" call's hold can only have been
        # resolved by this settlement, so it happened: find its debit instead of settling twice.
        entry = _settled_entry(db, doc)
        if entry is None and int(doc["cost_paise"]) != 0:
            raise
    balance = int(entry["balance_after"]) if entry else ledger.get_wallet(db, uid).balance
    t = clock.now()
    fields = {"status": COMPLETED, "balance_paise": balance, "entry_id": entry["_id"] if entry else None,
              "ended_at": t, "updated_at": t}
    res = db.calls.update_one({"_id": cid, "status": ENDING}, {"$set": fields})
    if res.matched_count != 1:  # someone else finished it first: theirs is the first result
        return _end_result(db.calls.find_one({"_id": cid}))
    return _end_result(dict(doc, **fields))


def _settled_entry(db, doc: dict) -> dict | None:
    """The debit an earlier settlement of this call posted (searched from when it started ending)."""
    uid, key = doc["user_id"], f"call:{doc['_id']}"
    ledger.recover(db, uid)  # an entry still riding in the wallet's `pending` goes to the ledger first
    since = clock.as_utc(doc.get("ending_at") or doc["started_at"]) - timedelta(minutes=1)  # clock skew
    for e in ledger.iter_entries(db, user_id=uid, type=ledger.DEBIT, start=since):
        if e.get("key") == key or e.get("_id") == key or (e.get("meta") or {}).get("call_id") == doc["_id"]:
            return e
    return None


def _end_result(doc: dict) -> dict:
    return {"call_id": doc["_id"], "billed_seconds": int(doc["billed_seconds"]),
            "cost_paise": int(doc["cost_paise"]), "status": doc["status"],
            "balance_paise": int(doc["balance_paise"]), "cut_off": bool(doc["cut_off"])}


# ---------------------------------------------------------------------------------------- reading

def get_call(db, user_id: str, call_id: str) -> dict:
    """One of the user's calls (NotFound for an unknown id or another user's call)."""
    users.check_user_id(user_id)
    _check_call_id(call_id)
    return _public(_own(db, user_id, call_id))


def list_calls(db, user_id: str, limit: int = 50) -> list[dict]:
    """The user's most recent calls (refused attempts included), newest first.

    Walks back in time in widening windows: a sorted query costs as much as the whole collection on
    the embedded engine; a window costs only what it reads.
    """
    users.check_user_id(user_id)
    whole_number(limit, 1, 1000, what="Page size")
    top = clock.now() + timedelta(seconds=1)
    span = timedelta(hours=1)
    found: list[dict] = []
    while len(found) < limit:
        low = top - span
        found.extend(db.calls.find({"user_id": user_id, "started_at": {"$gte": low, "$lt": top}}))
        if db.calls.find_one({"user_id": user_id, "started_at": {"$lt": low}}, {"_id": 1}) is None:
            break
        top, span = low, span * 4
    found = [_public(d) for d in found]
    found.sort(key=lambda d: (d["started_at"], d["call_id"]), reverse=True)
    return found[:limit]


def _own(db, user_id: str, call_id: str) -> dict:
    doc = db.calls.find_one({"_id": call_id})
    if doc is None or doc.get("user_id") != user_id:  # another user's call is simply not there
        raise NotFound(f"No call {call_id}.")
    return doc


def _public(doc: dict) -> dict:
    out = {"call_id": doc["_id"], "user_id": doc["user_id"], "to_number": doc["to_number"], "kb_id": doc["kb_id"],
           "category": doc.get("category", "call"), "campaign_id": doc.get("campaign_id"),
           "status": doc["status"], "rate_paise": int(doc["rate_paise"]), "max_minutes": int(doc["max_minutes"]),
           "started_at": clock.as_utc(doc.get("started_at")), "ended_at": clock.as_utc(doc.get("ended_at")),
           "reason": doc.get("reason"), "message": doc.get("message")}
    for k in ("held_paise", "max_duration_seconds", "requested_seconds", "billed_seconds", "cost_paise",
              "balance_paise"):
        out[k] = int(doc[k]) if doc.get(k) is not None else None
    out["cut_off"] = bool(doc.get("cut_off", False))
    return out


# --------------------------------------------------------------------------------------- recovery

def recover_stale_calls(db, *, now=None) -> int:
    """Finish whatever a crash or a lost hang-up left open. Returns the number of calls fixed.

    - "ending": settle it (the recorded duration);
    - "starting" older than a minute: active if its hold exists, else failed (nothing was held);
    - "active" older than settings stale_call_minutes: released with no charge ("expired").
    Safe to run at any time from any process: every step is guarded or idempotent.
    """
    now = now or clock.now()
    stale = timedelta(minutes=settings.get(db)["stale_call_minutes"])
    fixed = 0
    for doc in list(db.calls.find({"status": {"$in": [STARTING, ENDING, EXPIRING]}})):
        try:
            if doc["status"] == ENDING:
                _bill(db, doc)
                fixed += 1
            elif doc["status"] == EXPIRING:
                _expire(db, doc)
                fixed += 1
            elif clock.as_utc(doc["started_at"]) < now - STARTING_GRACE:
                fixed += _recover_starting(db, doc)
        except WalletError:
            continue  # one odd call must not stop the others; it is retried next round
    for doc in list(db.calls.find({"status": ACTIVE, "started_at": {"$lt": now - stale}})):
        res = db.calls.update_one({"_id": doc["_id"], "status": ACTIVE},
                                  {"$set": {"status": EXPIRING, "updated_at": clock.now()}})
        if res.matched_count == 1:
            _expire(db, doc)
            fixed += 1
    return fixed


def _recover_starting(db, doc: dict) -> int:
    cid, uid = doc["_id"], doc["user_id"]
    h = ledger.get_wallet(db, uid).holds.get(_hold_id(doc))
    t = clock.now()
    if h is not None:
        held = h.amount
        secs = min(int(doc["max_minutes"]) * 60, covered_seconds(held, int(doc["rate_paise"])))
        fields = {"status": ACTIVE, "held_paise": held, "max_duration_seconds": secs, "active_at": t,
                  "updated_at": t}
    else:
        fields = {"status": FAILED, "reason": "interrupted",
                  "message": "The call was interrupted before it started; nothing was charged.",
                  "ended_at": t, "updated_at": t}
    res = db.calls.update_one({"_id": cid, "status": STARTING}, {"$set": fields})
    return res.matched_count


def _expire(db, doc: dict) -> None:
    ledger.release(db, doc["user_id"], _hold_id(doc))
    t = clock.now()
    db.calls.update_one({"_id": doc["_id"], "status": EXPIRING},
                        {"$set": {"status": EXPIRED, "reason": "stale",
                                  "message": "No end was reported in time; the hold was released, nothing "
                                             "was charged.", "ended_at": t, "updated_at": t}})


# ------------------------------------------------------------------------------------- simulation

def simulate_call(db, user_id: str, to_number: str, kb_id: str, max_minutes: int | None = None,
                  duration_seconds: int | None = None, *, backend: telephony.VoiceBackend | None = None) -> dict:
    """Start, place on the (simulated) voice backend, and end a call, fast-forwarded.

    `duration_seconds` None = a random duration. Returns the end result plus to_number, kb_id,
    rate_paise, max_duration_seconds and the reported duration.
    """
    if duration_seconds is not None:
        check_duration(duration_seconds)  # before anything is held
    if backend is None:
        backend = telephony.SimulatedBackend(duration_seconds)
    started = start_call(db, user_id, to_number, kb_id, max_minutes)
    cid = started["call_id"]
    try:
        handle = backend.place(normalize_number(to_number), kb_id, started["max_duration_seconds"], call_id=cid)
        talked = check_duration(handle.wait())
    except Exception as exc:
        not_placed(db, user_id, cid, exc)
        raise
    res = end_call(db, user_id, cid, talked)
    return dict(res, to_number=normalize_number(to_number), kb_id=kb_id, rate_paise=started["rate_paise"],
                max_duration_seconds=started["max_duration_seconds"], reported_seconds=talked)


def not_placed(db, user_id: str, call_id: str, exc: BaseException) -> dict:
    """The voice backend could not place an active call: end it free (the hold comes back) and say why."""
    res = end_call(db, user_id, call_id, 0)
    db.calls.update_one({"_id": call_id, "cost_paise": 0},
                        {"$set": {"reason": "not_placed",
                                  "message": f"The call could not be placed: {exc}"[:300]}})
    return res


def _insert(db, doc: dict) -> bool:
    return insert_new(db.calls, doc)
