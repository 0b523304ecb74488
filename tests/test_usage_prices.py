"""Scheduled price changes of other services (issue 29): validated and audited, bad input writing nothing;
every debit pays the terms in effect at its moment (events, reservations, monthly fees); a change in effect
stays in effect on a fresh read; one not yet in effect can be withdrawn."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services import auditlog, clock, ledger, usage
from services.errors import InvalidInput, NotFound
from services.usage import prices

T0 = datetime(2031, 12, 5, 5, 30, tzinfo=timezone.utc)  # 11:00 IST
LATER = T0 + timedelta(days=2)


@pytest.fixture
def at(monkeypatch):
    box = {"t": T0}
    monkeypatch.setattr(clock, "now", lambda: box["t"])
    return box


def _setup(db):
    usage.define(db, "root", "sms", display_name="SMS", unit="message", price_paise=25)
    ledger.post(db, "acme", key="seed", type="credit", category="recharge", amount=100_000)


@pytest.mark.parametrize("when,price,per", [
    (datetime(2031, 12, 7, 11, 0), 30, 1),  # noqa: DTZ001  no zone: which 11:00?
    (T0 - timedelta(minutes=1), 30, 1),                         # in the past
    (T0, 30, 1),                                                # now is not a schedule: define is
    (T0 + timedelta(days=367), 30, 1),                          # beyond a year
    ("next tuesday", 30, 1), ("2031-12-07T11:00:00", 30, 1),    # the API's text: not a time, no zone
    (LATER, -1, 1), (LATER, 2.5, 1), (LATER, 30, 0), (LATER, True, 1)])
def test_a_bad_schedule_writes_nothing(edb, at, when, price, per):
    _setup(edb)
    with pytest.raises(InvalidInput):
        prices.schedule(edb, "root", "sms", when, price_paise=price, per_units=per)
    assert "sched" not in edb.usage_services.find_one({"_id": "sms"})
    assert not [r for r in auditlog.between(edb) if r["action"] == "service.schedule"]
    with pytest.raises(NotFound):
        prices.schedule(edb, "root", "nosuch", LATER, price_paise=30)


def test_the_old_price_bills_until_the_change_and_the_new_one_after(edb, at):
    _setup(edb)
    ist = timezone(timedelta(hours=5, minutes=30))
    ch = prices.schedule(edb, "root", "sms", LATER.astimezone(ist), price_paise=30, per_units=1)
    assert (ch["at"], ch["terms"], ch["before"]) == (LATER, {"price_paise": 30, "per_units": 1, "tiers": []},
                                                     {"price_paise": 25, "per_units": 1, "tiers": []})
    (row,) = [r for r in auditlog.between(edb) if r["action"] == "service.schedule"]
    assert (row["actor"], row["target"]) == ("root", "sms") and "Rs. 0.30 per message" in row["detail"]
    assert usage.record(edb, "acme", usage.Event("sms", 4, "before"))["amount"] == 100
    at["t"] = LATER - timedelta(milliseconds=1)
    assert usage.get(edb, "sms").price_paise == 25
    at["t"] = LATER
    assert usage.record(edb, "acme", usage.Event("sms", 4, "after"))["amount"] == 120
    assert [s.price_paise for s in usage.services(edb)] == [30]
    assert prices.changes_ahead(edb) == []
    at["t"] = LATER + timedelta(days=40)  # read afresh from storage much later (a restart): still in effect
    assert usage.get(edb, "sms").price_paise == 30
    assert usage.reservations.reserve(edb, "acme", "sms", 10, key="r1")["held_paise"] == 300


def test_a_monthly_fee_is_charged_at_the_price_in_effect_on_its_day(edb, at):
    at["t"] = datetime(2031, 11, 30, 20, 0, tzinfo=timezone.utc)  # 1 Dec 01:30 IST: a full first month
    usage.define(edb, "root", "number", display_name="Number", unit="number·month", price_paise=50_000)
    ledger.post(edb, "acme", key="seed", type="credit", category="recharge", amount=1_000_000)
    usage.subscribe(edb, "acme", "number", key="n1")
    usage.charge_due(edb)
    prices.schedule(edb, "root", "number", datetime(2031, 12, 15, tzinfo=timezone.utc), price_paise=60_000)
    at["t"] = datetime(2032, 1, 1, 0, 0, tzinfo=timezone.utc)  # January's fee is due
    usage.charge_due(edb)
    fees, _ = ledger.entries(edb, "acme", category="fee")
    assert [(e["meta"]["period"], e["amount"]) for e in fees] == [("2032-01", 60_000), ("2031-12", 50_000)]


def test_a_definition_after_a_change_in_effect_wins_and_a_change_ahead_can_be_withdrawn(edb, at):
    _setup(edb)
    first = prices.schedule(edb, "root", "sms", T0 + timedelta(days=1), price_paise=30)
    second = prices.schedule(edb, "root", "sms", LATER, price_paise=40)
    assert [c["id"] for c in prices.changes_ahead(edb)] == [first["id"], second["id"]]
    assert prices.changes_ahead(edb)[1]["before"] == {"price_paise": 30, "per_units": 1, "tiers": []}
    at["t"] = T0 + timedelta(days=1, hours=1)
    with pytest.raises(NotFound):
        prices.cancel(edb, "root", "sms", first["id"])  # in effect: no longer withdrawable
    usage.define(edb, "root", "sms", display_name="SMS", unit="message", price_paise=20)  # the admin, later
    assert usage.get(edb, "sms").price_paise == 20
    assert any("was 30 paise" in r["detail"] for r in auditlog.between(edb) if r["action"] == "service.define")
    gone = prices.cancel(edb, "root", "sms", second["id"])
    assert gone["terms"]["price_paise"] == 40 and prices.changes_ahead(edb) == []
    with pytest.raises(NotFound):
        prices.cancel(edb, "root", "sms", second["id"])
    at["t"] = LATER + timedelta(hours=1)
    assert usage.get(edb, "sms").price_paise == 20
    assert [r["action"] for r in auditlog.between(edb) if r["target"] == "sms"].count("service.cancel") == 1


def test_who_a_change_concerns_users_of_90_days_and_subscribers(edb, at):
    _setup(edb)
    usage.define(edb, "root", "number", display_name="Number", unit="number·month", price_paise=50_000)
    for uid in ("old", "recent", "other", "sub"):
        ledger.post(edb, uid, key=f"seed-{uid}", type="credit", category="recharge", amount=100_000)
    usage.record(edb, "old", usage.Event("sms", 1, "o1"))
    at["t"] = T0 + timedelta(days=95)
    usage.record(edb, "recent", usage.Event("sms", 1, "r1"))
    usage.subscribe(edb, "sub", "number", key="n1")
    at["t"] = T0 + timedelta(days=100)
    for uid in ("old", "recent", "other", "sub"):  # a later write moves the closed days out of each wallet
        ledger.post(edb, uid, key=f"more-{uid}", type="credit", category="recharge", amount=100)
    assert prices.customers_of(edb, "sms") == {"recent"}
    assert prices.customers_of(edb, "number") == {"sub"}
    usage.record(edb, "other", usage.Event("sms", 1, "x1"))  # today's day lives in the wallet document
    assert prices.customers_of(edb, "sms") == {"recent", "other"}
    prices.schedule(edb, "root", "sms", at["t"] + timedelta(days=3), price_paise=30)
    assert [c["service"] for c in prices.upcoming_for(edb, "recent")] == ["sms"]
    assert prices.upcoming_for(edb, "old") == [] and prices.upcoming_for(edb, "sub") == []


def test_a_reservation_keeps_the_price_it_was_made_at_through_a_change(edb, at):
    """Like a call: a reservation made before a price change is extended and billed at its own price; the
    next one pays the new price; a repeated settlement answers its first entry."""
    at["t"] = datetime(2031, 11, 10, 6, 0, tzinfo=timezone.utc)
    usage.define(edb, "root", "storage", display_name="Storage", unit="minute", price_paise=2)
    ledger.post(edb, "acme", key="seed", type="credit", category="recharge", amount=100_000)
    r = usage.reservations.reserve(edb, "acme", "storage", 500, key="job-1")
    prices.schedule(edb, "root", "storage", at["t"] + timedelta(hours=1), price_paise=3)
    at["t"] += timedelta(hours=2)
    assert usage.get(edb, "storage").price_paise == 3
    assert usage.reservations.extend(edb, "acme", r["reservation_id"], "storage", 100, step=1) == 1_200
    e = usage.reservations.settle(edb, "acme", r["reservation_id"], "storage", 600)
    assert e["amount"] == 1_200 and usage.reservations.settle(edb, "acme", r["reservation_id"], "storage", 600) == e
    assert usage.reservations.reserve(edb, "acme", "storage", 100, key="job-2")["held_paise"] == 300
    assert ledger.audit(edb) == []
