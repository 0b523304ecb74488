"""Metered usage: events of a catalogue service debited from the wallet at once, in order, each once per
idempotency key (a replay answers the first result; the same key with another body is a Conflict), never
beyond the available balance (InsufficientBalance per event). One event or up to 1,000 go through the same
path, services.ledger.batch: a batch is a few writes, not one per event. A service with volume tiers is
priced there, by the units its month used before each event (services.ledger.volumes): racing batches
never both take a tier's price.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from services import checks, clock, ledger, settings
from services.errors import InvalidInput, WalletError
from services.usage import catalogue

MAX_METADATA_CHARS = 1000
_FUTURE_SLACK = timedelta(minutes=5)  # clocks of the voice platform's hosts drift a little


@dataclass(frozen=True)
class Event:
    service: str
    quantity: int
    idempotency_key: str
    occurred_at: datetime | str | None = None
    metadata: dict | None = None


@dataclass(frozen=True)
class Result:
    """One event's outcome: its debit entry, or the error that refused it (nothing written for it)."""
    entry: dict | None = None
    error: WalletError | None = None


def record(db, user_id: str, event: Event, *, key_id: str | None = None,
           budget: ledger.Budget | None = None) -> dict:
    """Bill one event; returns its debit entry. Raises what refused it."""
    [r] = record_batch(db, user_id, [event], key_id=key_id, budget=budget)
    if r.error is not None:
        raise r.error
    assert r.entry is not None
    return r.entry


def record_batch(db, user_id: str, events: list[Event], *, key_id: str | None = None,
                 budget: ledger.Budget | None = None) -> list[Result]:
    """Bill each event in order while the wallet can pay; one Result per event. An event that is not valid
    (unknown service, bad quantity...) is refused alone with InvalidInput. The customer's daily spend limit
    binds as it does calls, and an API key's caps (`budget`) as they do its calls (SpendCapReached)."""
    if not 1 <= len(events) <= ledger.MAX_BATCH:
        raise InvalidInput(f"A batch holds 1 to {ledger.MAX_BATCH:,} events.")
    known: dict[str, catalogue.Service | WalletError] = {}
    out: list[Result | None] = [None] * len(events)
    debits, where = [], []
    for i, ev in enumerate(events):
        try:
            debits.append(_debit(db, user_id, ev, known, key_id))
            where.append(i)
        except WalletError as exc:
            out[i] = Result(error=exc)
    if debits:
        cap = settings.limits_for(db, user_id)["daily_cap_paise"]
        done = ledger.post_batch(db, user_id, debits, category="usage", source="usage", daily_cap=cap, budget=budget)
        for i, o in zip(where, done, strict=True):
            out[i] = Result(entry=o) if isinstance(o, dict) else Result(error=o)
    return [r for r in out if r is not None]


def _debit(db, user_id: str, ev: Event, known: dict, key_id: str | None):
    svc = known.get(ev.service)
    if svc is None:
        try:
            svc = known[ev.service] = catalogue.get(db, ev.service)
        except WalletError as exc:
            svc = known[ev.service] = exc
    if isinstance(svc, WalletError):
        raise svc
    checks.text(ev.idempotency_key, what="Idempotency key", least=1, most=150)
    amount = catalogue.price_of(svc, ev.quantity)
    if amount == 0:
        raise InvalidInput(f"{svc.display_name} is free at this quantity: there is nothing to bill.")
    meta = {"service": svc.name, "label": svc.display_name, "quantity": ev.quantity, "price_paise": svc.price_paise,
            "per_units": svc.per_units}  # the label as priced: statements and tables name what was billed
    if ev.occurred_at is not None:
        meta["occurred_at"] = _when(ev.occurred_at).isoformat()
    if ev.metadata:
        meta["metadata"] = _metadata(ev.metadata)  # as JSON: a client's keys may hold '.' or '$'
    if key_id:
        meta["key_id"] = key_id  # spend per API key in the rollups (services.ledger.budgets)
    body = {"service": ev.service, "quantity": ev.quantity, "occurred_at": meta.get("occurred_at"),
            "metadata": ev.metadata or None}
    volume = None
    if svc.tiers:  # priced in the wallet's compare-and-set by the month's units before it (`amount`: the most)
        meta["tiers"] = " ".join(f"{a}:{p}" for a, p in svc.tiers)
        volume = ledger.Volume(svc.name, ev.quantity, functools.partial(catalogue.price_of, svc, ev.quantity))
    return ledger.BatchDebit(ledger_key(user_id, ev.idempotency_key), amount, meta, _fingerprint(body), volume)


def ledger_key(user_id: str, idempotency_key: str) -> str:
    """The ledger's key for a client's key: per account (two accounts' keys never meet), in the key alphabet."""
    return "usage:" + hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).hexdigest()[:40]


def _fingerprint(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def _when(t) -> datetime:
    if isinstance(t, str):  # ISO 8601 from the API
        try:
            t = datetime.fromisoformat(t)
        except ValueError:
            raise InvalidInput("occurred_at must be an ISO 8601 date and time with its zone.") from None
    if not isinstance(t, datetime) or t.tzinfo is None:
        raise InvalidInput("occurred_at must be a date and time with its zone.")
    if t > clock.now() + _FUTURE_SLACK:
        raise InvalidInput("occurred_at is in the future.")
    return clock.as_utc(t)


def _metadata(m) -> str:
    if not isinstance(m, dict) or not all(isinstance(k, str) for k in m):
        raise InvalidInput("metadata must be an object.")
    try:
        text = json.dumps(m, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput("metadata must hold only text, numbers, true/false and null.") from None
    if len(text) > MAX_METADATA_CHARS:
        raise InvalidInput(f"metadata must be at most {MAX_METADATA_CHARS} characters of JSON.")
    return text
