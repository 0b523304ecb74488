"""Rate plans, changes that take effect at a chosen time (audited, shown ahead), the tariff a call keeps,
and a campaign that keeps the rate of its estimate or asks before resuming at a new one."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services import accounts, calls, campaigns, clock, ledger, rates, settings, telephony
from services.errors import Conflict, InvalidAmount, InvalidInput, NotFound
from services.pricing import Tariff

NUM = "+919876543210"
KB = "kb_sales"
ELEVEN = datetime(2031, 12, 5, 11, 0, tzinfo=timezone.utc)
NOON = ELEVEN + timedelta(hours=1)


@pytest.fixture
def at(monkeypatch):
    """The clock, set by the test: at["t"] = ..."""
    box = {"t": ELEVEN}
    monkeypatch.setattr(clock, "now", lambda: box["t"])
    return box


def customer(db, uid, paise=100_000):
    accounts.create_user(db, uid, "pass-phrase-1", uid.title(), f"{uid}@example.com")
    ledger.post(db, uid, key=f"rch-{uid}", type="credit", category="recharge", amount=paise)


def debits(db, uid):
    return [e for e in ledger.iter_entries(db, user_id=uid) if e["type"] == "debit"]


def test_a_rate_change_at_noon_prices_a_call_by_its_start(edb, at):
    customer(edb, "asha")
    rec = rates.set_call_rate(edb, "12.50", by="boss", at=NOON)
    assert (rec["old"], rec["new"], rec["by"], rec["effective_at"], rec["at"]) == (1000, 1250, "boss", NOON, ELEVEN)
    assert settings.get(edb)["call_rate_paise"] == 1000 and settings.get(edb, NOON)["call_rate_paise"] == 1250
    (ahead,) = rates.upcoming(edb, "asha")
    assert (ahead["effective_at"], ahead["tariff"].rate_paise) == (NOON, 1250)
    assert ahead["description"] == "Rs. 12.50 per minute, billed per second, unanswered calls free"
    at["t"] = NOON - timedelta(minutes=1)
    before = calls.start_call(edb, "asha", NUM, KB, max_minutes=5)
    at["t"] = NOON
    after = calls.start_call(edb, "asha", NUM, KB, max_minutes=5)
    assert (before["rate_paise"], after["rate_paise"]) == (1000, 1250)
    at["t"] = NOON + timedelta(minutes=3)  # the 11:59 call ends after noon: still the old rate
    assert calls.end_call(edb, "asha", before["call_id"], 60)["cost_paise"] == 1000
    assert calls.end_call(edb, "asha", after["call_id"], 60)["cost_paise"] == 1250
    assert rates.upcoming(edb, "asha") == []
    h = settings.history(edb)[0]
    assert (h["name"], h["old"], h["new"], h["by"], h["effective_at"]) == ("call_rate_paise", 1000, 1250, "boss", NOON)
    assert ledger.audit(edb) == []


def test_plans_assigned_per_customer_from_a_chosen_time(edb, at):
    customer(edb, "ravi")
    customer(edb, "meena")
    rates.define_plan(edb, "pulse6", rate="9", initial_seconds=6, subsequent_seconds=6, by="boss")
    rates.define_plan(edb, "business", rate="8", initial_seconds=30, subsequent_seconds=6, min_billable_seconds=60,
                      attempt_fee="0.50", by="boss")
    rates.assign_plan(edb, "ravi", "business", by="boss", at=NOON)
    rates.assign_plan(edb, "meena", "pulse6", by="boss")
    assert [p["name"] for p in rates.list_plans(edb)] == ["standard", "business", "pulse6"]
    assert rates.tariff_for(edb, "meena") == Tariff(900, 6, 6, plan="pulse6")
    assert rates.tariff_for(edb, "ravi") == Tariff(1000)
    (ahead,) = rates.upcoming(edb, "ravi")
    assert ahead["description"] == ("Rs. 8.00 per minute, first 30 s, then per 6 s, at least 60 s per answered "
                                    "call, Rs. 0.50 per unanswered or failed attempt")
    at["t"] = NOON
    call = calls.start_call(edb, "ravi", NUM, KB, max_minutes=5)
    assert call["plan"] == "business"
    # The plan's rate changes at 13:00; a call started at 12:00 keeps the terms it started with, and a
    # customer's own rate (set by an admin) replaces the rate of their plan, not its increments.
    rates.define_plan(edb, "business", rate="11", initial_seconds=30, subsequent_seconds=6, by="boss",
                      at=NOON + timedelta(hours=1))
    at["t"] = NOON + timedelta(hours=2)
    assert calls.end_call(edb, "ravi", call["call_id"], 61)["cost_paise"] == 880  # 66 s at Rs. 8
    assert calls.simulate_call(edb, "ravi", NUM, KB, duration_seconds=61)["cost_paise"] == 1210  # 66 s at 11
    rates.set_call_rate(edb, "6", by="boss", user_id="ravi")
    assert rates.tariff_for(edb, "ravi") == Tariff(600, 30, 6, plan="business")
    rates.assign_plan(edb, "ravi", None, by="boss")
    assert rates.tariff_for(edb, "ravi") == Tariff(600)
    assert [e["meta"]["plan"] for e in debits(edb, "ravi")] == ["business", "business"]
    assert ledger.audit(edb) == []


def test_a_scheduled_change_can_be_withdrawn_before_it_takes_effect(edb, at):
    customer(edb, "lata")
    rec = rates.set_call_rate(edb, "15", by="boss", user_id="lata", at=NOON)
    assert rates.upcoming(edb, "lata")[0]["tariff"].rate_paise == 1500
    settings.cancel(edb, rec["_id"], by="boss2")
    assert rates.upcoming(edb, "lata") == []
    (h,) = [h for h in settings.history(edb) if h.get("cancels")]  # the clock stands still: same time
    assert (h["by"], h["cancels"], h["old"], h["new"]) == ("boss2", rec["_id"], 1500, None)
    with pytest.raises(NotFound):
        settings.cancel(edb, rec["_id"], by="boss")
    rec = rates.set_user_value(edb, "lata", "daily_cap_paise", 5000, by="boss", at=NOON)
    at["t"] = NOON
    with pytest.raises(NotFound, match="no longer ahead"):  # it took effect already
        settings.cancel(edb, rec["_id"], by="boss")
    assert settings.limits_for(edb, "lata")["daily_cap_paise"] == 5000


def test_bad_plans_and_schedules_write_nothing(edb, at):
    customer(edb, "usr1")
    n = edb.settings_history.count_documents({})
    bad = [
        lambda: rates.set_call_rate(edb, "12", by="b", at=ELEVEN - timedelta(hours=1)),
        lambda: rates.set_call_rate(edb, "12", by="b", at=ELEVEN + timedelta(days=400)),
        lambda: rates.set_call_rate(edb, "12", by="b", at="tomorrow"),
        lambda: settings.set_value(edb, "max_concurrent_calls", 0, by="b"),
        lambda: settings.set_value(edb, "call_slice_seconds", 10, by="b"),
        lambda: rates.set_user_value(edb, "usr1", "max_concurrent_calls", 1001, by="b"),
        lambda: rates.define_plan(edb, "standard", rate="5", by="b"),
        lambda: rates.define_plan(edb, "Bad Name", rate="5", by="b"),
        lambda: rates.define_plan(edb, "x", rate="5", initial_seconds=7, subsequent_seconds=7, by="b"),
        lambda: rates.define_plan(edb, "x", rate="0", by="b"),
        lambda: rates.define_plan(edb, "x", rate="5", attempt_fee="-1", by="b"),
        lambda: rates.define_plan(edb, "x", rate="5", min_billable_seconds=3601, by="b"),
        lambda: rates.assign_plan(edb, "usr1", "nosuch", by="b"),
        lambda: rates.assign_plan(edb, "ghost", None, by="b"),
    ]
    for f in bad:
        with pytest.raises((InvalidInput, InvalidAmount, NotFound)):
            f()
    # A plan defined for later cannot be assigned from before it exists.
    rates.define_plan(edb, "later", rate="5", by="b", at=NOON)
    with pytest.raises(NotFound):
        rates.assign_plan(edb, "usr1", "later", by="b")
    assert [p["name"] for p in rates.list_plans(edb)] == ["standard"]
    assert edb.settings_history.count_documents({}) == n + 1


def test_campaign_keeps_the_rate_of_its_estimate_or_asks_before_resuming(edb):
    customer(edb, "camp", 10000)  # Rs. 100
    c = campaigns.create_campaign(edb, "camp", [f"+9198{i:08d}" for i in range(10)], KB, 2)
    assert c["estimate"]["rate_paise"] == 1000 and c["tariff"]["rate_paise"] == 1000
    cid = c["campaign_id"]
    changed_mid_run = []

    def progress(s):  # an admin raises the rate while the campaign runs: its calls keep Rs. 10
        if s["completed"] == 2 and not changed_mid_run:
            changed_mid_run.append(rates.set_call_rate(edb, "12.50", by="boss"))
    s = campaigns.run_campaign(edb, "camp", cid, progress=progress, backend=telephony.SimulatedBackend(120))
    assert (s["status"], s["completed"], s["cost_paise"]) == ("needs_recharge", 5, 10000) and changed_mid_run
    assert [e["amount"] for e in debits(edb, "camp")] == [2000] * 5
    ledger.post(edb, "camp", key="rch-2", type="credit", category="recharge", amount=20000)
    with pytest.raises(Conflict) as exc:  # it was estimated at Rs. 10/min: it asks first
        campaigns.run_campaign(edb, "camp", cid)
    assert "Rs. 10.00 per minute" in exc.value.message and "Rs. 12.50 per minute" in exc.value.message
    change = campaigns.rate_change(edb, "camp", cid)
    assert (change["old"]["rate_paise"], change["new"]["rate_paise"]) == (1000, 1250)
    assert (change["estimate"]["calls"], change["estimate"]["cost_per_call_paise"]) == (5, 2500)
    assert change["estimate"]["affordable"] == 5
    with pytest.raises(Conflict, match="changed again"):
        campaigns.confirm_rate(edb, "camp", cid, change["old"])
    campaigns.confirm_rate(edb, "camp", cid, change["new"])
    assert campaigns.rate_change(edb, "camp", cid) is None
    s = campaigns.run_campaign(edb, "camp", cid, backend=telephony.SimulatedBackend(120))
    assert (s["status"], s["completed"], s["cost_paise"]) == ("completed", 10, 10000 + 12500)
    assert [e["amount"] for e in debits(edb, "camp")] == [2000] * 5 + [2500] * 5
    assert ledger.get_wallet(edb, "camp").balance == 7500 and ledger.audit(edb) == []


def test_a_campaign_waits_for_a_simultaneous_call_slot(edb, monkeypatch):
    customer(edb, "slot")
    rates.set_user_value(edb, "slot", "max_concurrent_calls", 1, by="boss")
    busy = calls.start_call(edb, "slot", NUM, KB, max_minutes=2)
    c = campaigns.create_campaign(edb, "slot", ["+919800000001", "+919800000002"], KB, 1, concurrency=5)
    monkeypatch.setattr(campaigns.runner, "THROTTLE_WAIT_SECONDS", 0.5)
    s = campaigns.run_campaign(edb, "slot", c["campaign_id"])
    assert (s["status"], s["completed"], s["pending"]) == ("too_many_calls", 0, 2)
    assert "simultaneous-call slots" in s["message"]
    monkeypatch.setattr(campaigns.runner, "THROTTLE_WAIT_SECONDS", 30)
    import threading
    threading.Timer(0.5, lambda: calls.end_call(edb, "slot", busy["call_id"], 60)).start()
    s = campaigns.run_campaign(edb, "slot", c["campaign_id"])  # waits for the slot, then one at a time
    assert (s["status"], s["completed"]) == ("completed", 2)
    assert ledger.get_wallet(edb, "slot").held == 0 and ledger.audit(edb) == []
