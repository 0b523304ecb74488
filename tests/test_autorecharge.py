"""Auto-recharge through Razorpay's recurring payments, against the offline sandbox over HTTP with the real
SDK; Razorpay's webhooks reach razorpay_events.handle_webhook; the notice period is 1.8 seconds."""
from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from services import alerts, autorecharge, clock, ledger, razorpay_events
from services.autorecharge import charges, mandates, planner
from services.errors import Conflict, InvalidAmount, InvalidInput, PaymentUnavailable
from tests.support.autorecharge import active_mandate, customer, notices_of, sandbox_payments, spend, wait_for
from tests.support.payments import control

TERMS = {"threshold": 100, "amount": 500, "monthly_cap": 5000}


@pytest.fixture
def env(edb, hooked):
    hooked.forwarder.db = edb
    return edb, hooked


def tick(db):
    return lambda: autorecharge.run(db)


def recharge_credits(db, uid: str) -> list[dict]:
    page, _ = ledger.entries(db, uid, type="credit", category="recharge", limit=100)
    return [e for e in page if e["key"].startswith("razorpay:")]


# ------------------------------------------------------------------------------------------ set-up

@pytest.mark.parametrize("bad, error", [
    (dict(threshold="abc"), InvalidAmount), (dict(amount=5), InvalidAmount), (dict(amount="15000.01"), InvalidInput),
    (dict(monthly_cap=400), InvalidInput), (dict(daily_cap=100), InvalidInput), (dict(daily_cap=6000), InvalidInput),
    (dict(method="paypal"), InvalidInput), (dict(accept_afa="yes"), InvalidInput),
    (dict(threshold=True), InvalidAmount), (dict(amount="100001", accept_afa=True), InvalidAmount)])
def test_bad_terms_write_nothing_anywhere(env, bad, error):
    db, h = env
    customer(db, "asha")
    with pytest.raises(error):
        autorecharge.configure(db, "asha", **(TERMS | bad))
    assert mandates.get(db, "asha") is None and not h.sandbox.customers and not h.sandbox.invoices
    assert autorecharge.status(db, "asha")["state"] == "off"


def test_set_up_authorise_and_the_rs_1_authorisation_is_credited_once(env):
    db, h = env
    customer(db, "asha", 300)
    st = autorecharge.configure(db, "asha", **TERMS, daily_cap=1000)
    m = st["mandate"]
    assert st["state"] == "pending" and st["label"] == "pending authorisation" and m["authorisation_url"]
    assert (m["frequency"], m["max_amount_paise"], m["method"]) == ("as_presented", 50_000, "upi")
    inv = h.sandbox.invoices[mandates.get(db, "asha")["registration_id"]]
    order = h.sandbox.orders[inv["order_id"]]
    assert order["token"] == {"max_amount": 50_000, "expire_at": order["token"]["expire_at"],
                              "frequency": "as_presented"}
    with pytest.raises(Conflict):
        autorecharge.configure(db, "asha", **TERMS | {"method": "card"})  # pending: the method is fixed
    httpx.post(m["authorisation_url"] + "/approve", trust_env=False).raise_for_status()
    # Webhooks alone make it active (the worker is not run here).
    wait_for(lambda: autorecharge.status(db, "asha")["state"] == "active")
    h.sandbox.webhooks.wait_idle(10)
    wait_for(lambda: len(recharge_credits(db, "asha")) == 1)
    razorpay_events.reconcile_open(db, due_only=False)
    h.sandbox.webhooks.wait_idle(10)
    assert [int(e["amount"]) for e in recharge_credits(db, "asha")] == [100]  # Rs. 1, once
    st = autorecharge.status(db, "asha")
    assert st["mandate"]["token_status"] == "confirmed" and st["mandate"]["daily_cap_paise"] == 100_000
    assert ledger.audit(db) == []


