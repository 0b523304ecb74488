"""The worker's step (`run`): follow pending mandates to their authorisation, read live tokens, close what
ended at Razorpay, take every open charge one step further, and plan the charges the forecast calls for
(for the mandates whose wallet or own document changed since the last pass: services.autorecharge.planner).

A charge's steps (services.autorecharge.charges) run under its lease, each after the checks that make
it safe: before the order, the mandate must still be active; before the debit, after `payment_after`,
the mandate must still be active and its token confirmed at Razorpay (Razorpay's advice: check the token
before every debit), and a retry must not follow a first debit that went through late after all.

When a charge ends, `conclude` does what follows, then lets go of the mandate (`in_flight`): a credit
needs nothing more; a failure is told once per crossing, with the one retry planned at once (its own
pre-debit notice and `payment_after` are the delay) unless the mandate was revoked, which turns
auto-recharge off and says so.
"""
from __future__ import annotations

import logging

from services import clock, config, payments
from services.autorecharge import charges, mandates, notices, planner, setup
from services.autorecharge.charges import CREDITED, DEBITING, FAILED, FINAL, NOTIFIED, PLANNED, SKIPPED
from services.errors import WalletError
from services.payments import gateway

log = logging.getLogger("autorecharge")
TROUBLE = gateway.FAILURES + (WalletError,)


def run(db) -> dict:
    """One pass; returns counts for the worker's log line. Never raises for one mandate or charge."""
    out = {"pending": 0, "planned": 0, "advanced": 0, "credited": 0, "failed": 0, "errors": 0}
    if payments.mode() == "off":
        return out
    bad = config.problems()
    if bad:  # changed since start (live keys, a short notice): announce and debit nothing until fixed
        log.error("auto-recharge stopped: %s", " ".join(bad))
        out["errors"] += 1
        return out
    cfg = gateway.settings()
    now = clock.now()
    for m in mandates.in_states(db, mandates.LIVE):
        _guarded(out, _follow, db, cfg, m, now)
    for m in mandates.to_close(db):
        _guarded(out, setup.close_at_razorpay, db, cfg, m)
    for c in charges.open_charges(db):
        _guarded(out, _advance_counted, db, cfg, c, out)
    for m in mandates.in_flight(db):
        if m["state"] in mandates.LIVE:
            _guarded(out, repair, db, m)
    for m in planner.candidates(db, now):  # only what may have changed its answer since the last pass
        if m["state"] == mandates.ACTIVE and not m.get("in_flight"):
            errors = out["errors"]
            c = _guarded(out, planner.plan, db, m)
            if out["errors"] > errors:  # looked at, not answered: again next pass
                mandates.set_plan_again(db, m, now)
            if c is not None:
                out["planned"] += 1
                _guarded(out, _advance_counted, db, cfg, c, out)
    planner.passed(db, now)
    return out


def repair(db, m: dict) -> None:
    """A mandate whose `in_flight` names a charge that a crash left unwritten (killed between marking the
    mandate and writing the charge) or concluded only in part (killed before the mandate was freed):
    write the charge, or conclude it again (idempotent). An open charge is left to `advance`."""
    cid = m["in_flight"]
    c = charges.get(db, cid)
    if c is None:
        attempt = int(cid.rsplit(":", 1)[1])
        charges.create(db, m, cid, attempt=attempt,
                       retry_of=charges.crossing_of(cid) + ":1" if attempt > 1 else None)
    elif c["state"] in FINAL:
        conclude(db, m, c)


def _guarded(out: dict, fn, *args):
    try:
        return fn(*args)
    except TROUBLE as exc:
        out["errors"] += 1
        log.warning("auto-recharge: %s: %s", getattr(fn, "__name__", fn), exc)
        return None


def _follow(db, cfg, m: dict, now) -> None:
    if m["state"] == mandates.PENDING:
        if clock.as_utc(m.get("next_check_at")) is None or clock.as_utc(m["next_check_at"]) <= now:
            setup.sync_pending(db, cfg, m)
    elif m.get("token_id"):
        setup.check_token(db, cfg, m)


