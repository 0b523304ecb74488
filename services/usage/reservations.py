"""Reservations for long-running usage (a transcription job, a recording kept for a while): money set aside
like a call's hold (reserve, extend, settle) and billed once at settle for the quantity actually used, at
most what was reserved; the rest goes back. The ledger's holds do the work (services.ledger.holds)."""
from __future__ import annotations

import hashlib

from services import checks, ledger, settings
from services.usage import catalogue


def reservation_id(user_id: str, key: str) -> str:
    return "usage-" + hashlib.sha256(f"{user_id}\n{key}".encode()).hexdigest()[:32]


def reserve(db, user_id: str, service: str, quantity: int, *, key: str,
            budget: ledger.Budget | None = None) -> dict:
    """Set aside the price of `quantity` units of `service` (once per `key`). InsufficientBalance or
    SpendCapReached when it cannot be set aside."""
    checks.text(key, what="Idempotency key", least=1, most=150)
    svc = catalogue.get(db, service)
    rid = reservation_id(user_id, key)
    held = ledger.hold(db, user_id, rid, catalogue.price_of(svc, quantity), ref=f"usage:{svc.name}",
                       daily_cap=settings.limits_for(db, user_id)["daily_cap_paise"], budget=budget)
    return {"reservation_id": rid, "service": svc.name, "held_paise": held}


def extend(db, user_id: str, reservation_id: str, service: str, more_quantity: int, *, step: int,
           budget: ledger.Budget | None = None) -> int:
    """Set aside the price of `more_quantity` units more (once per `step`). Returns the total held."""
    svc = catalogue.get(db, service)
    return ledger.extend(db, user_id, reservation_id, catalogue.price_of(svc, more_quantity), step=step,
                         daily_cap=settings.limits_for(db, user_id)["daily_cap_paise"], budget=budget)


def settle(db, user_id: str, reservation_id: str, service: str, quantity: int) -> dict | None:
    """Bill `quantity` units used (their price at most what is held; InvalidInput beyond) and give the rest
    back, once: a repeat returns the first entry."""
    svc = catalogue.get(db, service)
    amount = catalogue.price_of(svc, quantity) if quantity else 0
    return ledger.settle(db, user_id, reservation_id, amount, key=f"usage-settle:{reservation_id}",
                         category="usage", source="usage", meta={"service": svc.name, "label": svc.display_name,
                                                             "quantity": quantity})