def test_a_rejected_mandate_and_its_link_closed_at_razorpay(env):
    db, h = env
    customer(db, "asha")
    st = autorecharge.configure(db, "asha", **TERMS)
    r = httpx.post(st["mandate"]["authorisation_url"] + "/reject", trust_env=False)
    assert "rejected" in r.text
    wait_for(lambda: autorecharge.status(db, "asha")["state"] == "rejected", tick=tick(db))
    inv_id = mandates.get(db, "asha")["registration_id"]
    wait_for(lambda: h.sandbox.invoices[inv_id]["status"] == "cancelled", tick=tick(db))
    assert "not authorised" in autorecharge.status(db, "asha")["mandate"]["reason"]
    # Set up again: a new mandate replaces it; the old one is kept for admins.
    autorecharge.configure(db, "asha", **TERMS)
    assert [m["no"] for m in autorecharge.all_mandates(db)] == [2, 1]


def test_set_up_while_razorpay_is_down_is_finished_by_the_worker(env):
    db, h = env
    customer(db, "asha")
    control(h, "fault", mode="5xx", count=1)
    with pytest.raises(PaymentUnavailable):
        autorecharge.configure(db, "asha", **TERMS)
    assert autorecharge.status(db, "asha")["state"] == "pending"
    wait_for(lambda: mandates.get(db, "asha")["auth_url"], tick=tick(db))
    assert len(h.sandbox.invoices) == 1


# ------------------------------------------------------------------------------------------ charging

def test_notice_first_then_one_charge_credited_once(env):
    db, h = env
    customer(db, "asha", 300)
    active_mandate(db, h, "asha")
    spend(db, "asha", 220, "calls")  # Rs. 81 left: below the Rs. 100 threshold
    c = wait_for(lambda: charges.get(db, mandates.get(db, "asha").get("in_flight")), tick=tick(db))
    assert c["state"] == "notified" and c["amount_paise"] == 50_000
    notice = notices_of(db, "asha", "wallet.autorecharge.scheduled")
    assert len(notice) == 1 and "Rs. 500.00" in notice[0]["headline"] and "pause or cancel" in notice[0]["text"]
    order = h.sandbox.orders[c["order_id"]]
    assert order["notification"]["token_id"] == mandates.get(db, "asha")["token_id"]
    assert not sandbox_payments(h, "asha")  # nothing debited during the notice
    wait_for(lambda: charges.get(db, c["_id"])["state"] == "credited", tick=tick(db))
    pays = sandbox_payments(h, "asha")
    assert len(pays) == 1 and pays[0]["status"] == "captured"
    assert pays[0]["created_at"] >= order["notification"]["payment_after"]
    assert clock_of(notice[0]) < pays[0]["created_at"]
    # Every path again: redelivered webhooks, reconciliation, the worker: still one credit.
    control(h, "webhooks/redeliver")
    h.sandbox.webhooks.wait_idle(10)
    razorpay_events.reconcile_open(db, due_only=False)
    for _ in range(5):
        autorecharge.run(db)
    credits = [e for e in recharge_credits(db, "asha") if int(e["amount"]) == 50_000]
    assert len(credits) == 1 and credits[0]["key"] == f"razorpay:{pays[0]['id']}"
    assert mandates.get(db, "asha")["in_flight"] is None
    assert len(h.sandbox.orders) == 2  # the authorisation's and this charge's
    assert ledger.audit(db) == []


def clock_of(alert: dict) -> int:
    from services import clock
    return int(clock.as_utc(alert["created_at"]).timestamp())


