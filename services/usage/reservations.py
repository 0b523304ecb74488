"""Reservations for long-running usage (a transcription job, a recording kept for a while): money set aside
like a call's hold (reserve, extend, settle) and billed once at settle for the quantity actually used, at
most what was reserved; the rest goes back. The ledger's holds do the work (services.ledger.holds). Like a call,
a reservation keeps the price it was made at: a price change taking effect meanwhile (services.usage.prices)
applies to the next one, and its extensions and settlement are priced as it was reserved."""
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
    svc = _as_reserved(db, user_id, reservation_id, service)
    return ledger.extend(db, user_id, reservation_id, catalogue.price_of(svc, more_quantity), step=step,
                         daily_cap=settings.limits_for(db, user_id)["daily_cap_paise"], budget=budget)


def settle(db, user_id: str, reservation_id: str, service: str, quantity: int) -> dict | None:
    """Bill `quantity` units used (their price at most what is held; InvalidInput beyond) and give the rest
    back, once: a repeat returns the first entry."""
    key = f"usage-settle:{reservation_id}"
    h = ledger.get_wallet(db, user_id).holds.get(reservation_id)
    if h is None and (done := ledger.find_entry(db, key)) is not None:
        return done  # a repeat: its first answer (the hold, and the time that priced it, are gone)
    svc = catalogue.get(db, service, at=h.created_at if h is not None else None)
    amount = catalogue.price_of(svc, quantity) if quantity else 0
    return ledger.settle(db, user_id, reservation_id, amount, key=key,
                         category="usage", source="usage", meta={"service": svc.name, "label": svc.display_name,
                                                             "quantity": quantity})


def _as_reserved(db, user_id: str, reservation_id: str, service: str) -> catalogue.Service:
    """The service at the terms in effect when the reservation was made (now, if it is no longer open)."""
    h = ledger.get_wallet(db, user_id).holds.get(reservation_id)
    return catalogue.get(db, service, at=h.created_at if h is not None else None)
