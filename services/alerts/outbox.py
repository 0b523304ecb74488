"""The outbox: one document per alert (`alerts`), keyed by (wallet, line crossed, entry that crossed it).

`_id` = `{user}|{label}|{n}`: the entry number n is the crossing, so deriving the same entry again (a
crash, two workers) finds the alert already there. Everything a delivery must repeat byte for byte is
fixed on the document before the first send: the event id, the e-mail Message-ID, the payment link
(stored before any message names it) and the webhook body. Each channel (`email`, `webhook`) keeps its
own state: pending -> sent | failed (or off: nowhere to send), attempts, next try, last error.

A worker takes an alert with a lease (`lease_owner` = services.procs.owner()); a lease whose process is
gone on this host is taken over at once, one on another host after LEASE.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from services import clock, procs
from services.db import insert_new

PENDING, SENT, FAILED, OFF = "pending", "sent", "failed", "off"
CHANNELS = ("email", "webhook")
LEASE = timedelta(minutes=2)
# Retries: 30 s, 1, 2, 4 ... minutes, at most an hour apart, for 24 hours; then the channel has failed.
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)


def alert_id(user_id: str, label: str, n: int | str) -> str:
    return f"{user_id}|{label}|{n}"


def build(user_id: str, entry: dict, crossing, *, emails, webhook_url: str, sender_domain: str) -> dict:
    """A new alert for `entry` (the debit that crossed) and what it crossed (thresholds.Crossing)."""
    key = alert_id(user_id, crossing.label, int(entry["n"]))
    fields = {"kind": crossing.kind, "label": crossing.label, "threshold_paise": crossing.threshold,
              "crossed_paise": list(crossing.crossed), "balance_paise": int(entry["balance_after"]),
              "runway_days": crossing.runway_days, "entry_id": entry["_id"], "n": int(entry["n"]),
              "entry_at": entry["created_at"]}
    return _doc(key, user_id, fields, list(emails), webhook_url, sender_domain)


def build_notice(key: str, user_id: str, fields: dict, *, emails, webhook_url: str, sender_domain: str) -> dict:
    """A notice that is not about a line crossed (services.alerts.notices): `key` is its crossing."""
    return _doc(key, user_id, fields, list(emails), webhook_url, sender_domain)


def _doc(key: str, user_id: str, fields: dict, emails: list, webhook_url: str, sender_domain: str) -> dict:
    h = hashlib.sha256(key.encode()).hexdigest()
    now = clock.now()
    return {"_id": key, "user_id": user_id, **fields, "created_at": now,
            "event_id": "evt_" + h[:24], "message_id": f"<alert-{h[:32]}@{sender_domain}>",
            "link_ref": "wr_" + h[:24], "link": None, "link_error": None, "payload": None,
            "status": PENDING, "next_at": now, "lease_owner": None, "lease_until": None,
            "email": _channel(emails), "webhook": _channel(webhook_url)}


def _channel(target) -> dict:
    return {"state": PENDING if target else OFF, "to": target, "attempts": 0, "next_at": None,
            "last_error": None, "sent_at": None}


def add(db, alert: dict) -> bool:
    """Store a new alert; False if it was stored before (the same crossing derived again)."""
    alert["status"] = PENDING if any(alert[c]["state"] == PENDING for c in CHANNELS) else OFF
    return insert_new(db.alerts, alert)


def get(db, aid: str) -> dict | None:
    return db.alerts.find_one({"_id": aid})


def due(db, now: datetime, limit: int) -> list[dict]:
    """Pending alerts whose next try is due, oldest crossing first (a wallet's alerts go out in order)."""
    # Through the status index: the alerts still pending, not every alert ever sent.
    rows = [a for a in db.alerts.find({"status": PENDING}).hint([("status", 1)]) if clock.as_utc(a["next_at"]) <= now]
    rows.sort(key=lambda a: (clock.as_utc(a["created_at"]), a["user_id"], int(a.get("n", 0))))
    return rows[:limit]


def claim(db, alert: dict, now: datetime) -> bool:
    """Take the alert for delivery: free, lapsed, ours already, or its owner's process is gone."""
    me, owner = procs.owner(), alert.get("lease_owner")
    if owner and owner != me and clock.as_utc(alert["lease_until"]) > now and procs.owner_gone(owner) is not True:
        return False
    res = db.alerts.update_one({"_id": alert["_id"], "lease_owner": owner},
                               {"$set": {"lease_owner": me, "lease_until": now + LEASE}})
    if res.matched_count == 1:
        alert.update(lease_owner=me, lease_until=now + LEASE)
        return True
    return False


def release(db, alert: dict) -> None:
    db.alerts.update_one({"_id": alert["_id"], "lease_owner": procs.owner()},
                         {"$set": {"lease_owner": None, "lease_until": None}})


def fix(db, alert: dict, **fields) -> None:
    """Set fields that deliveries repeat (link, payload) once, before any message carries them."""
    db.alerts.update_one({"_id": alert["_id"]}, {"$set": fields})
    alert.update(fields)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 30 s doubling, at most an hour."""
    return min(FIRST_RETRY * (2 ** min(attempts - 1, 20)), LONGEST_WAIT)


def record(db, alert: dict, channel: str, *, ok: bool, error: str | None = None, permanent: bool = False,
           now: datetime | None = None) -> None:
    """One try on one channel: sent, or failed for good, or due again after the backoff."""
    now = now or clock.now()
    ch = dict(alert[channel], attempts=int(alert[channel]["attempts"]) + 1, last_error=error)
    if ok:
        ch.update(state=SENT, sent_at=now, next_at=None, last_error=None)
    else:
        nxt = now + backoff(ch["attempts"])
        late = nxt > clock.as_utc(alert["created_at"]) + GIVE_UP_AFTER
        ch.update(state=FAILED if permanent or late else PENDING, next_at=None if permanent or late else nxt)
    alert[channel] = ch
    db.alerts.update_one({"_id": alert["_id"]}, {"$set": {channel: ch, **summary(alert)}})


def summary(alert: dict) -> dict:
    """The alert's overall status and next try, from its channels."""
    states = [alert[c]["state"] for c in CHANNELS]
    waits = [clock.as_utc(alert[c]["next_at"]) or clock.now() for c in CHANNELS if alert[c]["state"] == PENDING]
    if waits:
        return {"status": PENDING, "next_at": min(waits)}
    status = FAILED if FAILED in states else SENT if SENT in states else OFF
    return {"status": status, "next_at": clock.as_utc(alert["next_at"])}


def of_user(db, user_id: str, limit: int = 50) -> list[dict]:
    rows = list(db.alerts.find({"user_id": user_id}, {"payload": 0}))
    rows.sort(key=lambda a: clock.as_utc(a["created_at"]), reverse=True)
    return [public(a) for a in rows[:limit]]


def recent(db, *, status: str | None = None, limit: int = 200) -> list[dict]:
    """Alerts across customers, newest first (admins): every one, or those in one status."""
    rows = list(db.alerts.find({"status": status} if status else {}, {"payload": 0}))
    rows.sort(key=lambda a: clock.as_utc(a["created_at"]), reverse=True)
    return [public(a) for a in rows[:limit]]


def counts(db) -> dict[str, int]:
    out = {PENDING: 0, SENT: 0, FAILED: 0, OFF: 0}
    for a in db.alerts.find({}, {"status": 1}):
        out[a["status"]] = out.get(a["status"], 0) + 1
    return out


def public(a: dict) -> dict:
    """What pages and the API show of an alert."""
    link = a.get("link") or {}
    return {"id": a["_id"], "user_id": a["user_id"], "kind": a["kind"], "status": a["status"],
            "threshold_paise": int(a.get("threshold_paise") or 0), "balance_paise": int(a.get("balance_paise") or 0),
            "runway_days": a.get("runway_days"), "created_at": clock.as_utc(a["created_at"]),
            "event_id": a["event_id"], "link_url": link.get("short_url"),
            "link_amount_paise": link.get("amount_paise"), "link_error": a.get("link_error"),
            **{f"{c}_{k}": a[c][k] for c in CHANNELS for k in ("state", "attempts", "last_error")},
            "email_to": list(a["email"]["to"] or []), "webhook_url": a["webhook"]["to"] or "",
            # a notice (services.alerts.notices) says what it is about in its own words
            "event_type": a.get("event_type"), "headline": a.get("headline"), "text": a.get("text")}