def test_a_failed_charge_one_alert_with_a_working_link_one_retry_no_more(env, monkeypatch):
    db, h = env
    customer(db, "asha", 300)
    st = active_mandate(db, h, "asha")
    control(h, f"tokens/{st['mandate']['token_id']}/debits", outcomes=["insufficient_funds", "bank_down"])
    spend(db, "asha", 220, "calls")
    wait_for(lambda: len(sandbox_payments(h, "asha")) == 2 and not mandates.get(db, "asha")["in_flight"],
             tick=tick(db), timeout=30)
    for _ in range(20):  # the crossing is spent: no third debit, however long the worker runs
        autorecharge.run(db)
        time.sleep(0.05)
    pays = sorted(sandbox_payments(h, "asha"), key=lambda p: p["created_at"])
    assert [p["status"] for p in pays] == ["failed", "failed"]
    # The retry was delayed: announced after the first failed, debited only after its own notice.
    retry_order = h.sandbox.orders[pays[1]["order_id"]]
    assert pays[1]["created_at"] >= retry_order["notification"]["payment_after"] > pays[0]["created_at"]
    first, second = sorted(charges.recent(db), key=lambda c: c["attempt"])
    assert (first["state"], second["state"]) == ("failed", "failed") and "insufficient balance" in first["reason"]
    failures = notices_of(db, "asha", "wallet.autorecharge.failed")
    assert len(failures) == 1 and "insufficient balance" in failures[0]["text"] and "once more" in failures[0]["text"]
    assert len(notices_of(db, "asha", "wallet.autorecharge.scheduled")) == 2  # each debit had its notice
    # The alert's payment link works: delivering it makes the link, paying it credits the wallet.
    alerts.deliver_due(db)
    link = db.alerts.find_one({"_id": failures[0]["_id"]})["link"]
    assert link and link["amount_paise"] == 50_000
    before = ledger.get_wallet(db, "asha").balance
    r = httpx.post(link["short_url"] + "/pay", data={"method": "upi"}, trust_env=False)
    assert r.status_code == 303
    wait_for(lambda: ledger.get_wallet(db, "asha").balance == before + 50_000)
    assert ledger.audit(db) == []


def test_revoked_during_the_notice_turns_auto_recharge_off_and_says_so(env):
    db, h = env
    customer(db, "asha", 300)
    st = active_mandate(db, h, "asha")
    control(h, f"tokens/{st['mandate']['token_id']}/debits", outcomes=["mandate_revoked"])
    spend(db, "asha", 220, "calls")
    wait_for(lambda: autorecharge.status(db, "asha")["state"] == "cancelled" and
             not mandates.get(db, "asha")["in_flight"], tick=tick(db), timeout=30)
    for _ in range(10):
        autorecharge.run(db)
    assert [p["status"] for p in sandbox_payments(h, "asha")] == ["failed"]  # no retry
    off = notices_of(db, "asha", "wallet.autorecharge.off")
    assert len(off) == 1 and off[0]["with_link"] and not notices_of(db, "asha", "wallet.autorecharge.failed")
    assert "turned itself off" in autorecharge.status(db, "asha")["mandate"]["reason"]


def test_monthly_cap_stops_further_charges_and_the_customer_is_told(env):
    db, h = env
    customer(db, "asha", 300)
    active_mandate(db, h, "asha", monthly_cap=500)
    spend(db, "asha", 220, "a")
    wait_for(lambda: any(c["state"] == "credited" for c in charges.recent(db)), tick=tick(db), timeout=30)
    spend(db, "asha", 500, "b")  # Rs. 81 + 500 - 500: below the threshold again
    for _ in range(10):
        autorecharge.run(db)
    assert len(charges.recent(db)) == 1 and len(sandbox_payments(h, "asha")) == 1
    told = notices_of(db, "asha", "wallet.autorecharge.cap_reached")
    assert len(told) == 1 and "monthly cap of Rs. 500.00" in told[0]["headline"]
    assert autorecharge.status(db, "asha")["used_this_month_paise"] == 50_000


def test_daily_cap(env):
    db, h = env
    customer(db, "asha", 300)
    active_mandate(db, h, "asha", daily_cap=500)
    spend(db, "asha", 220, "a")
    wait_for(lambda: any(c["state"] == "credited" for c in charges.recent(db)), tick=tick(db), timeout=30)
    spend(db, "asha", 500, "b")
    for _ in range(5):
        autorecharge.run(db)
    assert len(charges.recent(db)) == 1
    assert "daily cap" in notices_of(db, "asha", "wallet.autorecharge.cap_reached")[0]["headline"]


