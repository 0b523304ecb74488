"""Rolling authorisation: while a call lasts, its platform reports the usage and the hold grows a slice
at a time, so calls share a balance and none runs a paisa past zero (docs/calls.md, "Update").

The grant lives in the hold (its `state`: the seconds it was asked to cover and the usage reported), so
an update is one compare-and-set on the wallet: the extension and what it grants are one write.
"""
from __future__ import annotations

from services import accounts, ids, ledger, settings
from services.calls.records import (ACTIVE, COMPLETED, ENDING, authorized, check_duration, grant_fields,
                                    grant_result, hold_id, live, max_seconds, own, slice_seconds, tariff_of)
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
    while True:
        doc = own(db, user_id, call_id)
        w = ledger.get_wallet(db, user_id, whole=True)  # the grant is in its hold; the write starts from it
        doc = live(db, doc, w)
        if doc["status"] in (ENDING, COMPLETED):
            return grant_result(doc)
        if doc["status"] != ACTIVE:
            raise Conflict("This call is not on the line, so there is nothing to authorise.")
        out = _step(db, doc, usage, w)
        if out is not None:
            return out
        # the hold was resolved meanwhile (the end or recovery moved first): read the call again


def _step(db, doc: dict, usage: int, w: ledger.WalletView) -> dict | None:
    """One update on an active call, as read. None if its hold was resolved meanwhile."""
    auth = authorized(doc)
    used = max(min(usage, auth), int(doc.get("usage_seconds") or 0))
    # A call already told its end asks the ledger again only while the wallet has money free, so the
    # updates of a drained wallet's calls write nothing but their usage.
    try:
        if _wants_more(doc, auth, used) and (doc.get("end_at_seconds") is None or w.available > 0):
            return grant_result(dict(doc, usage_seconds=used, **_extend(db, doc, auth, used, w)))
        if used > int(doc.get("usage_seconds") or 0):
            ledger.note_hold(db, doc["user_id"], hold_id(doc), "usage", used, seen=w)
            return grant_result(dict(doc, usage_seconds=used))
    except (NotFound, Conflict):
        return None
    return grant_result(doc)  # nothing new to record


def _wants_more(doc: dict, auth: int, used: int) -> bool:
    """Less than a slice is left and the maximum length is not reached. A call the money set an end
    for asks again: money may have come back since (another call ended, a recharge), and an end told
    while money was contended must not cut the call early."""
    return auth < max_seconds(doc) and used + slice_seconds(doc) > auth


def _extend(db, doc: dict, auth: int, used: int, w: ledger.WalletView) -> dict:
    """Step n+1: hold the next slice, or what is left of it, with the grant it makes, in one write. The
    ledger applies a step once, so a retry after a crash (or a racing update of the same step) gets the
    same total."""
    tariff = tariff_of(doc)
    step = int(doc.get("steps") or 0) + 1
    target = min(max_seconds(doc), auth + slice_seconds(doc))
    more = max(0, max(call_price(target, tariff), tariff.attempt_fee_paise) - int(doc["held_paise"]))
    cap = settings.user_overrides(db, doc["user_id"]).get("daily_cap_paise")
    held = ledger.extend(db, doc["user_id"], hold_id(doc), more, step=step, min_amount=0, daily_cap=cap,
                         budget=accounts.keys.budget_for(db, doc.get("key_id")),
                         state={"target": target, "usage": used}, seen=w)
    return {"steps": step, **grant_fields(doc, held, target)}
