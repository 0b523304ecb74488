"""The catalogue of services billed besides calls: each a unit ("message", "1k tokens", "number·month") and
an integer price in paise per `per_units` units, with optional volume tiers per month (the units of a month
beyond 10,000 at a lower price...). An admin defines them; every change is audited."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from services import auditlog, checks, clock
from services.errors import InvalidInput, NotFound
from services.money import parse_rupees
from services.usage import terms

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_PRICE_PAISE = 10_000_000      # Rs. 1,00,000 per block of units: a typo guard, not a business rule
MAX_PER_UNITS = 1_000_000
MAX_QUANTITY = 1_000_000_000
MAX_TIERS = 10


@dataclass(frozen=True)
class Service:
    name: str
    display_name: str
    unit: str
    price_paise: int   # per `per_units` units
    per_units: int
    grace_days: int    # a monthly fee unpaid this long suspends the subscription (services.usage.fees)
    # Volume tiers: (after_units, price_paise), after_units rising, prices falling: the units of a business
    # month past `after_units` cost `price_paise` per `per_units` (metered events; services.ledger.volumes).
    tiers: tuple[tuple[int, int], ...] = ()


def price_of(service: Service, quantity: int, before: int = 0) -> int:
    """THE usage price rule: `quantity` units cost ceil(units x price / per_units) paise, per event; with
    volume tiers each unit at the price of the tier its place in the month puts it in (`before`: the units
    the month used already). Never more than the service's own price: tiers only lower it."""
    checks.whole_number(quantity, 1, MAX_QUANTITY, what="Quantity", unit="of units")
    steps = [(0, service.price_paise), *service.tiers]
    end, total = before + quantity, 0
    for k, (after, price) in enumerate(steps):
        upto = steps[k + 1][0] if k + 1 < len(steps) else end
        total += max(0, min(end, upto) - max(before, after)) * price
    return -(-total // service.per_units)


def check_tiers(tiers, price_paise: int) -> tuple[tuple[int, int], ...]:
    """Volume tiers as given (pairs or {after_units, price_paise}): after_units rising from 1, each price at
    least 1 paisa and below the one before it (a tier is a discount; a free tier would bill nothing)."""
    if not isinstance(tiers, (list, tuple)) or len(tiers) > MAX_TIERS:
        raise InvalidInput(f"Volume tiers are a list of at most {MAX_TIERS}.")
    out: list[tuple[int, int]] = []
    for t in tiers:
        after, price = (t.get("after_units"), t.get("price_paise")) if isinstance(t, dict) else \
            (tuple(t) if isinstance(t, (list, tuple)) and len(t) == 2 else (None, None))
        after = checks.whole_number(after, 1, MAX_QUANTITY, what="A tier's units", unit="of units")
        price = checks.whole_number(price, 1, MAX_PRICE_PAISE, what="A tier's price", unit="of paise")
        last_after, last_price = out[-1] if out else (0, price_paise)
        if after <= last_after:
            raise InvalidInput("Each volume tier starts after more units than the one before it.")
        if price >= last_price:
            raise InvalidInput("Each volume tier's price is below the price before it (tiers are discounts).")
        out.append((after, price))
    return tuple(out)


def parse_tiers(text: str) -> list[tuple[int, int]]:
    """Volume tiers as an admin types them: `10000: 0.20, 100000: 0.15` (units past which, rupees per
    `per_units` units); empty: none. InvalidInput on anything else; `check_tiers` checks the order."""
    out = []
    for part in (p.strip() for p in (text or "").replace(";", ",").split(",")):
        if not part:
            continue
        units, sep, rupees = part.partition(":")
        if not sep or not units.strip().replace("_", "").isdigit():
            raise InvalidInput("Write volume tiers as 'units: price', e.g. '10000: 0.20, 100000: 0.15'.")
        out.append((int(units.strip()), parse_rupees(rupees.strip(), what="A tier's price")))
    return out


def check_name(name) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput("A service name is 1-32 lowercase letters, digits, '-' or '_', starting with a "
                           "letter or digit.")
    return name


def define(db, admin: str, name: str, *, display_name: str, unit: str, price_paise: int, per_units: int = 1,
           grace_days: int = 7, tiers=()) -> Service:
    """Create or change a service (every later event is priced by it). Audited; bad input writes nothing."""
    price = checks.whole_number(price_paise, 0, MAX_PRICE_PAISE, what="Price", unit="of paise")
    svc = Service(check_name(name), checks.text(display_name, what="Display name", least=1, most=80),
                  checks.text(unit, what="Unit", least=1, most=40), price,
                  checks.whole_number(per_units, 1, MAX_PER_UNITS, what="Units per price"),
                  checks.whole_number(grace_days, 0, 365, what="Grace period", unit="of days"),
                  check_tiers(tiers, price))
    before = db.usage_services.find_one({"_id": name})
    before = before and terms.in_effect(before, clock.now())  # "was": the price it replaces, scheduled or not
    doc = {"display_name": svc.display_name, "unit": svc.unit, "price_paise": svc.price_paise,
           "per_units": svc.per_units, "grace_days": svc.grace_days, "tiers": [list(t) for t in svc.tiers],
           "updated_at": clock.now(), "updated_by": admin}
    db.usage_services.update_one({"_id": name}, {"$set": doc}, upsert=True)
    was = "" if before is None else f" (was {before['price_paise']} paise per {before['per_units']})"
    tiers = "".join(f"; past {a:,} units a month {p} paise" for a, p in svc.tiers)
    auditlog.record(db, admin, "service.define", name,
                    f"{svc.display_name}: {svc.price_paise} paise per {svc.per_units} {svc.unit}{tiers}{was}")
    return svc


def get(db, name: str, at: datetime | None = None) -> Service:
    """The service with the terms in effect now (or at `at`: a reservation keeps the price it was made at)."""
    doc = db.usage_services.find_one({"_id": check_name(name)})
    if doc is None:
        raise NotFound(f"No service named {name!r}.")
    return _service(doc, at)


def services(db) -> list[Service]:
    return sorted((_service(d) for d in db.usage_services.find({})), key=lambda s: s.name)


def _service(doc: dict, at: datetime | None = None) -> Service:
    doc = terms.in_effect(doc, clock.as_utc(at) if at else clock.now())  # scheduled changes (services.usage.prices)
    return Service(doc["_id"], doc["display_name"], doc["unit"], int(doc["price_paise"]), int(doc["per_units"]),
                   int(doc.get("grace_days", 7)), tuple((int(a), int(p)) for a, p in doc.get("tiers") or ()))


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
