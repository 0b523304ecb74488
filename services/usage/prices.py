"""Scheduled price changes of the catalogue: an admin sets a service's new terms (price per `per_units`
units) to take effect at a future time; every debit from then on is priced by them (services.usage.terms
reads the timeline: nothing has to run at that moment, and a restart changes nothing). Customers are told
ahead through the alert channels (services.alerts.service_prices). Scheduling and withdrawing are audited;
bad input writes nothing. Writes to a service's timeline are a compare-and-set on its document's `v`.

Who hears of a change (`customers_of`): the customers who spent on the service in the last AUDIENCE_DAYS
business days, read from the daily rollups' per-service counters (one document per wallet and active day,
services.ledger.service_users; the ledger's entries would be one per event), and those with a subscription
to it not ended (a full read of `subscriptions`: small, and done once per change).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from services import auditlog, checks, clock, ledger
from services.errors import InvalidInput, NotFound
from services.money import format_rupees
from services.usage import catalogue, fees, terms

AUDIENCE_DAYS = 90
MAX_AHEAD = timedelta(days=366)
_MS = timedelta(milliseconds=1)  # what BSON keeps: "just before a change" is a millisecond earlier


def check_terms(price_paise, per_units, tiers=()) -> dict:
    """The terms a change sets, checked as `catalogue.define` checks them (the volume tiers against the new
    price: each below the price before it)."""
    price = checks.whole_number(price_paise, 0, catalogue.MAX_PRICE_PAISE, what="Price", unit="of paise")
    return {"price_paise": price,
            "per_units": checks.whole_number(per_units, 1, catalogue.MAX_PER_UNITS, what="Units per price"),
            "tiers": [list(t) for t in catalogue.check_tiers(tiers, price)]}


def check_when(at) -> datetime:
    """A time with its zone (or its ISO 8601 text, from the API), after now and at most a year ahead (as UTC,
    to the millisecond)."""
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            raise InvalidInput("effective_at must be an ISO 8601 date and time with its zone.") from None
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidInput("The time a price change takes effect must be a date and time with its time zone.")
    try:
        at = clock.as_utc(at)
    except OverflowError:  # 0001-01-01 with a positive offset: no UTC instant
        raise InvalidInput("The time a price change takes effect is out of range.") from None
    now = clock.now()
    if at <= now:
        raise InvalidInput("A scheduled price change must take effect later than now; to change the price now, "
                           "change the service itself.")
    if at > now + MAX_AHEAD:
        raise InvalidInput("A price change can be scheduled at most a year ahead.")
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def schedule(db, admin: str, name: str, effective_at: datetime, *, price_paise: int, per_units: int = 1,
             tiers=()) -> dict:
    """From `effective_at` on, `name` costs `price_paise` per `per_units` units (with `tiers`, the volume
    tiers then: none when not given). Returns the change."""
    new = check_terms(price_paise, per_units, tiers)
    when = check_when(effective_at)
    entry = {"id": uuid.uuid4().hex, "at": when, "terms": new, "by": admin, "recorded_at": clock.now()}
    while True:
        doc = _doc(db, name)
        line = [dict(e, at=clock.as_utc(e["at"])) for e in doc.get("sched") or []]
        line.insert(sum(1 for e in line if e["at"] <= when), entry)  # after changes at the same time
        past = [e for e in line if e["at"] <= clock.now()]
        line = past[-1:] + [e for e in line if e["at"] > clock.now()]  # the past but the latest drop out
        if _swap(db, doc, line):
            break
    auditlog.record(db, admin, "service.schedule", name, f"{doc['display_name']}: {describe(new, doc['unit'])} "
                    f"from {clock.iso(when)} (change {entry['id']})")
    return _change(dict(doc, sched=line), entry)


def define_at(db, admin: str, name: str, *, price_paise: int, display_name: str | None = None,
              unit: str | None = None, per_units: int | None = None, grace_days: int | None = None,
              tiers=None, effective_at=None) -> dict:
    """What the admin's form and `PUT /api/admin/services/{name}` do: define the service now (no
    `effective_at`), or schedule its new price. A field left None stays as the service has it (a new service
    needs a display name and a unit). A scheduled change moves the price alone: the display name, unit and grace
    period must stay the service's own (a unit changing ahead of its price would misprice every event in
    between); those change now, without a time. Returns the service and its changes ahead (as `listing`)."""
    old = _current(db, name)
    if old is not None:
        display_name = old.display_name if display_name is None else display_name
        unit = old.unit if unit is None else unit
        per_units = old.per_units if per_units is None else per_units
        grace_days = old.grace_days if grace_days is None else grace_days
        tiers = old.tiers if tiers is None else tiers
    if effective_at is None:
        catalogue.define(db, admin, name, display_name=display_name or "", unit=unit or "", price_paise=price_paise,
                         per_units=1 if per_units is None else per_units,
                         grace_days=7 if grace_days is None else grace_days, tiers=tiers or ())
    elif old is None:
        raise NotFound(f"No service named {name!r} yet: define it now, then schedule its price changes.")
    elif (display_name, unit, grace_days) != (old.display_name, old.unit, old.grace_days):
        raise InvalidInput("A scheduled change moves the price only: keep the display name, unit and grace "
                           "period as they are (change those now, without a time).")
    else:
        schedule(db, admin, name, effective_at, price_paise=price_paise, per_units=per_units or 0, tiers=tiers or ())
    return {"service": catalogue.get(db, name), "ahead": changes_ahead(db, name)}


def listing(db) -> list[dict]:
    """The catalogue as an admin reads it: each service with the terms in effect now and its changes ahead."""
    ahead = changes_ahead(db)
    return [{"service": s, "ahead": [c for c in ahead if c["service"] == s.name]} for s in catalogue.services(db)]


def cancel(db, admin: str, name: str, change_id: str) -> dict:
    """Withdraw a change not yet in effect (audited). NotFound if it is unknown, in effect or withdrawn."""
    while True:
        doc = _doc(db, name)
        line = doc.get("sched") or []
        gone = next((e for e in line if e["id"] == change_id and clock.as_utc(e["at"]) > clock.now()), None)
        if gone is None:
            raise NotFound("That price change is no longer ahead: it took effect or was withdrawn.")
        if _swap(db, doc, [e for e in line if e["id"] != change_id]):
            break
    out = _change(doc, dict(gone, at=clock.as_utc(gone["at"])))
    auditlog.record(db, admin, "service.cancel", name, f"{doc['display_name']}: withdrew "
                    f"{describe(gone['terms'], doc['unit'])} from {clock.iso(out['at'])} (change {change_id})")
    return out


def changes_ahead(db, name: str | None = None) -> list[dict]:
    """The scheduled changes still to take effect (of one service, or all), soonest first: each
    {id, service, display_name, unit, at, terms, before, by, description}."""
    docs = [_doc(db, name)] if name is not None else list(db.usage_services.find({}))
    now = clock.now()
    out = [_change(d, e) for d in docs for e in terms.ahead(d, now)]
    return sorted(out, key=lambda c: (c["at"], c["service"]))


def customers_of(db, service: str) -> set[str]:
    """Who a change of `service` concerns (the module's docstring says why these two sources)."""
    first = (clock.today() - timedelta(days=AUDIENCE_DAYS - 1)).isoformat()
    return ledger.service_users(db, service, first) | fees.subscribers(db, service)


def upcoming_for(db, user_id: str) -> list[dict]:
    """The changes ahead of the services `user_id` used in the last AUDIENCE_DAYS days or subscribes to
    (one wallet's rollups and subscriptions: cheap enough for the wallet page)."""
    ahead = changes_ahead(db)
    if not ahead:
        return []
    last = clock.today()
    used = {s for day in ledger.day_totals(db, user_id, (last - timedelta(days=AUDIENCE_DAYS - 1)).isoformat(),
                                           last.isoformat()).values() for s in (day.get("svc") or {})}
    used |= {s["service"] for s in fees.subscriptions(db, user_id) if s["status"] != fees.ENDED}
    return [c for c in ahead if c["service"] in used]


def describe(t: dict, unit: str) -> str:
    """`Rs. 0.25 per message`, `Rs. 0.03 per 10 token`, `Rs. 0.25 per message; past 10,000 a month Rs. 0.20`."""
    per = int(t["per_units"])
    tiers = "".join(f"; past {int(a):,} a month {format_rupees(int(p))}" for a, p in t.get("tiers") or ())
    return f"{format_rupees(int(t['price_paise']))} per {unit if per == 1 else f'{per:,} {unit}'}{tiers}"


def _change(doc: dict, e: dict) -> dict:
    before = {"tiers": [], **terms.in_effect(doc, e["at"] - _MS)}  # a service from before tiers had none
    return {"id": e["id"], "service": doc["_id"], "display_name": doc["display_name"], "unit": doc["unit"],
            "at": e["at"], "terms": dict(e["terms"]), "before": {k: before.get(k) for k in e["terms"]},
            "by": e.get("by"), "description": describe({**before, **e["terms"]}, doc["unit"])}


def _current(db, name: str) -> catalogue.Service | None:
    try:
        return catalogue.get(db, name)
    except NotFound:
        return None


def _doc(db, name: str) -> dict:
    doc = db.usage_services.find_one({"_id": catalogue.check_name(name)})
    if doc is None:
        raise NotFound(f"No service named {name!r}.")
    return doc


def _swap(db, doc: dict, line: list[dict]) -> bool:
    """Write the timeline if nobody changed it since `doc` was read."""
    res = db.usage_services.update_one({"_id": doc["_id"], "v": doc.get("v")},
                                       {"$set": {"sched": line, "v": int(doc.get("v") or 0) + 1}})
    return res.matched_count == 1
