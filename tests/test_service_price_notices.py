"""A service's price change reaches the customers it concerns (used it in the last 90 days, or subscribe to
it) before it takes effect, through the alert channels, once per change and customer, whatever the reruns
and crashes; nobody else hears of it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from scripts import worker
from services import accounts, alerts, clock, ledger, usage
from services.alerts import notices, service_prices
from services.usage import prices
from tests.support.alerts import subscribe

ELEVEN = datetime(2031, 12, 5, 5, 30, tzinfo=timezone.utc)  # 11:00 IST
NEXT_WEEK = ELEVEN + timedelta(days=7, hours=1)
PW = "Service-notice-pass-71"


@pytest.fixture
def at(monkeypatch):
    box = {"t": ELEVEN}
    monkeypatch.setattr(clock, "now", lambda: box["t"])
    return box


def customer(db, uid):
    accounts.create_user(db, uid, PW, uid.title(), f"{uid}@example.com")
    ledger.post(db, uid, key=f"rch-{uid}", type="credit", category="recharge", amount=100_000)


def price_notices(db, uid):
    return [a for a in notices.of_user(db, uid) if a.get("event_type") == service_prices.EVENT]


def _catalogue(db):
    usage.define(db, "boss", "sms", display_name="SMS", unit="message", price_paise=25)
    usage.define(db, "boss", "number", display_name="Phone number", unit="number·month", price_paise=50_000)


def test_a_service_price_change_is_announced_once_to_its_users_and_subscribers(edb, wired, at):
    sink, endpoint, _ = wired
    _catalogue(edb)
    for uid in ("asha", "ravi", "mina"):
        customer(edb, uid)
        subscribe(edb, uid, endpoint)
    usage.record(edb, "asha", usage.Event("sms", 3, "a1"))        # uses SMS
    usage.subscribe(edb, "ravi", "number", key="num-1")          # rents a number, sends no SMS
    prices.schedule(edb, "boss", "sms", NEXT_WEEK, price_paise=30)
    prices.schedule(edb, "boss", "number", NEXT_WEEK, price_paise=45_000)

    assert worker.tick(edb)["service_price_notices"] == 2  # the worker's step, beside the call price notices
    assert worker.tick(edb)["service_price_notices"] == 0  # announced: the next tick does nothing
    assert price_notices(edb, "mina") == []  # uses neither
    (n,) = price_notices(edb, "asha")
    assert "12 Dec 2031, 12:00 IST" in n["text"] and "Rs. 0.30 per message" in n["text"]
    assert "now Rs. 0.25 per message" in n["text"]
    (r,) = price_notices(edb, "ravi")
    assert "Rs. 450.00 per number·month" in r["text"]

    alerts.deliver_due(edb)
    (mail,) = [m for m in sink.messages() if "asha@example.com" in m["to"]]
    assert mail["subject"] == "The price of SMS is changing"
    (event,) = endpoint.events("asha")
    assert event["body"]["type"] == service_prices.EVENT
    got = event["body"]["data"]["notice"]
    assert {k: got[k] for k in ("service", "price_paise", "per_units", "tiers", "before")} == {
        "service": "sms", "price_paise": 30, "per_units": 1, "tiers": [],
        "before": {"price_paise": 25, "per_units": 1, "tiers": []}}


def test_a_crash_before_the_state_is_written_sends_nothing_twice(edb, wired, at):
    _catalogue(edb)
    customer(edb, "asha")
    usage.record(edb, "asha", usage.Event("sms", 1, "a1"))
    prices.schedule(edb, "boss", "sms", NEXT_WEEK, price_paise=30)
    assert alerts.announce_service_prices(edb) == 1
    # a crash after the notices were written but before the change was marked announced
    edb.service_price_announcements.delete_one({"_id": service_prices.STATE_ID})
    assert alerts.announce_service_prices(edb) == 0
    assert len(price_notices(edb, "asha")) == 1
    later = prices.schedule(edb, "boss", "sms", NEXT_WEEK + timedelta(days=7), price_paise=35)
    assert alerts.announce_service_prices(edb) == 1  # a second change is a second notice
    assert len(price_notices(edb, "asha")) == 2
    prices.cancel(edb, "boss", "sms", later["id"])
    at["t"] = NEXT_WEEK + timedelta(minutes=1)  # in force now: nothing ahead, nothing to say
    assert alerts.announce_service_prices(edb) == 0


def test_a_change_that_keeps_the_price_tells_nobody(edb, wired, at):
    _catalogue(edb)
    customer(edb, "asha")
    usage.record(edb, "asha", usage.Event("sms", 1, "a1"))
    prices.schedule(edb, "boss", "sms", NEXT_WEEK, price_paise=25)
    assert alerts.announce_service_prices(edb) == 0 and price_notices(edb, "asha") == []
