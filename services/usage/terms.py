"""A service's terms over time: the price a debit pays is the one in effect at its moment.

A service document keeps its terms as the admin last defined them (`price_paise`, `per_units`, ... and
`updated_at`, services.usage.catalogue) and a timeline `sched` of changes an admin scheduled
(services.usage.prices): each {id, at, terms: {field: value}, by, recorded_at}, in effect order. The terms
in effect at t are the latest of the definition and the scheduled changes at or before t: a change that took
effect stays in effect across restarts (it is read, not applied), and a later definition wins over it.
Only the fields a change names move, so a field added to the terms later flows through unchanged.
"""
from __future__ import annotations

from datetime import datetime

from services import clock


def in_effect(doc: dict, t: datetime) -> dict:
    """`doc` with the terms in effect at `t` laid over its defined ones (a new dict)."""
    defined_at = clock.as_utc(doc.get("updated_at"))
    last = None
    for e in doc.get("sched") or []:
        if clock.as_utc(e["at"]) > t:
            break
        last = e
    if last is None or (defined_at is not None and defined_at >= clock.as_utc(last["at"])):
        return doc
    return {**doc, **last["terms"]}


def ahead(doc: dict, t: datetime) -> list[dict]:
    """The scheduled changes still to take effect after `t`, in effect order (times as aware UTC)."""
    return [dict(e, at=clock.as_utc(e["at"])) for e in doc.get("sched") or [] if clock.as_utc(e["at"]) > t]
