"""A price change reaches the customers it concerns before it takes effect, through the alert channels
(e-mail and the signed webhook), once each, and not the customers whose price does not change."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services import alerts, clock, ledger, rates, settings, users
from services.alerts import notices
from tests.support.alerts import subscribe

ELEVEN = datetime(2031, 12, 5, 5, 30, tzinfo=timezone.utc)  # 11:00 IST
NOON = ELEVEN + timedelta(hours=1)
PW = "Tariff-notice-pass-71"


@pytest.fixture
def at(monkeypatch):
    box = {"t": ELEVEN}
    monkeypatch.setattr(clock, "now", lambda: box["t"])
    return box


def customer(db, uid):
    users.create_user(db, uid, PW, uid.title(), f"{uid}@example.com")
    ledger.post(db, uid, key=f"rch-{uid}", type="credit", category="recharge", amount=50_000)


def tariff_notices(db, uid):
    return [a for a in notices.of_user(db, uid) if a.get("event_type") == alerts.tariffs.EVENT]


def test_a_global_rate_change_is_announced_once_to_those_it_concerns(edb, wired, at):
    sink, endpoint, _ = wired
    for uid in ("asha", "ravi"):
        customer(edb, uid)
        subscribe(edb, uid, endpoint)
    settings.set_call_rate(edb, "8", by="boss", user_id="ravi")  # ravi's own rate: a global change is not his
    users.create_user(edb, "ops", PW, "Ops", "ops@example.com", role="analyst")
    settings.set_call_rate(edb, "12.50", by="boss", at=NOON)

    assert alerts.announce_tariffs(edb) == 1
    assert alerts.announce_tariffs(edb) == 0  # announced: the next tick does nothing
    assert tariff_notices(edb, "ravi") == [] and tariff_notices(edb, "ops") == []
    (n,) = tariff_notices(edb, "asha")
    assert "12 Dec 2031" not in n["text"] and "05 Dec 2031, 12:00 IST" in n["text"]
    assert "Rs. 12.50 per minute" in n["text"]

    alerts.deliver_due(edb)
    (mail,) = [m for m in sink.messages() if "asha@example.com" in m["to"]]
    assert "price is changing" in mail["subject"].lower() or "price" in mail["body"].lower()
    (event,) = endpoint.events("asha")
    assert event["body"]["type"] == alerts.tariffs.EVENT
    assert event["body"]["data"]["notice"]["rate_paise"] == 1250


def test_a_customers_own_change_tells_only_them_and_a_crash_repeats_nothing(edb, wired, at):
    for uid in ("asha", "ravi"):
        customer(edb, uid)
    rates.define_plan(edb, "bulk", rate="7", initial_seconds=60, subsequent_seconds=60, by="boss")
    rates.assign_plan(edb, "asha", "bulk", by="boss", at=NOON)
    assert alerts.announce_tariffs(edb) == 1
    # a crash after the notices were written but before the change was marked announced
    edb.alert_cursors.delete_one({"_id": alerts.tariffs.STATE_ID})
    assert alerts.announce_tariffs(edb) == 0
    (n,) = tariff_notices(edb, "asha")
    assert "Rs. 7.00 per minute, billed per started minute" in n["text"]
    assert tariff_notices(edb, "ravi") == []
    at["t"] = NOON + timedelta(minutes=1)  # in force now: nothing ahead, nothing to say
    assert alerts.announce_tariffs(edb) == 0
