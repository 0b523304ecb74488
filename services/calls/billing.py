"""Ending a call: record what is billed, then one settlement (docs/calls.md, "End")."""
from __future__ import annotations

from datetime import timedelta

from services import clock, ids, ledger
from services.calls.records import (ACTIVE, COMPLETED, ENDING, FAILED, REFUSED, STARTING, authorized,
                                    check_duration, check_outcome, end_result, hold_id, own,
                                    tariff_of)
from services.errors import Conflict, NotFound
from services.pricing import ANSWERED, call_price


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
    doc = own(db, user_id, call_id)
    while True:
        st = doc["status"]
        if st == COMPLETED:
            return end_result(doc)
        if st == ENDING:
            return bill(db, doc)
        if st == ACTIVE:
            fields = ending_fields(doc, seconds, outcome)
            # What is billed is recorded before any money moves: recovery can finish a half-ended call.
            res = db.calls.update_one({"_id": call_id, "status": ACTIVE}, {"$set": fields})
            if res.matched_count == 1:
                return bill(db, dict(doc, **fields))
            doc = own(db, user_id, call_id)
            continue
        if st == STARTING:
            raise Conflict("This call is still connecting; end it once it has started.")
        if st in (REFUSED, FAILED):
            raise Conflict("This call never started, so there is nothing to end or bill.")
        raise Conflict("This call was closed without charge because no end was reported in time.")


def ending_fields(doc: dict, seconds: int, outcome: str) -> dict:
    """active -> ending: the seconds billed and the cost, from the reported seconds and outcome."""
    auth = authorized(doc)
    answered = outcome == ANSWERED
    billed = min(seconds, auth) if answered else 0
    cost = min(call_price(billed, tariff_of(doc), outcome), int(doc.get("held_paise") or 0))
    t = clock.now()
    return {"status": ENDING, "outcome": outcome, "requested_seconds": seconds, "billed_seconds": billed,
            "cost_paise": cost, "cut_off": answered and seconds > auth, "ending_at": t, "updated_at": t}


def bill(db, doc: dict) -> dict:
    """Settle an "ending" call: one debit (none for a free call), the rest of the hold released."""
    cid, uid = doc["_id"], doc["user_id"]
    meta = {"call_id": cid, "to_number": doc["to_number"], "kb_id": doc["kb_id"],
            "seconds": int(doc["billed_seconds"]), "rate_paise": int(doc["rate_paise"]),
            "requested_seconds": int(doc["requested_seconds"]), "cut_off": bool(doc["cut_off"]),
            "outcome": doc.get("outcome") or ANSWERED, "plan": tariff_of(doc).plan}
    if doc.get("campaign_id"):
        meta["campaign_id"] = doc["campaign_id"]
    if doc.get("key_id"):
        meta["key_id"] = doc["key_id"]  # spend per API key: the day's rollup counts it
    try:
        entry = ledger.settle(db, uid, hold_id(doc), int(doc["cost_paise"]), key=f"call:{cid}",
                              category=doc.get("category") or "call", source="calls", note=_note(doc), meta=meta)
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
        return end_result(db.calls.find_one({"_id": cid}))
    return end_result(dict(doc, **fields))


def _note(doc: dict) -> str:
    outcome = doc.get("outcome") or ANSWERED
    if outcome != ANSWERED:
        return f"Call to {doc['to_number']}, {outcome}: attempt fee"
    return f"Call to {doc['to_number']}, {int(doc['billed_seconds'])} s"


def _settled_entry(db, doc: dict) -> dict | None:
    """The debit an earlier settlement of this call posted (searched from when it started ending)."""
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
