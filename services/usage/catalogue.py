"""The catalogue of services billed besides calls: each a unit ("message", "1k tokens", "number·month") and
an integer price in paise per `per_units` units. An admin defines them; every change is audited."""
from __future__ import annotations

import re
from dataclasses import dataclass

from services import auditlog, checks, clock
from services.errors import InvalidInput, NotFound
from services.usage import terms

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_PRICE_PAISE = 10_000_000      # Rs. 1,00,000 per block of units: a typo guard, not a business rule
MAX_PER_UNITS = 1_000_000
MAX_QUANTITY = 1_000_000_000


@dataclass(frozen=True)
class Service:
    name: str
    display_name: str
    unit: str
    price_paise: int   # per `per_units` units
    per_units: int
    grace_days: int    # a monthly fee unpaid this long suspends the subscription (services.usage.fees)


def price_of(service: Service, quantity: int) -> int:
    """THE usage price rule: `quantity` units cost ceil(quantity x price / per_units) paise, per event."""
    checks.whole_number(quantity, 1, MAX_QUANTITY, what="Quantity", unit="of units")
    return -(-quantity * service.price_paise // service.per_units)


def check_name(name) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput("A service name is 1-32 lowercase letters, digits, '-' or '_', starting with a "
                           "letter or digit.")
    return name


def define(db, admin: str, name: str, *, display_name: str, unit: str, price_paise: int, per_units: int = 1,
           grace_days: int = 7) -> Service:
    """Create or change a service (every later event is priced by it). Audited; bad input writes nothing."""
    svc = Service(check_name(name), checks.text(display_name, what="Display name", least=1, most=80),
                  checks.text(unit, what="Unit", least=1, most=40),
                  checks.whole_number(price_paise, 0, MAX_PRICE_PAISE, what="Price", unit="of paise"),
                  checks.whole_number(per_units, 1, MAX_PER_UNITS, what="Units per price"),
                  checks.whole_number(grace_days, 0, 365, what="Grace period", unit="of days"))
    before = db.usage_services.find_one({"_id": name})
    before = before and terms.in_effect(before, clock.now())  # "was": the price it replaces, scheduled or not
    doc = {"display_name": svc.display_name, "unit": svc.unit, "price_paise": svc.price_paise,
           "per_units": svc.per_units, "grace_days": svc.grace_days, "updated_at": clock.now(), "updated_by": admin}
    db.usage_services.update_one({"_id": name}, {"$set": doc}, upsert=True)
    was = "" if before is None else f" (was {before['price_paise']} paise per {before['per_units']})"
    auditlog.record(db, admin, "service.define", name,
                    f"{svc.display_name}: {svc.price_paise} paise per {svc.per_units} {svc.unit}{was}")
    return svc


def get(db, name: str) -> Service:
    doc = db.usage_services.find_one({"_id": check_name(name)})
    if doc is None:
        raise NotFound(f"No service named {name!r}.")
    return _service(doc)


def services(db) -> list[Service]:
    return sorted((_service(d) for d in db.usage_services.find({})), key=lambda s: s.name)


def _service(doc: dict) -> Service:
    doc = terms.in_effect(doc, clock.now())  # a scheduled price change in effect now (services.usage.prices)
    return Service(doc["_id"], doc["display_name"], doc["unit"], int(doc["price_paise"]), int(doc["per_units"]),
                   int(doc.get("grace_days", 7)))


DEMO = (("sms", "SMS", "message", 25, 1), ("number", "Phone number", "number·month", 50_000, 1))


def seed_demo(db) -> int:
    """`make run` on a new database: SMS at 25 paise and a rented number at Rs. 500 a month, so a newcomer
    sees other services beside calls. Services already defined are left as they are. Returns how many it made."""
    made = 0
    for name, display, unit, price, per in DEMO:
        if db.usage_services.find_one({"_id": name}) is None:
            define(db, "system", name, display_name=display, unit=unit, price_paise=price, per_units=per)
            made += 1
    return made