def test_paused_resumed_and_cancelled(env):
    db, h = env
    customer(db, "asha", 300)
    st = active_mandate(db, h, "asha")
    autorecharge.pause(db, "asha")
    spend(db, "asha", 220, "a")
    for _ in range(5):
        autorecharge.run(db)
    assert not charges.recent(db) and autorecharge.status(db, "asha")["state"] == "paused"
    autorecharge.resume(db, "asha")
    assert mandates.get(db, "asha")["era"] == 1
    c = wait_for(lambda: charges.get(db, mandates.get(db, "asha").get("in_flight")), tick=tick(db))
    assert c["state"] == "notified"
    autorecharge.cancel(db, "asha")  # during the notice: the debit never happens
    token = h.sandbox.tokens[st["mandate"]["token_id"]]
    # Razorpay forwards the cancel to NPCI: cancellation_initiated, then token.cancelled once it confirms
    assert token["recurring_details"]["status"] == "cancellation_initiated"
    assert mandates.get(db, "asha")["token_status"] == "cancellation_initiated"
    wait_for(lambda: mandates.get(db, "asha")["token_status"] == "cancelled", timeout=10)
    assert mandates.get(db, "asha")["cancelled_by"] == "you"  # our own cancel: not told as a bank revocation
    wait_for(lambda: charges.get(db, c["_id"])["state"] == "skipped", tick=tick(db), timeout=10)
    time.sleep(2)
    for _ in range(5):
        autorecharge.run(db)
    assert not sandbox_payments(h, "asha") and autorecharge.status(db, "asha")["state"] == "cancelled"
    assert autorecharge.cancel(db, "asha")["state"] == "cancelled"  # again: nothing to do
    with pytest.raises(Conflict):
        autorecharge.pause(db, "asha")


def test_paused_and_revoked_in_the_upi_app(env):
    db, h = env
    customer(db, "asha", 300)
    tid = active_mandate(db, h, "asha")["mandate"]["token_id"]
    control(h, f"tokens/{tid}/pause")
    wait_for(lambda: autorecharge.status(db, "asha")["state"] == "paused")
    with pytest.raises(Conflict):
        autorecharge.resume(db, "asha")  # only the customer's UPI app can
    control(h, f"tokens/{tid}/resume")
    wait_for(lambda: autorecharge.status(db, "asha")["state"] == "active")
    control(h, f"tokens/{tid}/cancel")
    wait_for(lambda: autorecharge.status(db, "asha")["state"] == "cancelled")
    assert len(notices_of(db, "asha", "wallet.autorecharge.off")) == 1
    assert not mandates.get(db, "asha")["razorpay_open"]  # the bank cancelled it: nothing to close


def test_the_low_balance_alert_still_goes_out_when_money_runs_out_faster(env):
    db, h = env
    customer(db, "asha", 300)
    active_mandate(db, h, "asha")
    alerts.derive(db)
    spend(db, "asha", 290, "burst", each=290)  # one big debit: Rs. 11, straight under Rs. 20
    autorecharge.run(db)
    alerts.derive(db)
    kinds = {a["kind"] for a in db.alerts.find({"user_id": "asha"})}
    assert "threshold" in kinds and "notice" in kinds


def test_the_forecast_plans_ahead_of_the_threshold(env, monkeypatch):
    db, h = env
    customer(db, "asha", 1000)
    active_mandate(db, h, "asha")
    monkeypatch.setenv("WALLET_PREDEBIT_NOTICE_HOURS", "0.01")  # a 54-second horizon: the test's pace is not
    f = planner.forecast(db, "asha")
    assert not f.reaches(10_000) and autorecharge.status(db, "asha")["next_charge"]["state"] == "forecast"
    spend(db, "asha", 300, "fast")  # Rs. 300 in the last horizon: Rs. 701 - 300 is above Rs. 100
    assert not planner.forecast(db, "asha").reaches(10_000)
    spend(db, "asha", 300, "faster")  # Rs. 401 left, Rs. 600 spent within the horizon: plan now
    assert planner.forecast(db, "asha").reaches(10_000)
    assert planner.plan(db, mandates.get(db, "asha")) is not None
    assert planner.plan(db, mandates.get(db, "asha")) is None  # one in flight


