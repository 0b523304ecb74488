"""Subscriptions to a monthly fee (a rented number), charged by the worker (`charge_due`) once per business
month: the first month prorated by the days left in it (rounded down: the customer's favour), each later one
in full at the catalogue's price of the day. The charge is `ledger.debit_owing` under the key
`fee:{subscription}:{month}`, so a worker killed at any point and run again charges nothing twice; what the
wallet cannot pay becomes the amount due, which the next recharge pays first (services.ledger.dues). A fee
still unpaid after the service's grace period suspends the subscription; paying the due resumes it.
"""
from __future__ import annotations

import calendar
import hashlib
from datetime import datetime, timedelta

from services import checks, clock, ledger
from services.db import insert_new
from services.errors import Conflict, NotFound
from services.usage import catalogue

ACTIVE, ENDED, SUSPENDED = "active", "ended", "suspended"
MAX_QUANTITY = 1000


def subscribe(db, user_id: str, service: str, *, key: str, quantity: int = 1) -> dict:
    """Subscribe `user_id` to `service` (once per `key`); the worker charges its first, prorated, month."""
    svc = catalogue.get(db, service)
    checks.whole_number(quantity, 1, MAX_QUANTITY, what="Quantity")
    checks.text(key, what="Idempotency key", least=1, most=150)
    sid = "sub_" + hashlib.sha256(f"{user_id}\n{key}".encode()).hexdigest()[:24]
    now = clock.now()
    doc = {"_id": sid, "user_id": user_id, "service": svc.name, "quantity": quantity, "status": ACTIVE,
           "started_at": now, "ended_at": None, "period": None, "next_charge": now, "due_since": None}
    if insert_new(db.subscriptions, doc):
        return doc
    old = db.subscriptions.find_one({"_id": sid}) or {}
    if (old.get("user_id"), old.get("service"), old.get("quantity")) != (user_id, svc.name, quantity):
        raise Conflict("This idempotency key was already used for a different subscription.")
    return old


def end(db, user_id: str, sub_id: str) -> dict:
    """End a subscription: no later month is charged (the month already charged is not refunded)."""
    db.subscriptions.update_one({"_id": sub_id, "user_id": user_id, "status": {"$ne": ENDED}},
                                {"$set": {"status": ENDED, "ended_at": clock.now()}})
    doc = db.subscriptions.find_one({"_id": sub_id, "user_id": user_id}) if isinstance(sub_id, str) else None
    if doc is None:
        raise NotFound(f"No subscription {sub_id}.")
    return doc


def subscriptions(db, user_id: str, *, active_only: bool = False) -> list[dict]:
    rows = db.subscriptions.find({"user_id": user_id, "status": ACTIVE} if active_only else {"user_id": user_id})
    return sorted(rows, key=lambda d: (clock.as_utc(d["started_at"]), d["_id"]))


def subscribers(db, service: str) -> set[str]:
    """Who holds a subscription to `service` not ended (suspended ones resume at the catalogue's price). A
    full read: subscriptions are few (one per rented number) and this runs once per announced price change."""
    return {s["user_id"] for s in db.subscriptions.find({"service": service, "status": {"$ne": ENDED}},
                                                        {"user_id": 1})}


def charge_due(db, now: datetime | None = None) -> dict:
    """The worker's step: every active subscription whose month has come is charged for it (each month
    once), then the grace periods are applied. Safe to run twice, or to kill and run again."""
    now = now or clock.now()
    charged = 0
    for first in list(db.subscriptions.find({"next_charge": {"$lte": now}})):
        sub: dict | None = first
        while sub is not None and sub["status"] == ACTIVE and clock.as_utc(sub["next_charge"]) <= now:
            _charge(db, sub, now)  # a worker down for months catches up, each month once
            charged += 1
            sub = db.subscriptions.find_one({"_id": sub["_id"]})
    return {"charged": charged, **_grace(db, now)}


def first_month_fee(full: int, started: datetime) -> int:
    d = clock.date_of(started)
    days = calendar.monthrange(d.year, d.month)[1]
    return full * (days - d.day + 1) // days


def _charge(db, sub: dict, now: datetime) -> None:
    at = clock.as_utc(sub["next_charge"])
    d = clock.date_of(at)
    period = f"{d.year:04d}-{d.month:02d}"
    svc = catalogue.get(db, sub["service"])
    full = catalogue.price_of(svc, int(sub["quantity"]))
    amount = first_month_fee(full, clock.as_utc(sub["started_at"])) if sub.get("period") is None else full
    sets: dict = {"period": period, "next_charge": clock.month_span(d.year, d.month)[1]}
    if amount > 0:
        e = ledger.debit_owing(db, sub["user_id"], key=f"fee:{sub['_id']}:{period}", amount=amount, category="fee",
                               source=sub["_id"], note=f"{svc.display_name}, {period}", spend=True,
                               meta={"service": svc.name, "label": svc.display_name,
                                     "quantity": int(sub["quantity"]), "subscription": sub["_id"],
                                     "period": period})
        if int(e.get("due_delta") or 0) and sub.get("due_since") is None:
            sets["due_since"] = now
    # Only from the state read: a run that raced this one has moved it on already.
    db.subscriptions.update_one({"_id": sub["_id"], "next_charge": sub["next_charge"]}, {"$set": sets})


def _grace(db, now: datetime) -> dict:
    suspended = resumed = 0
    for sub in list(db.subscriptions.find({"due_since": {"$ne": None}})):
        if ledger.get_wallet(db, sub["user_id"]).due == 0:
            back = sub["status"] == SUSPENDED
            db.subscriptions.update_one({"_id": sub["_id"]}, {"$set": {"due_since": None, **(
                {"status": ACTIVE} if back else {})}})
            resumed += back
        elif sub["status"] == ACTIVE and now - clock.as_utc(sub["due_since"]) >= timedelta(
                days=catalogue.get(db, sub["service"]).grace_days):
            db.subscriptions.update_one({"_id": sub["_id"], "status": ACTIVE}, {"$set": {"status": SUSPENDED}})
            suspended += 1
    return {"suspended": suspended, "resumed": resumed}
