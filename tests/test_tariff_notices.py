"""A price change reaches the customers it concerns before it takes effect, through the alert channels
(e-mail and the signed webhook), once each, and not the customers whose price does not change."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services import accounts, alerts, clock, ledger, rates, schema
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
    accounts.create_user(db, uid, PW, uid.title(), f"{uid}@example.com")
    ledger.post(db, uid, key=f"rch-{uid}", type="credit", category="recharge", amount=50_000)


def tariff_notices(db, uid):
    return [a for a in notices.of_user(db, uid) if a.get("event_type") == alerts.tariffs.EVENT]


def test_a_global_rate_change_is_announced_once_to_those_it_concerns(edb, wired, at):
    sink, endpoint, _ = wired
    for uid in ("asha", "ravi"):
        customer(edb, uid)
        subscribe(edb, uid, endpoint)
    rates.set_call_rate(edb, "8", by="boss", user_id="ravi")  # ravi's own rate: a global change is not his
    accounts.create_user(edb, "ops", PW, "Ops", "ops@example.com", role="analyst")
    rates.set_call_rate(edb, "12.50", by="boss", at=NOON)

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


def test_low_balance_alerts_keep_arriving_after_a_rate_change_is_scheduled(edb, wired, at):
    """The announced changes have a collection of their own: once they were a document among the alert
    cursors, and every pass of the low-balance alerts failed on it ('n') after an admin scheduled a change."""
    customer(edb, "asha")  # Rs. 500
    alerts.derive(edb)
    rates.set_call_rate(edb, "12.50", by="boss", at=NOON)
    assert alerts.announce_tariffs(edb) == 1
    ledger.post(edb, "asha", key="spend", type="debit", category="call", amount=49_000)  # Rs. 10 left
    assert alerts.run(edb)["written"] == 1
    lows = [a for a in alerts.of_user(edb, "asha") if a.get("event_type") != alerts.tariffs.EVENT]
    assert [(a["kind"], a["threshold_paise"]) for a in lows] == [("threshold", 2_000)]


def test_an_announced_change_kept_among_the_cursors_moves_once_at_start(edb, wired, at):
    """A database from before the fix: its record of announced changes sits among the alert cursors. The
    start moves it (announced stays announced), and the low-balance pass works again."""
    customer(edb, "asha")
    alerts.derive(edb)
    rates.set_call_rate(edb, "12.50", by="boss", at=NOON)
    assert alerts.announce_tariffs(edb) == 1
    moved = edb.tariff_announcements.find_one({"_id": "announced"})
    edb.tariff_announcements.delete_many({})
    edb.alert_cursors.insert_many([dict(moved, _id="tariffs:announced")])  # where the old code kept it
    schema.ensure_schema(edb)
    schema.ensure_schema(edb)  # the next start finds nothing to move
    assert edb.alert_cursors.find_one({"_id": "tariffs:announced"}) is None
    assert edb.tariff_announcements.find_one({"_id": "announced"})["ids"] == moved["ids"]
    assert alerts.announce_tariffs(edb) == 0  # nobody hears of the same change twice
    ledger.post(edb, "asha", key="spend", type="debit", category="call", amount=49_000)
    assert alerts.run(edb)["written"] == 1