def test_a_planner_reading_a_stale_mandate_never_charges_a_crossing_twice(env, monkeypatch):
    db, h = env
    customer(db, "asha", 300)
    active_mandate(db, h, "asha")
    spend(db, "asha", 220, "calls")
    stale = mandates.get(db, "asha")
    c = planner.plan(db, stale)
    assert c is not None and mandates.get(db, "asha")["charged_crossing"] == charges.crossing_of(c["_id"])
    assert mandates.set_in_flight(db, stale, None, was=c["_id"])  # as if it had concluded meanwhile
    assert planner.plan(db, stale) is None and planner.plan(db, mandates.get(db, "asha")) is None
    assert mandates.get(db, "asha")["in_flight"] is None and len(charges.recent(db)) == 1


# ------------------------------------------------------------------------------------------ crash states

def test_killed_between_marking_the_mandate_and_writing_the_charge(env):
    db, h = env
    customer(db, "asha", 300)
    active_mandate(db, h, "asha")
    spend(db, "asha", 220, "calls")
    m = mandates.get(db, "asha")
    cid = charges.charge_id(m, planner.crossing_basis(db, m), 1)
    assert mandates.set_in_flight(db, m, cid, was=None, crossing=charges.crossing_of(cid))  # ...and killed here
    assert charges.get(db, cid) is None
    wait_for(lambda: (charges.get(db, cid) or {}).get("state") == "credited" and
             not mandates.get(db, "asha")["in_flight"], tick=tick(db), timeout=30)
    assert [p["status"] for p in sandbox_payments(h, "asha")] == ["captured"] and len(charges.recent(db)) == 1
    assert ledger.audit(db) == []


def test_killed_while_concluding_a_failure_before_the_mandate_moved_to_the_retry(env):
    db, h = env
    customer(db, "asha", 300)
    st = active_mandate(db, h, "asha")
    control(h, f"tokens/{st['mandate']['token_id']}/debits", outcomes=["bank_down", "success"])
    spend(db, "asha", 220, "calls")
    first = wait_for(lambda: next((c for c in charges.recent(db) if c["state"] == "failed"), None), tick=tick(db),
                     timeout=30)
    # The state a kill leaves after the retry was written and the customer told, before `in_flight` moved.
    mandates.coll(db).update_one({"_id": "asha"}, {"$set": {"in_flight": first["id"]}})
    wait_for(lambda: any(c["state"] == "credited" for c in charges.recent(db)) and
             not mandates.get(db, "asha")["in_flight"], tick=tick(db), timeout=30)
    for _ in range(10):
        autorecharge.run(db)
    assert [p["status"] for p in sandbox_payments(h, "asha")] == ["failed", "captured"]
    assert sorted(c["attempt"] for c in charges.recent(db)) == [1, 2]
    assert len(notices_of(db, "asha", "wallet.autorecharge.failed")) == 1
    assert len([e for e in recharge_credits(db, "asha") if int(e["amount"]) == 50_000]) == 1
    assert ledger.audit(db) == []


def test_revoked_at_the_bank_is_told_even_after_a_kill_between_the_cancel_and_the_notice(env):
    db, h = env
    customer(db, "asha", 300)
    tid = active_mandate(db, h, "asha")["mandate"]["token_id"]
    mandates.cancel(db, mandates.get(db, "asha"), by="bank", reason=mandates.REVOKED)  # ...and killed here
    assert not notices_of(db, "asha", "wallet.autorecharge.off")
    control(h, f"tokens/{tid}/cancel")  # Razorpay's token.cancelled webhook (and its redeliveries)
    wait_for(lambda: notices_of(db, "asha", "wallet.autorecharge.off"))
    control(h, "webhooks/redeliver")
    h.sandbox.webhooks.wait_idle(10)
    assert len(notices_of(db, "asha", "wallet.autorecharge.off")) == 1


