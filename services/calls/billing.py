"""Ending a call: one settlement that is itself the recovery point (docs/calls.md, "End").

The settle's entry carries what was billed (`meta`: seconds, requested seconds, outcome, cut-off), so
the call document is written once, afterwards, as "completed": a crash between the two leaves a
resolved hold that `live` reads as ENDING and `complete` finishes from the entry, never billing twice.
"""
from __future__ import annotations

from datetime import timedelta

from services import clock, ids, ledger
from services.calls.records import (ACTIVE, COMPLETED, ENDING, FAILED, REFUSED, STARTING, authorized,
                                    check_duration, check_outcome, end_result, hold_id, live, own,
                                    tariff_of)
from services.errors import Conflict, NotFound
from services.pricing import ANSWERED, call_price

_OPEN = [STARTING, ACTIVE, ENDING]  # the stored states a completion may leave
_GRANT = ("held_paise", "authorized_seconds", "end_at_seconds", "max_duration_seconds", "usage_seconds", "steps")


def end_call(db, user_id: str, call_id: str, duration_seconds: int, outcome: str = ANSWERED) -> dict:
    """Bill a call once, at the tariff of its start: an answered call for its seconds (capped at what
    was authorised: then `cut_off` is True), an unanswered, busy or failed one for the attempt fee only,
    never more than was held. Returns dict(call_id, billed_seconds, cost_paise, status, balance_paise,
    cut_off, outcome). Ending again returns the first result, whatever is passed.
    """
    ids.check_user_id(user_id)
    ids.check_call_id(call_id)
    seconds = check_duration(duration_seconds)
    check_outcome(outcome)
    while True:
        w = ledger.get_wallet(db, user_id, whole=True)  # where the call stands; the settle starts from it
        doc = live(db, own(db, user_id, call_id), w)
        st = doc["status"]
        if st == COMPLETED:
            return end_result(doc)
        if st == ENDING:
            return finish(db, doc)
        if st == ACTIVE:
            try:
                return bill(db, dict(doc, **ending_fields(doc, seconds, outcome)), seen=w)
            except NotFound:
                continue  # resolved meanwhile (recovery, a racing end): read it again
        if st == STARTING:
            raise Conflict("This call is still connecting; end it once it has started.")
        if st in (REFUSED, FAILED):
            raise Conflict("This call never started, so there is nothing to end or bill.")
        raise Conflict("This call was closed without charge because no end was reported in time.")


def ending_fields(doc: dict, seconds: int, outcome: str) -> dict:
    """What is billed, from the reported seconds and outcome, on the call as it stands."""
    auth = authorized(doc)
    answered = outcome == ANSWERED
    billed = min(seconds, auth) if answered else 0
    cost = min(call_price(billed, tariff_of(doc), outcome), int(doc.get("held_paise") or 0))
    return {"outcome": outcome, "requested_seconds": seconds, "billed_seconds": billed, "cost_paise": cost,
            "cut_off": answered and seconds > auth}


def bill(db, doc: dict, *, expect: dict | None = None, seen: ledger.WalletView | None = None) -> dict:
    """Settle a call with the fields of `ending_fields` (one debit, none for a free call; the rest of the
    hold released), then complete it. A hold settled before (a repeated end) answers its first result.
    `expect`: settle only a hold still at that step and usage (ledger.settle), else Conflict."""
    meta = {"call_id": doc["_id"], "to_number": doc["to_number"], "kb_id": doc["kb_id"],
            "seconds": int(doc["billed_seconds"]), "rate_paise": int(doc["rate_paise"]),
            "requested_seconds": int(doc["requested_seconds"]), "cut_off": bool(doc["cut_off"]),
            "outcome": doc.get("outcome") or ANSWERED, "plan": tariff_of(doc).plan,
            "held_paise": int(doc.get("held_paise") or 0), "authorized_seconds": authorized(doc)}  # billed within
    for k in ("campaign_id", "key_id", "reason"):  # key_id: spend per API key (the day's rollup counts it)
        if doc.get(k):
            meta[k] = doc[k]
    try:
        entry = ledger.settle(db, doc["user_id"], hold_id(doc), int(doc["cost_paise"]), key=f"call:{doc['_id']}",
                              category=doc.get("category") or "call", source="calls", note=_note(doc), meta=meta,
                              expect=expect, seen=seen)
    except Conflict:
        if expect is not None:
            raise
        entry = None  # released, not settled: nothing was debited
        doc = dict(doc, billed_seconds=0, cost_paise=0, cut_off=False)
    except NotFound:
        if doc.get("status") != ENDING or "closed" in doc:  # only a stored "ending" (from before) was surely settled
            raise
        # The wallet keeps only recent resolved holds, and this one was resolved by this settlement:
        # find its debit instead of settling twice.
        entry = settled_entry(db, doc)
        if entry is None and int(doc["cost_paise"]) != 0:
            raise
    if entry is not None:
        doc = dict(doc, **billed(entry))  # on a repeat, the first settlement's figures
    return complete(db, doc, entry)


