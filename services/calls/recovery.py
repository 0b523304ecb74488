"""Recovery: finish what a crash or a silent voice platform left open (docs/calls.md, "Kill points")."""
from __future__ import annotations

from datetime import timedelta

from services import clock, ledger, settings
from services.calls import days
from services.calls.billing import bill
from services.calls.records import (ACTIVE, ENDING, EXPIRED, EXPIRING, FAILED, STARTING, authorized, hold_id,
                                    tariff_of)
from services.calls.start import activation
from services.errors import WalletError
from services.pricing import ANSWERED, call_price

# A "starting" call younger than this may still be taking its hold in another process.
STARTING_GRACE = timedelta(minutes=1)


def recover_stale_calls(db, *, now=None) -> int:
    """Finish whatever a crash or a lost hang-up left open. Returns the number of calls fixed.

    - "ending": settle it (the recorded duration);
    - "starting" older than a minute: active if its hold exists, else failed (nothing was held);
    - "active" silent past the end of its last authorised slice (+ settings silent_call_grace_seconds
      after it went active): closed and billed for the last reported usage, never unreported time.
    Safe to run at any time from any process: every step is guarded or idempotent.
    """
    now = now or clock.now()
    grace = timedelta(seconds=settings.get(db)["silent_call_grace_seconds"])
    fixed = 0
    # Through the status index (one state at a time): the calls still open, not every call ever made.
    open_calls = [d for st in (STARTING, ACTIVE, ENDING, EXPIRING) for d in db.calls.find({"status": st})
                  .hint([("status", 1)])]
    for doc in open_calls:
        try:
            fixed += _recover(db, doc, now, grace)
        except WalletError:
            continue  # one odd call must not stop the others; it is retried next round
    return fixed


def _recover(db, doc: dict, now, grace: timedelta) -> int:
    st = doc["status"]
    if st == ENDING:
        bill(db, doc)
        return 1
    if st == EXPIRING:  # left by a version that released silent calls unbilled
        _expire(db, doc)
        return 1
    if st == STARTING:
        return _recover_starting(db, doc) if clock.as_utc(doc["started_at"]) < now - STARTING_GRACE else 0
    since = clock.as_utc(doc.get("active_at") or doc["started_at"])
    if since + timedelta(seconds=authorized(doc)) + grace < now:
        return close_silent(db, doc)
    return 0


def close_silent(db, doc: dict) -> int:
    """active -> ending -> completed for a call nobody ended: billed for its last reported usage. Guarded
    on the usage and step read, so an update that lands meanwhile is never billed short."""
    used = int(doc.get("usage_seconds") or 0)
    t = clock.now()
    fields = {"status": ENDING, "outcome": ANSWERED, "requested_seconds": used, "billed_seconds": used,
              "cost_paise": min(call_price(used, tariff_of(doc)), int(doc.get("held_paise") or 0)),
              "cut_off": False, "ending_at": t, "updated_at": t, "reason": "silent",
              "message": f"No end was reported; billed the last reported usage ({used} s)."}
    flt = {"_id": doc["_id"], "status": ACTIVE, "steps": doc.get("steps"), "usage_seconds": doc.get("usage_seconds")}
    if db.calls.update_one(flt, {"$set": fields}).matched_count != 1:
        return 0
    bill(db, dict(doc, **fields))
    return 1


def _recover_starting(db, doc: dict) -> int:
    days.note(db, doc)  # the start may have died between inserting the call and listing it
    h = ledger.get_wallet(db, doc["user_id"]).holds.get(hold_id(doc))
    t = clock.now()
    if h is not None:
        fields = activation(doc, h.amount)
    else:
        fields = {"status": FAILED, "reason": "interrupted",
                  "message": "The call was interrupted before it started; nothing was charged.",
                  "ended_at": t, "updated_at": t}
    res = db.calls.update_one({"_id": doc["_id"], "status": STARTING}, {"$set": fields})
    return res.matched_count


def _expire(db, doc: dict) -> None:
    ledger.release(db, doc["user_id"], hold_id(doc))
    t = clock.now()
    db.calls.update_one({"_id": doc["_id"], "status": EXPIRING},
                        {"$set": {"status": EXPIRED, "reason": "stale",
                                  "message": "No end was reported in time; the hold was released, nothing "
                                             "was charged.", "ended_at": t, "updated_at": t}})
