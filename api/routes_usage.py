"""Other services billed from the wallet: the voice platform reports usage events (one, or up to 1,000 per
request) and manages monthly subscriptions (a rented number) with a key or token having the `calls` scope;
an admin defines the catalogue."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import DB, AdminUser, Calls, ExactRoute, Reporter
from api.errors import status_of
from api.schemas_usage import (ScheduledChangeOut, ServiceIn, ServiceOut, ServicesOut, SubscribeIn, SubscriptionOut,
                               SubscriptionsOut, TierOut, UsageBatchIn, UsageBatchOut, UsageIn, UsageOut,
                               UsageResultOut)
from services import accounts, usage

router = APIRouter(tags=["usage"], route_class=ExactRoute)

Name = Annotated[str, Path(max_length=32)]
SubId = Annotated[str, Path(max_length=40, pattern=r"^sub_[0-9a-f]+$")]
ChangeId = Annotated[str, Path(max_length=32, pattern=r"^[0-9a-f]+$")]


def _event(body: UsageIn) -> usage.Event:
    return usage.Event(body.service, body.quantity, body.idempotency_key, body.occurred_at, body.metadata)


def _usage_out(e: dict) -> UsageOut:
    return UsageOut(entry_id=e["_id"], service=e["meta"]["service"], quantity=e["meta"]["quantity"],
                    amount_paise=e["amount"], balance_after_paise=e["balance_after"], created_at=e["created_at"])


@router.post("/api/usage", response_model=UsageOut)
def record(body: UsageIn, acct: Calls, db: DB):
    """Bill one usage event at once from the wallet, once per `idempotency_key` (a replay answers the first
    result; the same key with another body is 409). 402 when the wallet cannot pay: nothing is written and
    the key stays free for a later delivery. The daily spend limit and an API key's caps bind as they do
    calls (402 `spend_cap_reached`)."""
    return _usage_out(usage.record(db, acct.account, _event(body), key_id=acct.key,
                                   budget=accounts.keys.budget_for(db, acct.key)))


@router.post("/api/usage/batch", response_model=UsageBatchOut)
def record_batch(body: UsageBatchIn, acct: Calls, db: DB):
    """Bill up to 1,000 events in order, each once per key: the events the wallet can pay for are debited,
    the others refused alone (402 per event; 409 for a key reused with another body; 400/404 for a bad
    event). The response answers per event, in order."""
    results = usage.record_batch(db, acct.account, [_event(e) for e in body.events], key_id=acct.key,
                                 budget=accounts.keys.budget_for(db, acct.key))
    out = [_result(i, r) for i, r in enumerate(results)]
    billed = [r for r in out if r.status == 200]
    return UsageBatchOut(billed=len(billed), refused=len(out) - len(billed),
                         amount_paise=sum(r.amount_paise or 0 for r in billed), results=out)


def _result(i: int, r: usage.Result) -> UsageResultOut:
    if r.entry is not None:
        return UsageResultOut(index=i, status=200, entry_id=r.entry["_id"], amount_paise=r.entry["amount"],
                              balance_after_paise=r.entry["balance_after"])
    assert r.error is not None
    return UsageResultOut(index=i, status=status_of(r.error),
                          error={"status": status_of(r.error), "code": r.error.code, "message": r.error.message})


@router.get("/api/subscriptions", response_model=SubscriptionsOut)
def subscriptions(acct: Calls, db: DB, active: bool = False):
    """The account's subscriptions to monthly fees (`?active=true`: only those in service now)."""
    return SubscriptionsOut(subscriptions=[_sub_out(s) for s in
                                           usage.subscriptions(db, acct.account, active_only=active)])


@router.post("/api/subscriptions", response_model=SubscriptionOut)
def subscribe(body: SubscribeIn, acct: Calls, db: DB):
    """Subscribe to a service's monthly fee (once per `idempotency_key`): the first month is charged prorated
    by the worker, then each month once. A fee the wallet cannot pay becomes an amount due."""
    return _sub_out(usage.subscribe(db, acct.account, body.service, key=body.idempotency_key, quantity=body.quantity))


@router.post("/api/subscriptions/{sub_id}/end", response_model=SubscriptionOut)
def end(sub_id: SubId, acct: Calls, db: DB):
    """End a subscription: no later month is charged."""
    return _sub_out(usage.end(db, acct.account, sub_id))


def _sub_out(s: dict) -> SubscriptionOut:
    return SubscriptionOut(id=s["_id"], service=s["service"], quantity=s["quantity"], status=s["status"],
                           started_at=s["started_at"], ended_at=s.get("ended_at"), paid_period=s.get("period"),
                           next_charge=s.get("next_charge") if s["status"] != "ended" else None)


@router.get("/api/admin/services", response_model=ServicesOut)
def services(_: Reporter, db: DB):
    """The catalogue of services billed besides calls: each with its price now and its changes ahead."""
    return ServicesOut(services=[_service_out(row) for row in usage.prices.listing(db)])


@router.put("/api/admin/services/{name}", response_model=ServiceOut)
def define(name: Name, body: ServiceIn, admin: AdminUser, db: DB):
    """Create or change a service: every later event is priced by it. With `effective_at`, the new price takes
    effect then, and the customers who use the service are told ahead. Audited."""
    tiers = None if body.tiers is None else [(t.after_units, t.price_paise) for t in body.tiers]
    return _service_out(usage.prices.define_at(db, admin["username"], name, display_name=body.display_name,
                                               unit=body.unit, price_paise=body.price_paise, per_units=body.per_units,
                                               grace_days=body.grace_days, tiers=tiers, effective_at=body.effective_at))


@router.delete("/api/admin/services/{name}/changes/{change_id}", response_model=ScheduledChangeOut)
def cancel_change(name: Name, change_id: ChangeId, admin: AdminUser, db: DB):
    """Withdraw a price change not yet in effect (404 once it took effect). Audited."""
    return _change_out(usage.prices.cancel(db, admin["username"], name, change_id))


def _tiers_out(tiers) -> list[TierOut]:
    return [TierOut(after_units=int(a), price_paise=int(p)) for a, p in tiers or ()]


def _service_out(row: dict) -> ServiceOut:
    s = row["service"]
    return ServiceOut(**dict(vars(s), tiers=_tiers_out(s.tiers)), scheduled=[_change_out(c) for c in row["ahead"]])


def _change_out(c: dict) -> ScheduledChangeOut:
    return ScheduledChangeOut(id=c["id"], effective_at=c["at"], price_paise=c["terms"]["price_paise"],
                              per_units=c["terms"]["per_units"], tiers=_tiers_out(c["terms"].get("tiers")),
                              scheduled_by=c["by"])
