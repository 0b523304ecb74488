"""Payments as Razorpay really behaves: failures the customer sees, cancellations, the 15-minute reuse of a
link, convenience fees, refunds, secret rotation, insane signed amounts, the daily reconciliation and the
polling budget. Against the offline sandbox over HTTP with the real SDK, like tests/test_payments.py."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services import clock, ledger, payments, razorpay_events, users
from services.errors import Conflict, InvalidInput, InvalidPayment, NotFound
from services.payments import reconciliation, records
from tests.support.payments import (WEBHOOK_SECRET, balance, control, deliveries, paid_recharge, race, recharges,
                                    refunds_of, sdk, settle_webhooks, sign)


def signed(payload: dict, secret: str = WEBHOOK_SECRET) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, sign(body.decode(), secret)


# ------------------------------------------------------------------------------ failed payments

def test_a_failed_payment_shows_razorpays_reason_on_our_record_then_a_retry_credits(env, server):
    db = env
    link = payments.create_payment_link(db, "alice", 100)
    failed = control(server, f"links/{link['payment_link_id']}/fail")
    settle_webhooks(server)
    mine = payments.get_link(db, link["reference_id"], user_id="alice")
    assert mine["status"] == "created" and mine["credited_paise"] == 0
    assert mine["last_failed"]["payment_id"] == failed["payment_id"]
    assert mine["last_failed"]["error_description"] == failed["error_description"]  # Razorpay's words
    assert mine["last_failed"]["error_code"] == "BAD_REQUEST_ERROR" and mine["last_failed"]["at"]
    control(server, f"links/{link['payment_link_id']}/pay")  # try again, on the same link
    settle_webhooks(server)
    mine = payments.get_link(db, link["reference_id"], user_id="alice")
    assert mine["status"] == "paid" and mine["last_failed"] is None and balance(db, "alice") == 10000


def test_a_failure_seen_only_by_reconciliation_reaches_our_record(env, receiver, server):
    db = env
    receiver.mode = "collect"  # the webhook never arrives
    link = payments.create_payment_link(db, "alice", 100)
    failed = control(server, f"links/{link['payment_link_id']}/fail")
    razorpay_events.reconcile_open(db, due_only=False)
    assert payments.get_link(db, link["reference_id"])["last_failed"]["payment_id"] == failed["payment_id"]


def test_a_failed_payment_captured_later_under_the_same_id_is_credited_once(env, receiver, server):
    db = env
    receiver.mode = "collect"
    link = payments.create_payment_link(db, "alice", 250)
    failed = control(server, f"links/{link['payment_link_id']}/fail")
    control(server, f"payments/{failed['payment_id']}/capture")
    settle_webhooks(server)
    got = list(receiver.got)
    assert json.loads(got[0][0])["event"] == "payment.failed"
    # Delivered in any order, twice each, with the reconciler running alongside.
    race(*[lambda d=d: razorpay_events.handle_webhook(db, *d) for d in got + got[::-1]],
         lambda: razorpay_events.reconcile_open(db, due_only=False))
    assert balance(db, "alice") == 25000 and len(recharges(db, "alice")) == 1
    mine = payments.get_link(db, link["reference_id"])
    assert mine["status"] == "paid" and mine["payments"] == {failed["payment_id"]: 25000}
    assert mine["last_failed"] is None  # the failure was that very payment, now credited
    assert ledger.audit(db) == []


# ------------------------------------------------------------------------------ cancel and reuse

def test_owner_or_admin_cancels_an_unpaid_link_through_razorpay(env, receiver, server):
    db = env
    a = payments.create_payment_link(db, "alice", 100)
    with pytest.raises(NotFound):
        payments.cancel_link(db, a["reference_id"], user_id="bob")
    out = payments.cancel_link(db, a["payment_link_id"], user_id="alice")
    assert out["status"] == "cancelled" and out["cancelled_by"] == "alice"
    assert server.sandbox.links[a["payment_link_id"]]["status"] == "cancelled"
    assert payments.cancel_link(db, a["reference_id"], user_id="alice")["status"] == "cancelled"  # double click
    b = payments.create_payment_link(db, "alice", 200)
    assert payments.cancel_link(db, b["reference_id"], by="admin")["cancelled_by"] == "admin"
    settle_webhooks(server)  # payment_link.cancelled webhooks change nothing more
    assert {x["status"] for x in payments.list_links(db, "alice")} == {"cancelled"}
    assert "payment link cancelled without payment" in [r["reason"] for r in payments.failed_payments(db)]


def test_a_paid_link_is_not_cancelled_but_credited(env, receiver, server):
    db = env
    receiver.mode = "collect"  # we have not heard of the payment yet
    link = payments.create_payment_link(db, "alice", 300)
    control(server, f"links/{link['payment_link_id']}/pay")
    with pytest.raises(Conflict, match="paid"):
        payments.cancel_link(db, link["reference_id"], user_id="alice")
    assert payments.get_link(db, link["reference_id"])["status"] == "paid" and balance(db, "alice") == 30000
    order = payments.create_order(db, "alice", 100)
    with pytest.raises(InvalidInput):
        payments.cancel_link(db, order["order_id"], user_id="alice")


def test_cancelled_or_expired_on_razorpays_side_shows_on_our_record(env, receiver, server):
    db = env
    a = payments.create_payment_link(db, "alice", 100)
    b = payments.create_payment_link(db, "alice", 200)
    sdk(server).payment_link.cancel(a["payment_link_id"], timeout=5)  # e.g. from Razorpay's dashboard
    control(server, f"links/{b['payment_link_id']}/expire")
    settle_webhooks(server)
    assert payments.get_link(db, a["reference_id"])["status"] == "cancelled"
    assert payments.get_link(db, b["reference_id"])["status"] == "expired"
    receiver.mode = "collect"  # and without webhooks, reconciliation finds out
    c = payments.create_payment_link(db, "alice", 300)
    sdk(server).payment_link.cancel(c["payment_link_id"], timeout=5)
    razorpay_events.reconcile_open(db, due_only=False)
    assert payments.get_link(db, c["reference_id"])["status"] == "cancelled"


def test_same_amount_within_15_minutes_returns_the_same_unpaid_link(env, server):
    db = env
    first = payments.create_payment_link(db, "alice", 500)
    again = payments.create_payment_link(db, "alice", "500.00")
    assert again["payment_link_id"] == first["payment_link_id"] and again["reused"] and not first["reused"]
    other = payments.create_payment_link(db, "alice", 501)
    bobs = payments.create_payment_link(db, "bob", 500)
    assert len({first["payment_link_id"], other["payment_link_id"], bobs["payment_link_id"]}) == 3
    # Older than 15 minutes: a new link.
    db.payment_links.update_one({"_id": first["reference_id"]},
                                {"$set": {"created_at": clock.now() - timedelta(minutes=16)}})
    later = payments.create_payment_link(db, "alice", 500)
    assert later["payment_link_id"] != first["payment_link_id"] and not later["reused"]
    # Cancelled or paid: a new link.
    payments.cancel_link(db, later["reference_id"], user_id="alice")
    after_cancel = payments.create_payment_link(db, "alice", 500)
    assert after_cancel["payment_link_id"] not in (first["payment_link_id"], later["payment_link_id"])
    control(server, f"links/{after_cancel['payment_link_id']}/pay")
    payments.reconcile_link(db, after_cancel["reference_id"])
    assert payments.create_payment_link(db, "alice", 500)["payment_link_id"] != after_cancel["payment_link_id"]
    assert len(server.sandbox.links) == 6


def test_a_double_click_makes_one_link(env, server):
    db = env
    outs = race(*[lambda: payments.create_payment_link(db, "alice", 700) for _ in range(6)])
    assert len({o["payment_link_id"] for o in outs}) == 1 and sum(not o["reused"] for o in outs) == 1
    assert len(server.sandbox.links) == 1 and db.payment_links.count_documents({}) == 1


# ------------------------------------------------------------------------------ convenience fee

def test_rs_1000_paid_with_a_rs_24_fee_credits_rs_1000_once_with_all_paths_racing(env, receiver, server):
    db = env
    receiver.mode = "collect"
    link = payments.create_payment_link(db, "alice", 1000)
    paid = control(server, f"links/{link['payment_link_id']}/pay", fee=2400)
    assert paid["amount"] == 102400 and paid["fee"] == 2400
    settle_webhooks(server)
    got = list(receiver.got)
    race(*[lambda d=d: razorpay_events.handle_webhook(db, *d) for d in got * 3],
         lambda: payments.handle_callback(db, "alice", paid["callback_params"]),
         lambda: payments.reconcile_link(db, link["reference_id"], "alice"),
         lambda: razorpay_events.reconcile_open(db, due_only=False))
    assert balance(db, "alice") == 100000
    [entry] = recharges(db, "alice")
    assert entry["amount"] == 100000 and entry["meta"]["fee_paise"] == 2400
    assert entry["meta"]["payment_amount"] == 102400
    mine = payments.get_link(db, link["reference_id"])
    assert mine["status"] == "paid" and mine["credited_paise"] == 100000
    out = payments.handle_callback(db, "alice", paid["callback_params"])
    assert out["outcome"] == "already_credited" and out["amount_paise"] == 100000
    assert ledger.audit(db) == []


def test_a_fee_that_does_not_cover_the_difference_is_flagged_and_never_shown_as_credited(env, receiver, server):
    db = env
    receiver.mode = "collect"
    link = payments.create_payment_link(db, "alice", 1000)
    paid = control(server, f"links/{link['payment_link_id']}/pay")
    settle_webhooks(server)
    body, _, eid = deliveries(receiver, "payment_link.paid")[0]
    forged_amount = json.loads(body)
    pay = forged_amount["payload"]["payment"]["entity"]
    pay.update(amount=105000, fee=2400)  # 5,000 more than the link, a 2,400 fee: not explained
    out = razorpay_events.handle_webhook(db, *signed(forged_amount), eid + "x")
    assert out["status"] == "processed" and balance(db, "alice") == 0
    mine = payments.get_link(db, link["reference_id"])
    assert mine["status"] == "review" and mine["credited_paise"] == 0 and mine["payments"] == {}
    assert payments.handle_callback(db, "alice", paid["callback_params"])["outcome"] == "credited"
    assert payments.get_link(db, link["reference_id"])["status"] == "paid"  # the real payment, once checked
    assert any("does not match" in r["reason"] for r in payments.failed_payments(db))


# ------------------------------------------------------------------------------ refunds

def test_refund_of_an_unspent_recharge_puts_the_balance_back_once_under_ten_duplicate_webhooks(
        env, receiver, server):
    db = env
    _, paid = paid_recharge(db, server, receiver)
    assert balance(db, "alice") == 50000
    receiver.reset(db, "collect")
    refund = sdk(server).payment.refund(paid["payment_id"], {"amount": 50000}, timeout=5)
    settle_webhooks(server)
    [created] = deliveries(receiver, "refund.created")
    outs = race(*[lambda: razorpay_events.handle_webhook(db, *created) for _ in range(10)])
    assert sorted(o["status"] for o in outs).count("processed") >= 1
    assert balance(db, "alice") == 0  # back to before the recharge
    [debit] = refunds_of(db, "alice")
    assert (debit["type"], debit["amount"], debit["source"]) == ("debit", 50000, refund["id"])
    assert ledger.find_entry(db, f"razorpay-refund:{refund['id']}")["_id"] == debit["_id"]
    control(server, f"refunds/{refund['id']}/process")  # Razorpay's final word: nothing more moves
    settle_webhooks(server)
    race(*[lambda d=d: razorpay_events.handle_webhook(db, *d) for d in deliveries(receiver, "refund.processed") * 10])
    assert balance(db, "alice") == 0 and len(refunds_of(db, "alice")) == 1
    [rec] = payments.list_refunds(db, "alice")
    assert (rec["status"], rec["outcome"], rec["debited_paise"], rec["payment_id"]) == \
        ("processed", "debited", 50000, paid["payment_id"])
    assert ledger.audit(db) == []


def test_a_failed_refund_gives_the_money_back_once_even_racing_its_creation(env, receiver, server):
    db = env
    _, paid = paid_recharge(db, server, receiver)
    receiver.reset(db, "collect")
    refund = sdk(server).payment.refund(paid["payment_id"], {"amount": 20000}, timeout=5)
    control(server, f"refunds/{refund['id']}/fail")
    settle_webhooks(server)
    both = deliveries(receiver, "refund.created") + deliveries(receiver, "refund.failed")
    race(*[lambda d=d: razorpay_events.handle_webhook(db, *d) for d in both * 5])
    assert balance(db, "alice") == 50000  # taken and given back, or never taken
    moves = refunds_of(db, "alice")
    assert len(moves) in (0, 2) and sum(e["amount"] if e["type"] == "credit" else -e["amount"] for e in moves) == 0
    [rec] = payments.list_refunds(db, "alice")
    assert rec["status"] == "failed" and rec["outcome"] in ("returned", "nothing_to_debit")
    # The payment is refundable again, and its new refund debits.
    again = sdk(server).payment.refund(paid["payment_id"], {"amount": 20000}, timeout=5)
    settle_webhooks(server)
    for d in deliveries(receiver, "refund.created"):
        razorpay_events.handle_webhook(db, *d)
    assert balance(db, "alice") == 30000 and payments.get_refund(db, again["id"], "alice")["outcome"] == "debited"
    assert ledger.audit(db) == []


def test_auto_refund_of_a_payment_never_captured_debits_nothing(env, server):
    db = env
    link = payments.create_payment_link(db, "alice", 100)
    auth = control(server, f"links/{link['payment_link_id']}/authorize")
    control(server, f"payments/{auth['payment_id']}/auto_refund")
    settle_webhooks(server)
    [rec] = payments.list_refunds(db)
    assert rec["outcome"] == "auto_refund" and rec["auto_refund"] and rec["user_id"] is None
    assert balance(db, "alice") == 0 and refunds_of(db, "alice") == []


def test_a_refund_of_spent_money_takes_what_is_left_and_the_rest_is_due(env, receiver, server):
    db = env
    _, paid = paid_recharge(db, server, receiver)
    ledger.post(db, "alice", key="spent-1", type="debit", category="call", amount=45000)
    sdk(server).payment.refund(paid["payment_id"], {}, timeout=5)
    settle_webhooks(server)
    [rec] = payments.list_refunds(db, "alice")
    assert (rec["outcome"], rec["amount_due_paise"], rec["debited_paise"]) == ("amount_due", 45000, 5000)
    w = ledger.get_wallet(db, "alice")
    assert (w.balance, w.due) == (0, 45000) and [e["amount"] for e in refunds_of(db, "alice")] == [5000]
    assert ledger.audit(db) == []


def test_partial_refunds_of_a_fee_payment_never_take_more_than_was_credited(env, receiver, server):
    db = env
    _, paid = paid_recharge(db, server, receiver, rupees=1000, fee=2400)
    assert balance(db, "alice") == 100000
    first = sdk(server).payment.refund(paid["payment_id"], {"amount": 60000}, timeout=5)
    rest = sdk(server).payment.refund(paid["payment_id"], {}, timeout=5)  # 42,400: includes the fee
    settle_webhooks(server)
    assert (first["amount"], rest["amount"]) == (60000, 42400)
    assert balance(db, "alice") == 0
    assert sorted(e["amount"] for e in refunds_of(db, "alice")) == [40000, 60000]


def test_a_refund_whose_webhook_never_came_is_found_by_the_daily_reconciliation(env, receiver, server,
                                                                               monkeypatch):
    db = env
    _, paid = paid_recharge(db, server, receiver)
    receiver.reset(db, "collect")  # the refund's webhooks are lost
    control(server, f"payments/{paid['payment_id']}/refund", amount=10000)  # made on Razorpay's dashboard
    today = clock.today()  # the business day (IST): from 18:30 UTC it is the next UTC date's
    tomorrow = clock.now() + timedelta(days=1)
    monkeypatch.setattr(clock, "now", lambda: tomorrow)
    report = payments.reconcile_day(db, today)
    assert report["refunds_checked"] == 1 and balance(db, "alice") == 40000
    assert report["matched"] == 1 and report["unmatched_payments"] == [] and report["unmatched_credits"] == []


# ------------------------------------------------------------------------------ webhooks

def test_a_retry_signed_with_the_previous_secret_is_accepted_through_the_webhook_endpoint(
        env, receiver, server, monkeypatch):
    from fastapi.testclient import TestClient

    from api.main import create_app
    db = env
    receiver.mode = "collect"
    link = payments.create_payment_link(db, "alice", 100)
    control(server, f"links/{link['payment_link_id']}/pay")
    settle_webhooks(server)
    body, old_sig, eid = receiver.got[0]  # signed before the rotation
    monkeypatch.setenv("RAZORPAY_WEBHOOK_SECRET", f"rotated_secret,{WEBHOOK_SECRET}")
    with TestClient(create_app(db=db), raise_server_exceptions=False) as c:
        def post(content, sig, event_id):
            return c.post("/api/payment/webhook", content=content, headers={
                "Content-Type": "application/json", "X-Razorpay-Signature": sig, "X-Razorpay-Event-Id": event_id})

        r = post(body, old_sig, eid)
        assert r.status_code == 200 and r.json()["status"] == "processed"
        assert balance(db, "alice") == 10000
        fresh = json.dumps({"event": "payment.authorized", "payload": {}}).encode()
        assert post(fresh, sign(fresh.decode(), "rotated_secret"), "evt_Rotated000001").status_code == 200
        forged = post(body, sign(body.decode(), "retired_secret"), eid)
        assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_payment"
    assert balance(db, "alice") == 10000


@pytest.mark.parametrize("amount", [2 ** 63, 2 ** 63 - 1, -100, 100.5, "100", True])
def test_a_signed_webhook_with_an_insane_amount_is_refused_and_recorded_as_rejected(env, amount):
    db = env
    payload = {"entity": "event", "event": "payment.captured", "contains": ["payment"], "payload": {
        "payment": {"entity": {"id": "pay_Insane00000001", "entity": "payment", "amount": amount,
                               "status": "captured", "order_id": "order_Insane0000001"}}}}
    body = json.dumps(payload).encode()
    with pytest.raises(InvalidPayment, match="not a sane amount"):
        razorpay_events.handle_webhook(db, body, sign(body.decode(), WEBHOOK_SECRET), "evt_Insane00000001")
    [row] = [r for r in payments.failed_payments(db) if r["kind"] == "rejected"]
    assert row["id"] == "evt_Insane00000001" and "not a sane amount" in row["reason"]
    assert db.payment_events.count_documents({}) == 1 and list(ledger.iter_entries(db)) == []


def test_a_signed_body_that_is_not_an_event_or_too_deep_is_rejected_not_a_500(env):
    db = env
    for i, body in enumerate([b"[1, 2]", b"not json", b"[" * 5000 + b"]" * 5000,
                              json.dumps({"event": "x", "payload": {"n": 2 ** 70}}).encode()]):
        with pytest.raises(InvalidPayment):
            razorpay_events.handle_webhook(db, body, sign(body.decode(), WEBHOOK_SECRET), f"evt_Bad{i:011d}")
    assert db.payment_events.count_documents({"kind": "rejected"}) == 4


# ------------------------------------------------------------------------------ daily reconciliation

def test_daily_reconciliation_matches_payments_and_credits_and_runs_once_a_day(env, receiver, server,
                                                                               monkeypatch):
    db = env
    sb = server.sandbox
    paid_recharge(db, server, receiver, rupees=500)
    paid_recharge(db, server, receiver, rupees=1000, fee=2400)
    for i in range(120):  # another integration's payments on the same account: pages of 100
        foreign = sb.create_link({"amount": 10000 + i, "reference_id": f"other-{i}"}, server.url)
        sb.pay_link(foreign["id"])
    ledger.post(db, "bob", key="razorpay:pay_NoSuchPayment0", type="credit", category="recharge", amount=700,
                source="pay_NoSuchPayment0")
    today = clock.today()  # the business day (IST), not the UTC date
    with pytest.raises(InvalidInput, match="not over"):
        payments.reconcile_day(db, today)
    # The worker's first tick an hour after the day settled (its end + SETTLE_TIME): counted from the day's
    # start, not from now, or a test run late in the day (after 22:00 IST) reconciles the next day.
    later = clock.start_of_day(today) + timedelta(days=1, hours=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    report = payments.run_daily(db)
    assert report["day"] == today.isoformat() and report["status"] == "done"
    assert report["payments_checked"] == 122 and report["matched"] == 2
    assert report["unmatched_payments_count"] == 120
    assert {r["reason"] for r in report["unmatched_payments"]} == {"no wallet credit"}
    assert report["credits_checked"] == 3
    assert [(r["payment_id"], r["reason"]) for r in report["unmatched_credits"]] == \
        [("pay_NoSuchPayment0", "no such payment at Razorpay")]
    calls = sum(sb.calls.values())
    again = payments.reconcile_day(db, today.isoformat())
    assert again == report and sum(sb.calls.values()) == calls  # done once: not fetched again
    assert payments.reconciliation_report(db, today) == report
    assert payments.run_daily(db) == report  # every later tick: the stored report
    assert payments.reconciliation_report(db, today - timedelta(days=3)) is None
    with pytest.raises(InvalidInput):
        payments.reconcile_day(db, "yesterday")


# ------------------------------------------------------------------------------ polling budget

def test_one_run_checks_at_most_its_budget_most_overdue_first(env, server):
    db = env
    user = users.get(db, "alice")
    for _ in range(reconciliation.MAX_CHECKS_PER_RUN + 30):
        db.payment_links.insert_many([records.build("link", user, 10000, "sandbox")])  # answer lost, say
    out = razorpay_events.reconcile_open(db)
    assert out["checked"] == reconciliation.MAX_CHECKS_PER_RUN
    assert razorpay_events.reconcile_open(db)["checked"] == 30  # the rest, next run; the others wait their turn


@pytest.mark.slow
def test_polling_of_open_links_over_a_day_is_bounded(env, server, monkeypatch):
    db = env
    n, tick = 12, timedelta(seconds=30)
    for i in range(n):
        payments.create_payment_link(db, "alice", 100 + i)
    start = clock.now()
    t = [start]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    server.sandbox.clock = lambda: t[0].timestamp()
    end = start + timedelta(hours=24, minutes=10)
    while t[0] < end:
        razorpay_events.reconcile_open(db)
        # The worker's 30 s ticks, all day; the ticks with no link due poll nothing, so the simulation goes
        # straight to the first tick at or after the next link falls due (idle runs made the day take 25 s).
        due = [clock.as_utc(r["next_check_at"]) for r in records.open_records(db) if r.get("next_check_at")]
        t[0] += tick * max(1, -(-(min(due, default=end) - t[0]) // tick))
    fetches = server.sandbox.calls["GET /v1/payment_links/{id}"]
    naive = n * 24 * 120  # every open link every 30 s for 24 h, as before
    per_link = fetches / n
    # 30 s for 5 min, 2 min to 30 min, 10 min to 2 h, hourly to expiry, one look after it: ~56 a day.
    assert 40 <= per_link <= 60, per_link
    assert fetches < naive / 40
    assert {x["status"] for x in payments.list_links(db, "alice")} == {"expired"}
    assert razorpay_events.reconcile_open(db)["checked"] == 0  # closed: never polled again
