"""Tariff notices: a customer hears of a change of their price before it takes effect, through the
alert channels (e-mail, signed webhook, the notifications page), once per change and customer.

The worker's step compares the settings changes still ahead (services.settings.changes_ahead) with
the ones already announced (one small document, in a collection of its own: it once shared
`alert_cursors`, whose documents the low-balance pass reads as cursors, and stopped every alert). Only a change
not yet announced costs any work: a global or plan change is looked at for every customer, a customer's own
change for that customer. What a customer is told comes from services.rates.upcoming, so a change that leaves
their price as it is (their own rate overrides the new global one) tells them nothing. A notice is keyed by the
effective time and the new terms: a crash before the change is marked announced sends nothing twice.
"""
from __future__ import annotations

import hashlib

from services import clock, rates, settings, users
from services.alerts import notices
from services.db import insert_new

STATE_ID = "announced"  # the one document of `tariff_announcements`: the change ids announced
OLD_STATE_ID = "tariffs:announced"  # where it once lived, in alert_cursors (moved by `backfill`)
EVENT = "wallet.tariff.changing"


def announce(db) -> int:
    """The worker's step: notices for price changes not yet announced. Returns how many were written."""
    ahead = settings.changes_ahead(db)
    done = set((db.tariff_announcements.find_one({"_id": STATE_ID}) or {}).get("ids") or [])
    new = [c for c in ahead if c["id"] not in done]
    if not new:
        return 0
    written = sum(_tell(db, uid) for uid in _affected(db, new))
    ids = sorted(done.intersection(c["id"] for c in ahead) | {c["id"] for c in new})
    db.tariff_announcements.update_one({"_id": STATE_ID}, {"$set": {"ids": ids, "at": clock.now()}}, upsert=True)
    return written


def adopt_state(db, old: dict) -> None:
    """Take over the announced ids kept in an earlier version's document (services.alerts.derive moves it)."""
    insert_new(db.tariff_announcements, {"_id": STATE_ID, "ids": list(old.get("ids") or []), "at": old.get("at")})


def _affected(db, changes: list[dict]) -> list[str]:
    own = {c["scope"].partition(":")[2] for c in changes if c["scope"].startswith("user:")}
    if any(not c["scope"].startswith("user:") for c in changes):
        return [u["username"] for u in users.with_role(db, "user")]
    return sorted(own)


def _tell(db, user_id: str) -> int:
    n = 0
    for ch in rates.upcoming(db, user_id):
        key = f"tariff:{ch['effective_at']:%Y%m%dT%H%M%S}:" + hashlib.sha256(
            ch["description"].encode()).hexdigest()[:12]
        text = (f"From {clock.fmt(ch['effective_at'])} {clock.abbr()} your calls cost {ch['description']}. "
                "Calls already under way keep the price they started with.")
        n += notices.notify(db, user_id, key, event_type=EVENT, headline="Your call price is changing",
                            text=text, data={"effective_at": clock.iso(ch["effective_at"]),
                                             **rates.as_dict(ch["tariff"])})
    return n