def finish(db, doc: dict) -> dict:
    """Complete a call whose hold is resolved: from its settle entry, or free if nothing was debited;
    a call stored "ending" (from before) is settled first."""
    if "closed" not in doc:
        return bill(db, doc)
    entry = ledger.get_entry(db, doc["closed"]) if doc["closed"] else None
    if doc["closed"] and entry is None:
        ledger.recover(db, doc["user_id"])  # the entry may still ride in the wallet's `pending`
        entry = ledger.get_entry(db, doc["closed"])
        if entry is None:  # money was debited: never complete it as free; say so and retry next round
            raise RuntimeError(f"the settle entry {doc['closed']} of call {doc['_id']} is missing")
    if entry is not None:
        return complete(db, dict(doc, **billed(entry)), entry)
    free = {"outcome": doc.get("outcome") or ANSWERED, "requested_seconds": int(doc.get("usage_seconds") or 0),
            "billed_seconds": 0, "cost_paise": 0, "cut_off": False}
    return complete(db, dict(doc, **free), None)


def billed(entry: dict) -> dict:
    m = entry.get("meta") or {}
    out = {"outcome": m.get("outcome") or ANSWERED, "requested_seconds": int(m.get("requested_seconds", m["seconds"])),
           "billed_seconds": int(m["seconds"]), "cost_paise": int(entry["amount"]), "cut_off": bool(m.get("cut_off"))}
    for k in ("held_paise", "authorized_seconds"):  # the grant it was billed within (entries from before: none)
        if k in m:
            out[k] = int(m[k])
    if m.get("reason") == "silent":
        out.update(reason="silent", message=silent_message(int(m["seconds"])))
    return out


def silent_message(seconds: int) -> str:
    return f"No end was reported; billed the last reported usage ({seconds} s)."


def complete(db, doc: dict, entry: dict | None) -> dict:
    """The call's one write at its end: completed, with what was billed and the balance after."""
    balance = int(entry["balance_after"]) if entry else ledger.get_wallet(db, doc["user_id"]).balance
    t = clock.now()
    fields = {k: doc[k] for k in ("outcome", "requested_seconds", "billed_seconds", "cost_paise", "cut_off")}
    fields.update(status=COMPLETED, balance_paise=balance, entry_id=entry["_id"] if entry else None, ended_at=t,
                  updated_at=t)
    for k in ("reason", "message"):
        if doc.get(k):
            fields[k] = doc[k]
    for k in _GRANT:  # the grant as it stood at the end (a call completed from its entry: what the entry says)
        if doc.get(k) is not None and ("closed" not in doc or k in ("held_paise", "authorized_seconds")):
            fields[k] = doc[k]
    res = db.calls.update_one({"_id": doc["_id"], "status": {"$in": _OPEN}}, {"$set": fields})
    if res.matched_count != 1:  # someone else finished it first: theirs is the first result
        return end_result(db.calls.find_one({"_id": doc["_id"]}))
    return end_result(dict(doc, **fields))


def _note(doc: dict) -> str:
    outcome = doc.get("outcome") or ANSWERED
    if outcome != ANSWERED:
        return f"Call to {doc['to_number']}, {outcome}: attempt fee"
    return f"Call to {doc['to_number']}, {int(doc['billed_seconds'])} s"


def settled_entry(db, doc: dict) -> dict | None:
    """The debit an earlier settlement of this call posted (searched from when it started ending, or
    started: the entries of one call's life, not the wallet's history)."""
    uid, key = doc["user_id"], f"call:{doc['_id']}"
    ledger.recover(db, uid)  # an entry still riding in the wallet's `pending` goes to the ledger first
    since = clock.as_utc(doc.get("ending_at") or doc["started_at"]) - timedelta(minutes=1)  # clock skew
    for e in ledger.iter_entries(db, user_id=uid, type=ledger.DEBIT, start=since):
        if e.get("key") == key or e.get("_id") == key or (e.get("meta") or {}).get("call_id") == doc["_id"]:
            return e
    return None


def not_placed(db, user_id: str, call_id: str, exc: BaseException) -> dict:
    """The voice backend could not place an active call: end it free (the hold comes back) and say why."""
    res = end_call(db, user_id, call_id, 0)
    db.calls.update_one({"_id": call_id, "cost_paise": 0},
                        {"$set": {"reason": "not_placed",
                                  "message": f"The call could not be placed: {exc}"[:300]}})
    return res
