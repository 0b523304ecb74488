"""Other services billed from the same wallet as calls (issue 29): SMS, rented numbers, tokens, storage.

- `catalogue` the services an admin defines: a unit and an integer price in paise per `per_units` units,
  optional volume tiers per month; `price_of`, THE price rule of usage (rounded up per event); audited
- `metering`  `record` one usage event, `record_batch` up to 1,000: debited at once, in order, each once per
  idempotency key, never beyond the available balance (services.ledger.batch)
- `reservations` long-running usage set aside like a call's hold: `reserve`, `extend`, `settle`
- `fees`      subscriptions to a monthly fee (a rented number): `charge_due` (the worker) charges each once
  per business month, prorated for the first; what the wallet cannot pay becomes an amount due, paid first
  from the next recharge; unpaid past the service's grace period, the subscription is suspended
- `prices`    price changes scheduled ahead (`schedule`, `cancel`, `changes_ahead`), who they concern
  (`customers_of`, `upcoming_for`); `terms` reads a service's timeline: a debit pays the terms in effect now
"""
from services.usage import catalogue, fees, metering, prices, reservations
from services.usage.catalogue import Service, define, get, price_of, services
from services.usage.fees import charge_due, end, subscribe, subscriptions
from services.usage.metering import Event, Result, record, record_batch

COLLECTIONS = {"usage_services": [], "subscriptions": [[("user_id", 1)], [("next_charge", 1)]]}

__all__ = ["Event", "Result", "Service", "catalogue", "charge_due", "define", "end", "fees", "get", "metering",
           "price_of", "prices", "record", "record_batch", "reservations", "services", "subscribe", "subscriptions"]
