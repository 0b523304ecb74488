"""Delivering alerts: the worker's step, and the one place a channel's answer becomes the alert's state.

`run` first decides new alerts (services.alerts.derive), then takes each due alert in turn (a lease,
services.alerts.outbox), makes sure its payment link and webhook body are stored, and tries each of its
channels that is due. A send happens before its result is noted, so a crash in between sends that one
message again with the same Message-ID or event id and body (at least once, never two different
messages for one alert). Each try is bounded by its channel's timeouts and a run by BATCH, so a
customer's dead receiver costs the worker a few seconds and never touches calls or recharges.
"""
from __future__ import annotations

from services import clock
from services.alerts import derive, keycaps, mail, message, outbox, recharge, webhooks
from services.alerts.outbox import PENDING

BATCH = 50  # alerts tried per run


def run(db) -> dict:
    """The worker's step: new alerts from new entries and API keys' caps, then the deliveries that are due."""
    return {"written": derive.derive(db) + keycaps.derive(db), **deliver_due(db)}


def deliver_due(db, *, limit: int = BATCH) -> dict:
    out = {"sent": 0, "retrying": 0, "failed": 0, "waiting": 0}
    now = clock.now()
    for a in outbox.due(db, now, limit):
        if not outbox.claim(db, a, now):
            continue
        try:
            _deliver(db, a, out)
        finally:
            outbox.release(db, a)
    return out


def _deliver(db, a: dict, out: dict) -> None:
    if not recharge.ensure_link(db, a):
        outbox.fix(db, a, next_at=clock.now() + outbox.FIRST_RETRY)  # Razorpay is down: wait a little
        out["waiting"] += 1
        return
    if a.get("payload") is None:
        outbox.fix(db, a, payload=message.payload(a))
    for channel, send in (("email", _email), ("webhook", _webhook)):
        ch, now = a[channel], clock.now()
        if ch["state"] != PENDING or (ch["next_at"] is not None and clock.as_utc(ch["next_at"]) > now):
            continue
        ok, err, permanent = send(db, a)
        outbox.record(db, a, channel, ok=ok, error=err, permanent=permanent, now=clock.now())
        out["sent" if ok else "failed" if a[channel]["state"] == outbox.FAILED else "retrying"] += 1


def _email(db, a: dict) -> tuple[bool, str | None, bool]:
    """(sent, error, for good)."""
    try:
        mail.send(a)
    except mail.Partial as exc:
        return True, str(exc), False
    except mail.Retry as exc:
        return False, str(exc), False
    except mail.Refused as exc:
        return False, str(exc), True
    return True, None, False


def _webhook(db, a: dict) -> tuple[bool, str | None, bool]:
    doc = db.alert_prefs.find_one({"_id": a["user_id"]}, {"webhook_url": 1, "webhook_secret": 1}) or {}
    if not doc.get("webhook_url") or not doc.get("webhook_secret"):
        return False, "The webhook was removed before this alert could be delivered.", True
    ok, _status, err = webhooks.deliver(db, a, doc["webhook_secret"])
    return ok, err, False