def _advance_counted(db, cfg, c: dict, out: dict) -> None:
    after = advance(db, cfg, c)
    out["advanced"] += after["state"] != c["state"]
    out["credited"] += after["state"] == CREDITED and c["state"] != CREDITED
    out["failed"] += after["state"] == FAILED and c["state"] != FAILED


def advance(db, cfg, c: dict) -> dict:
    """Take one charge as far as it can go now (under its lease). Returns it as it stands."""
    if not charges.claim(db, c, clock.now()):
        return c
    try:
        c = charges.fresh(db, c["_id"])  # as it is now, under the lease: the customer may have skipped it
        m = mandates.fresh(db, c["user_id"])  # a charge's mandate: made first, never deleted
        if c["state"] == PLANNED:
            c = _announce(db, cfg, m, c)
        if c["state"] == NOTIFIED:
            notices.predebit(db, m, c)
            c = _debit_when_due(db, cfg, m, c)
        if c["state"] == DEBITING:
            c = charges.observe(db, c)
        if c["state"] in FINAL:
            conclude(db, mandates.get(db, c["user_id"]), c)
        return c
    finally:
        charges.release(db, c)


def _stopped(m: dict | None, c: dict) -> str | None:
    """Why this charge may not go on (None: it may)."""
    if m is None or m["no"] != c["mandate_no"] or m["state"] in (mandates.CANCELLED, mandates.REJECTED):
        return "Auto-recharge was cancelled before the debit."
    if m["state"] == mandates.PAUSED:
        return "Auto-recharge was paused before the debit."
    return None


def _announce(db, cfg, m: dict, c: dict) -> dict:
    why = _stopped(m, c)
    if why:
        return charges.set_state(db, c, SKIPPED, reason=why)
    try:
        return charges.announce(db, cfg, m, c, planner.notice())
    except gateway.RazorpayRefused as exc:  # most likely the token is no longer confirmed: find out
        m = setup.check_token(db, cfg, m, force=True)
        return charges.set_state(db, c, SKIPPED, reason=_stopped(m, c) or f"Razorpay refused the order: {exc}"[:300])


def _debit_when_due(db, cfg, m: dict, c: dict) -> dict:
    if clock.now() < clock.as_utc(c["debit_at"]):
        return c
    why = _stopped(m, c)
    if why:
        return charges.set_state(db, c, SKIPPED, reason=why)
    if c.get("retry_of") and charges.credited(db, c["retry_of"]):
        return charges.set_state(db, c, SKIPPED, reason="The first debit went through after all.")
    m = setup.check_token(db, cfg, m, force=True)
    if m["state"] == mandates.CANCELLED:
        return charges.set_state(db, c, FAILED, reason=mandates.REVOKED, error_reason="mandate_revoked")
    why = _stopped(m, c)
    if why:
        return charges.set_state(db, c, SKIPPED, reason=why)
    return charges.debit(db, cfg, m, c)


def conclude(db, m: dict | None, c: dict) -> None:
    """After a charge ended: tell the customer what they must hear, plan the retry, free the mandate.
    Each part is idempotent and the mandate is freed last, so a crash in between repeats them safely."""
    if m is None or m["no"] != c["mandate_no"] or m.get("in_flight") != c["_id"]:
        return  # already concluded (or the mandate was replaced)
    if c["state"] == FAILED:
        if charges.revoked(c):  # told first: a cancelled mandate is not repaired, so its notice must exist
            notices.off(db, m, mandates.REVOKED, c)
            mandates.cancel(db, m, by="bank", reason=mandates.REVOKED)
        elif c["attempt"] == 1 and m["state"] == mandates.ACTIVE:
            nxt = charges.crossing_of(c["_id"]) + ":2"
            charges.create(db, m, nxt, attempt=2, retry_of=c["_id"])
            notices.failed(db, m, c, retry=True)
            mandates.set_in_flight(db, m, nxt, was=c["_id"])
            return
        else:
            notices.failed(db, m, c, retry=False)
    mandates.set_in_flight(db, m, None, was=c["_id"])
