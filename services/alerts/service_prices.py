"""Price notices of other services: a customer hears of a change of a service's price before it takes effect,
through the alert channels (e-mail, signed webhook, the notifications page), once per change and customer,
as call price changes are told (services.alerts.tariffs).

The worker's step compares the changes still ahead (services.usage.prices.changes_ahead) with the ones
already announced (one document in a collection of its own). Only a change not yet announced costs any
work: it is told to the customers it concerns (services.usage.prices.customers_of: who used the service in
the last 90 days or subscribes to it). A notice is keyed by the change's id: a crash after the notices but
before the change is marked announced sends nothing twice. A customer who first uses the service after the
announcement is not told by notice; the wallet page shows them the changes ahead.
"""
from __future__ import annotations

from services import clock, usage
from services.alerts import notices

STATE_ID = "announced"  # the one document of `service_price_announcements`: the change ids announced
EVENT = "wallet.service_price.changing"


def announce(db) -> int:
    """The worker's step: notices for service price changes not yet announced. Returns how many were written."""
    ahead = usage.prices.changes_ahead(db)
    done = set((db.service_price_announcements.find_one({"_id": STATE_ID}) or {}).get("ids") or [])
    new = [c for c in ahead if c["id"] not in done]
    if not new:
        return 0
    written = 0
    for ch in new:
        if ch["before"] != ch["terms"]:  # a change that leaves the price as it is tells nobody anything
            written += sum(_tell(db, uid, ch) for uid in sorted(usage.prices.customers_of(db, ch["service"])))
    ids = sorted(done.intersection(c["id"] for c in ahead) | {c["id"] for c in new})
    db.service_price_announcements.update_one({"_id": STATE_ID}, {"$set": {"ids": ids, "at": clock.now()}},
                                              upsert=True)
    return written


def _tell(db, user_id: str, ch: dict) -> bool:
    was = usage.prices.describe(ch["before"], ch["unit"])
    text = (f"From {clock.fmt(ch['at'])} {clock.abbr()} {ch['display_name']} costs {ch['description']} "
            f"(now {was}). Usage billed before then keeps its price.")
    return notices.notify(db, user_id, f"service-price:{ch['id']}", event_type=EVENT,
                          headline=f"The price of {ch['display_name']} is changing", text=text,
                          data={"service": ch["service"], "effective_at": clock.iso(ch["at"]), "unit": ch["unit"],
                                **ch["terms"], "before": dict(ch["before"])})
