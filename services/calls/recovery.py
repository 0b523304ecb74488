"""Recovery: finish what a crash or a silent voice platform left open (docs/calls.md, "Kill points")."""
from __future__ import annotations

from datetime import timedelta

from services import clock, ledger, settings
from services.calls import days
from services.calls.billing import bill, complete, finish, settled_entry, silent_message, billed
from services.calls.records import (ACTIVE, ENDING, EXPIRED, EXPIRING, FAILED, STARTING, Resolver, authorized,
                                    hold_id, tariff_of)
from services.errors import Conflict, WalletError
from services.pricing import ANSWERED, call_price

# A "starting" call younger than this may still be taking its hold in another process.
STARTING_GRACE = timedelta(minutes=1)


def recover_stale_calls(db, *, now=None) -> int:
    """Finish whatever a crash or a lost hang-up left open. Returns the number of calls fixed.

    - a call whose hold was resolved (settled or released) but that was not completed: completed from
      its settle entry (a call stored "ending", from before: settled first);
    - a call that took no hold within a minute: its hold id is closed (a slow starter is refused) and
      the call failed (nothing was held);
    - a call on the line silent past the end of its last authorised slice (+ settings
      silent_call_grace_seconds): closed and billed for the last reported usage, never unreported time.
    Safe to run at any time from any process: every step is guarded or idempotent.
    """
    now = now or clock.now()
    grace = timedelta(seconds=settings.get(db)["silent_call_grace_seconds"])
    fixed = 0
    # Through the status index (one state at a time): the calls still open, not every call ever made.
    open_calls = [d for st in (STARTING, ACTIVE, ENDING, EXPIRING) for d in db.calls.find({"status": st})
                  .hint([("status", 1)])]
    resolve = Resolver(db)
    for doc in open_calls:
        try:
            fixed += _recover(db, resolve(doc), now, grace)
        except WalletError:
            continue  # one odd call must not stop the others; it is retried next round
    return fixed


def _recover(db, doc: dict, now, grace: timedelta) -> int:
    st = doc["status"]
    if st == ENDING:
        finish(db, doc)
        return 1
    if st == EXPIRING:  # left by a version that released silent calls unbilled
        _expire(db, doc)
        return 1
    if st == STARTING:
        return _give_up(db, doc) if clock.as_utc(doc["started_at"]) < now - STARTING_GRACE else 0
    since = clock.as_utc(doc.get("active_at") or doc["started_at"])
    if since + timedelta(seconds=authorized(doc)) + grace < now:
        return close_silent(db, doc)
    return 0


def close_silent(db, doc: dict) -> int:
    """Bill a call nobody ended for its last reported usage. The settle is guarded on the step and usage
    read (ledger.settle's `expect`), so an update that lands meanwhile is never billed short."""
    used = int(doc.get("usage_seconds") or 0)
    fields = {"outcome": ANSWERED, "requested_seconds": used, "billed_seconds": used,
              "cost_paise": min(call_price(used, tariff_of(doc)), int(doc.get("held_paise") or 0)),
              "cut_off": False, "reason": "silent", "message": silent_message(used)}
    try:
        bill(db, dict(doc, **fields), expect={"step": int(doc.get("steps") or 0), "usage": used})
    except Conflict:
        return 0  # it moved: the next round looks again
    return 1


def _give_up(db, doc: dict) -> int:
    """A start that took no hold within the grace: close its hold id first (a starter still on its way is
    then refused, or got there first and the call is on the line), then fail the call."""
    days.note(db, doc)  # the start may have died between inserting the call and listing it
    entry = settled_entry(db, doc)
    if entry is not None:  # it was billed, and its wallet has forgotten the hold since: complete it
        complete(db, dict(doc, **billed(entry)), entry)
        return 1
    if ledger.void_hold(db, doc["user_id"], hold_id(doc)) is not None:
        return 0  # its hold was just taken: the call is on the line
    t = clock.now()
    fields = {"status": FAILED, "reason": "interrupted",
              "message": "The call was interrupted before it started; nothing was charged.",
              "ended_at": t, "updated_at": t}
    flt = {"_id": doc["_id"], "status": STARTING, "attempts": doc.get("attempts", 1)}
    return db.calls.update_one(flt, {"$set": fields}).matched_count


def _expire(db, doc: dict) -> None:
    ledger.release(db, doc["user_id"], hold_id(doc))
    t = clock.now()
    db.calls.update_one({"_id": doc["_id"], "status": EXPIRING},
                        {"$set": {"status": EXPIRED, "reason": "stale",
                                  "message": "No end was reported in time; the hold was released, nothing "
                                             "was charged.", "ended_at": t, "updated_at": t}})
