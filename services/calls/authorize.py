"""Rolling authorisation: while a call lasts, its platform reports the usage and the hold grows a slice
at a time, so calls share a balance and none runs a paisa past zero (docs/calls.md, "Update")."""
from __future__ import annotations

from services import accounts, clock, ids, ledger, settings
from services.calls.records import (ACTIVE, COMPLETED, ENDING, authorized, check_duration,
                                    grant_fields, grant_result, hold_id, max_seconds, own, slice_seconds,
                                    tariff_of)
from services.errors import Conflict, NotFound
from services.pricing import call_price


def update_call(db, user_id: str, call_id: str, usage_seconds: int) -> dict:
    """The platform reports `usage_seconds` talked so far. While less than a slice is left, the hold is
    extended by the next slice; when the wallet (or the daily cap) covers only part of it, what is left
    is held and `end_at_seconds` says the exact second the call must end, unless a later update finds
    money free again: then the hold grows again (`end_at_seconds` later, or None with a whole slice).

    Returns the grant (see start_call). An update of a call that has ended answers its final state; the
    usage is recorded (the largest reported, capped at what was authorised) for a call whose platform
    falls silent: recovery bills that, never unreported time. Idempotent per step: a retried update
    after a crash applies the same extension once.
    """
    ids.check_user_id(user_id)
    ids.check_call_id(call_id)
    usage = check_duration(usage_seconds, "Usage")
    doc = own(db, user_id, call_id)
    while True:
        if doc["status"] in (ENDING, COMPLETED):
            return grant_result(doc)
        if doc["status"] != ACTIVE:
            raise Conflict("This call is not on the line, so there is nothing to authorise.")
        out = _step(db, doc, usage)
        if out is not None:
            return out
        doc = own(db, user_id, call_id)  # another update, the end or recovery moved first


def _step(db, doc: dict, usage: int) -> dict | None:
    """One update on an active call, as read. None if the call changed meanwhile (re-read, retry)."""
    auth = authorized(doc)
    used = max(min(usage, auth), int(doc.get("usage_seconds") or 0))
    t = clock.now()
    fields = {"usage_seconds": used, "usage_at": t, "updated_at": t}
    if _wants_more(doc, auth, used) and _may_grow(db, doc):
        grown = _extend(db, doc, auth)
        if grown is None:
            return None
        fields.update(grown)
    elif used == int(doc.get("usage_seconds") or 0):
        return grant_result(doc)  # nothing new to record
    res = db.calls.update_one({"_id": doc["_id"], "status": ACTIVE, "steps": doc.get("steps")}, {"$set": fields})
    return grant_result(dict(doc, **fields)) if res.matched_count == 1 else None


def _wants_more(doc: dict, auth: int, used: int) -> bool:
    """Less than a slice is left and the maximum length is not reached. A call the money set an end
    for asks again: money may have come back since (another call ended, a recharge), and an end told
    while money was contended must not cut the call early."""
    return auth < max_seconds(doc) and used + slice_seconds(doc) > auth


def _may_grow(db, doc: dict) -> bool:
    """A call already told its end asks the ledger again only when the wallet has money free, so the
    updates of a drained wallet's calls write nothing."""
    return doc.get("end_at_seconds") is None or ledger.get_wallet(db, doc["user_id"]).available > 0


def _extend(db, doc: dict, auth: int) -> dict | None:
    """Step n+1: hold the next slice, or what is left of it. The ledger applies a step once, so a
    retry after a crash (or a racing update of the same step) gets the same total."""
    tariff = tariff_of(doc)
    step = int(doc.get("steps") or 0) + 1
    target = min(max_seconds(doc), auth + slice_seconds(doc))
    held = int(doc["held_paise"])
    more = max(call_price(target, tariff), tariff.attempt_fee_paise) - held
    if more > 0:
        cap = settings.user_overrides(db, doc["user_id"]).get("daily_cap_paise")
        try:
            held = ledger.extend(db, doc["user_id"], hold_id(doc), more, step=step, min_amount=0, daily_cap=cap,
                                 budget=accounts.keys.budget_for(db, doc.get("key_id")))
        except (NotFound, Conflict):
            return None  # the hold was settled or released: the call has ended
    return {"steps": step, **grant_fields(doc, held, target)}