# ------------------------------------------------------------------------------------------ skip

def test_a_top_up_made_redundant_by_a_recharge_says_so_and_can_be_skipped(env, monkeypatch):
    """Announced, then a recharge by hand lifts the balance: the status says the top-up is no longer
    needed but will still be taken unless skipped; skipped, it is never debited (even by a worker that
    read the charge before the skip), skipping again changes nothing, and the next fall after that
    recharge is a crossing of its own."""
    db, h = env
    monkeypatch.setenv("WALLET_PREDEBIT_NOTICE_HOURS", "0.002")  # 7.2 s: time to skip before the debit
    customer(db, "asha", 300)
    active_mandate(db, h, "asha")
    spend(db, "asha", 220, "calls")
    c = wait_for(lambda: charges.get(db, mandates.get(db, "asha").get("in_flight")), tick=tick(db))
    assert c["state"] == "notified"
    nxt = autorecharge.status(db, "asha")["next_charge"]
    assert (nxt["needed"], nxt["can_skip"]) == (True, True)
    st = autorecharge.status(db, "asha")
    assert (st["taken_this_month_paise"], st["used_this_month_paise"]) == (0, 50_000)  # announced, not taken
    ledger.post(db, "asha", key="by-hand", type="credit", category="recharge", amount=100_000, source="pay_hand")
    nxt = autorecharge.status(db, "asha")["next_charge"]
    assert (nxt["state"], nxt["needed"], nxt["can_skip"]) == ("notified", False, True)
    stale = charges.get(db, c["_id"])  # what a worker pass read just before the customer skipped
    st = autorecharge.skip(db, "asha")
    skipped = charges.get(db, c["_id"])
    assert (skipped["state"], skipped["reason"]) == ("skipped", charges.SKIPPED_BY_YOU)
    assert st["next_charge"]["state"] == "forecast" and mandates.get(db, "asha")["in_flight"] is None
    assert payments_status(db, c["ref"]) == "abandoned"  # Your payments no longer lists it as to come
    assert autorecharge.skip(db, "asha")["next_charge"]["state"] == "forecast"  # again: nothing to skip
    real_now = clock.now  # past the debit's payment_after (7.2 s ahead): the clock moved on, not slept through
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(seconds=7.5))
    from services.autorecharge import worker
    from services.payments import gateway
    assert worker.advance(db, gateway.settings(), stale)["state"] == "skipped"
    for _ in range(5):
        autorecharge.run(db)
    assert not sandbox_payments(h, "asha") and len(charges.recent(db)) == 1
    spend(db, "asha", 1_000, "later")  # below the threshold again, after the recharge by hand: a new crossing
    again = wait_for(lambda: charges.get(db, mandates.get(db, "asha").get("in_flight")), tick=tick(db))
    assert again["_id"] != c["_id"] and again["state"] == "notified"


def test_a_top_up_being_debited_cannot_be_skipped(env):
    db, h = env
    customer(db, "asha", 300)
    active_mandate(db, h, "asha")
    spend(db, "asha", 220, "calls")
    c = wait_for(lambda: charges.get(db, mandates.get(db, "asha").get("in_flight")), tick=tick(db))
    c = charges.set_state(db, c, charges.DEBITING)  # the worker began the debit
    with pytest.raises(Conflict, match="already being debited"):
        autorecharge.skip(db, "asha")
    assert charges.get(db, c["_id"])["state"] == "debiting"


def payments_status(db, ref: str) -> str:
    from services import payments
    return payments.get_link(db, ref)["status"]
