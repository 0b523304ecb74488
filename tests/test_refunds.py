"""Refunds that reach the wallet (amount due when the money was spent) and self-serve refunds of unused
balance: held first, refunded through Razorpay's Refunds API against the newest payments, debited once
per refund id, released when Razorpay refuses. Against the offline sandbox over HTTP with the real SDK."""
from __future__ import annotations

import httpx
import pytest

from scripts import worker
from services import ledger, payments, razorpay_events, settings, wallet
from services.errors import Conflict, InvalidAmount, InvalidInput, NotFound
from services.payments import refund_requests, refundable
from tests.support.payments import (balance, control, deliveries, paid_recharge, race, refunds_of, sdk,
                                    settle_webhooks)


def at_razorpay(server, rid):
    """Refunds Razorpay holds for a request (by our receipts)."""
    return [r for r in server.sandbox.refunds.values() if (r.get("receipt") or "").startswith(rid)]


def held(db, uid="alice"):
    return ledger.get_wallet(db, uid).held


def promo(db, rupees, key="promo"):
    wallet.admin_credit(db, admin="root", user_id="alice", amount=rupees, category="promo_credit",
                        reason="welcome", key=key)


# ------------------------------------------------------------------------------ must show

def test_self_serve_refund_of_an_unspent_recharge_puts_the_balance_back_once_under_ten_duplicates(
        env, receiver, server):
    db = env
    _, paid = paid_recharge(db, server, receiver)
    assert balance(db, "alice") == 50000
    receiver.reset(db, "collect")
    req = payments.request_refund(db, "alice", 500, key="k1")
    assert (req["status"], req["refunded_paise"]) == ("done", 50000)
    [rz] = at_razorpay(server, req["request_id"])
    assert (rz["payment_id"], rz["amount"], rz["receipt"]) == (paid["payment_id"], 50000, req["request_id"] + "-1")
    assert balance(db, "alice") == 0 and held(db) == 0
    settle_webhooks(server)
    [created] = deliveries(receiver, "refund.created")
    race(*[lambda: razorpay_events.handle_webhook(db, *created) for _ in range(10)])
    control(server, f"refunds/{rz['id']}/process")
    settle_webhooks(server)
    race(*[lambda d=d: razorpay_events.handle_webhook(db, *d) for d in deliveries(receiver, "refund.processed") * 10])
    assert balance(db, "alice") == 0 and held(db) == 0
    [debit] = refunds_of(db, "alice")
    assert (debit["amount"], debit["key"]) == (50000, f"razorpay-refund:{rz['id']}")
    assert payments.get_refund(db, rz["id"], "alice")["status"] == "processed"
    assert ledger.audit(db) == []


def test_refund_of_spent_money_leaves_zero_and_the_rest_due_paid_first_from_the_next_recharge(
        env, receiver, server):
    db = env
    _, paid = paid_recharge(db, server, receiver)
    ledger.post(db, "alice", key="spent", type="debit", category="call", amount=45000)  # Rs. 450 spent
    receiver.reset(db, "collect")
    refund = sdk(server).payment.refund(paid["payment_id"], {}, timeout=5)  # on Razorpay's dashboard
    settle_webhooks(server)
    [created] = deliveries(receiver, "refund.created")
    race(*[lambda: razorpay_events.handle_webhook(db, *created) for _ in range(10)])
    w = ledger.get_wallet(db, "alice")
    assert (w.balance, w.due) == (0, 45000)
    assert [(e["amount"], e["due_delta"]) for e in refunds_of(db, "alice")] == [(5000, 45000)]
    assert payments.get_refund(db, refund["id"], "alice")["outcome"] == "amount_due"
    assert [d.user_id for d in wallet.amounts_due(db)] == ["alice"]
    assert ledger.audit(db) == []
    # The next recharge pays the due first, in the same atomic step as its credit.
    receiver.reset(db, "forward")
    paid_recharge(db, server, receiver, rupees=1000)
    w = ledger.get_wallet(db, "alice")
    assert (w.balance, w.due) == (55000, 0)
    credit, due = ledger.entries(db, "alice", limit=2)[0][::-1]
    assert (credit["category"], credit["amount"], due["category"], due["amount"], due["due_delta"]) == \
        ("recharge", 100000, "refund", 45000, -45000)
    assert due["seq"] == credit["seq"]  # one compare-and-set wrote both
    assert wallet.amounts_due(db) == [] and ledger.audit(db) == []
    # Ten more duplicates of the refund change nothing.
    race(*[lambda: razorpay_events.handle_webhook(db, *created) for _ in range(10)])
    assert balance(db, "alice") == 55000 and len(refunds_of(db, "alice")) == 2


def test_a_failed_refund_of_spent_money_cancels_its_due_and_returns_what_it_took(env, receiver, server):
    db = env
    _, paid = paid_recharge(db, server, receiver)
    ledger.post(db, "alice", key="spent", type="debit", category="call", amount=30000)
    refund = sdk(server).payment.refund(paid["payment_id"], {}, timeout=5)
    settle_webhooks(server)
    assert (balance(db, "alice"), ledger.get_wallet(db, "alice").due) == (0, 30000)
    control(server, f"refunds/{refund['id']}/fail")
    settle_webhooks(server)
    w = ledger.get_wallet(db, "alice")
    assert (w.balance, w.due) == (20000, 0)  # as before the refund
    assert payments.get_refund(db, refund["id"], "alice")["outcome"] == "returned"
    assert ledger.audit(db) == []


# ------------------------------------------------------------------------------ refundable

def test_refundable_is_recent_paid_recharges_less_refunds_and_spending_counts_against_promos_first(
        env, receiver, server):
    db = env
    promo(db, 300)
    paid_recharge(db, server, receiver, rupees=500)
    plan = payments.refundable_for(db, "alice")
    assert (plan.amount_paise, plan.recharges_paise, plan.available_paise) == (50000, 50000, 80000)
    ledger.post(db, "alice", key="spent", type="debit", category="call", amount=40000)
    # Rs. 400 spent: Rs. 300 of promo first, then Rs. 100 of the recharge.
    assert payments.refundable_for(db, "alice").amount_paise == 40000
    ledger.post(db, "alice", key="spent2", type="debit", category="call", amount=40000)
    assert payments.refundable_for(db, "alice").amount_paise == 0
    with pytest.raises(InvalidInput, match=r"At most Rs\. 0\.00"):
        payments.request_refund(db, "alice", 1, key="none")
    assert db.refund_requests.count_documents({}) == 0


def test_a_refund_is_split_across_payments_newest_first(env, receiver, server):
    db = env
    _, old = paid_recharge(db, server, receiver, rupees=300)
    _, new = paid_recharge(db, server, receiver, rupees=200)
    db.payment_links.update_many({}, {"$set": {}})  # created_at already orders them
    req = payments.request_refund(db, "alice", 450, key="split")
    assert req["status"] == "done"
    assert [(p["payment_id"], p["amount_paise"]) for p in req["parts"]] == \
        [(new["payment_id"], 20000), (old["payment_id"], 25000)]
    assert sorted(r["amount"] for r in at_razorpay(server, req["request_id"])) == [20000, 25000]
    assert balance(db, "alice") == 5000 and held(db) == 0
    assert payments.refundable_for(db, "alice").amount_paise == 5000
    assert ledger.audit(db) == []


def test_recharges_older_than_180_days_are_not_refundable(env, receiver, server):
    db = env
    paid_recharge(db, server, receiver, rupees=500)
    old = db.payment_links.find_one({})["created_at"]
    db.payment_links.update_many({}, {"$set": {"created_at": old - refundable.WINDOW}})
    assert payments.refundable_for(db, "alice").amount_paise == 0


# ------------------------------------------------------------------------------ idempotency

def test_the_same_key_is_the_same_request_and_another_amount_with_it_is_refused(env, receiver, server):
    db = env
    paid_recharge(db, server, receiver, rupees=500)
    outs = race(*[lambda: payments.request_refund(db, "alice", 100, key="dbl") for _ in range(5)])
    assert {o["request_id"] for o in outs} == {refund_requests.request_id("alice", "dbl")}
    assert len(at_razorpay(server, outs[0]["request_id"])) == 1
    assert balance(db, "alice") == 40000
    with pytest.raises(Conflict, match="another amount"):
        payments.request_refund(db, "alice", 200, key="dbl")
    assert ledger.audit(db) == []


def test_one_open_request_per_user(env, receiver, server):
    db = env
    paid_recharge(db, server, receiver, rupees=500)
    settings.set_value(db, "refund_approval_required", 1, by="root")
    first = payments.request_refund(db, "alice", 100, key="a")
    assert first["status"] == "approval"
    with pytest.raises(Conflict, match="in progress"):
        payments.request_refund(db, "alice", 100, key="b")
    assert db.refund_requests.count_documents({"kind": "request"}) == 1


@pytest.mark.parametrize("amount, exc", [("0", InvalidAmount), ("-5", InvalidAmount), ("0.5", InvalidAmount),
                                         ("abc", InvalidAmount), (True, InvalidAmount), ("600", InvalidInput)])
def test_bad_amounts_write_nothing(env, receiver, server, amount, exc):
    db = env
    paid_recharge(db, server, receiver, rupees=500)
    before = ledger.get_wallet(db, "alice")
    with pytest.raises(exc):
        payments.request_refund(db, "alice", amount, key="bad")
    assert db.refund_requests.count_documents({}) == 0 and ledger.get_wallet(db, "alice") == before


def test_unknown_user_and_bad_key_are_refused(env, server):
    with pytest.raises(NotFound):
        payments.request_refund(env, "nobody", 100, key="k")
    with pytest.raises(InvalidInput):
        payments.request_refund(env, "alice", 100, key="")


# ------------------------------------------------------------------------------ approval

def test_with_approval_required_the_money_is_held_until_an_admin_decides(env, receiver, server):
    db = env
    paid_recharge(db, server, receiver, rupees=500)
    settings.set_value(db, "refund_approval_required", 1, by="root")
    req = payments.request_refund(db, "alice", 200, key="wait")
    assert req["status"] == "approval" and held(db) == 20000 and at_razorpay(server, req["request_id"]) == []
    assert [r["request_id"] for r in payments.admin_page(db).waiting] == [req["request_id"]]
    worker.tick(db)  # recovery leaves a request waiting for approval alone
    assert refund_requests.public(db.refund_requests.find_one({"_id": req["request_id"]}))["status"] == "approval"
    rejected = payments.reject_refund_request(db, req["request_id"], by="root", reason="not eligible")
    assert (rejected["status"], rejected["reason"], held(db), balance(db, "alice")) == \
        ("rejected", "not eligible", 0, 50000)
    with pytest.raises(Conflict):
        payments.approve_refund_request(db, req["request_id"], by="root")
    again = payments.request_refund(db, "alice", 200, key="wait2")
    done = payments.approve_refund_request(db, again["request_id"], by="root")
    assert (done["status"], done["decided_by"], balance(db, "alice"), held(db)) == ("done", "root", 30000, 0)
    assert ledger.audit(db) == []


# ------------------------------------------------------------------------------ Razorpay's answers

def test_razorpay_refusing_a_part_releases_its_hold(env, receiver, server):
    db = env
    _, paid = paid_recharge(db, server, receiver, rupees=500)
    receiver.reset(db, "collect")  # Razorpay refunded it on its dashboard, and we have not heard yet
    sdk(server).payment.refund(paid["payment_id"], {}, timeout=5)
    req = payments.request_refund(db, "alice", 500, key="late")
    assert req["status"] == "failed" and "fully refunded" in req["reason"]
    assert held(db) == 0 and balance(db, "alice") == 50000 and at_razorpay(server, req["request_id"]) == []
    assert db.refund_requests.find_one({"_id": "open:alice"}) is None
    assert ledger.audit(db) == []


def test_a_self_serve_refund_that_fails_later_gives_the_money_back_once(env, receiver, server):
    db = env
    paid_recharge(db, server, receiver, rupees=500)
    req = payments.request_refund(db, "alice", 300, key="f")
    [rz] = at_razorpay(server, req["request_id"])
    control(server, f"refunds/{rz['id']}/fail")
    settle_webhooks(server)
    server.sandbox.redeliver()
    settle_webhooks(server)
    assert balance(db, "alice") == 50000 and held(db) == 0
    assert payments.get_refund(db, rz["id"], "alice")["outcome"] == "returned"
    assert ledger.audit(db) == []


def test_razorpay_down_leaves_the_request_held_and_the_worker_finishes_it(env, receiver, server):
    db = env
    paid_recharge(db, server, receiver, rupees=500)
    control(server, "fault", mode="5xx", count=1)
    req = payments.request_refund(db, "alice", 200, key="down")
    assert req["status"] == "refunding" and held(db) == 20000 and req["last_error"]
    db.refund_requests.update_one({"_id": req["request_id"]}, {"$set": {"lease_until": ledger.clock.now()}})
    assert worker.tick(db)["recover_refund_requests"] == 1
    assert payments.list_refund_requests(db, "alice")[0]["status"] == "done"
    assert len(at_razorpay(server, req["request_id"])) == 1
    assert (balance(db, "alice"), held(db)) == (30000, 0) and ledger.audit(db) == []


def test_an_answer_lost_after_razorpay_refunded_is_found_by_its_receipt(env, receiver, server):
    db = env
    paid_recharge(db, server, receiver, rupees=500)
    receiver.reset(db, "collect")  # and no webhook tells us either
    control(server, "fault", mode="5xx", count=1, after=True)
    req = payments.request_refund(db, "alice", 200, key="lost")
    assert req["status"] == "refunding" and len(at_razorpay(server, req["request_id"])) == 1
    db.refund_requests.update_one({"_id": req["request_id"]}, {"$set": {"lease_until": ledger.clock.now()}})
    calls = dict(server.sandbox.calls)
    worker.tick(db)
    assert payments.list_refund_requests(db, "alice")[0]["status"] == "done"
    assert len(at_razorpay(server, req["request_id"])) == 1
    assert server.sandbox.calls["POST /v1/payments/{id}/refund"] == calls["POST /v1/payments/{id}/refund"]
    assert (balance(db, "alice"), held(db)) == (30000, 0) and ledger.audit(db) == []


def test_the_sandbox_honours_razorpays_refund_idempotency_header(env, receiver, server):
    db = env
    _, paid = paid_recharge(db, server, receiver, rupees=500)
    auth = ("rzp_test_sandbox", "sandbox_secret")
    url = f"{server.url}/v1/payments/{paid['payment_id']}/refund"
    hdr = {"X-Refund-Idempotency": "same-key-123"}
    a = httpx.post(url, json={"amount": 1000}, headers=hdr, auth=auth).json()
    b = httpx.post(url, json={"amount": 1000}, headers=hdr, auth=auth).json()
    c = httpx.post(url, json={"amount": 2000}, headers=hdr, auth=auth)
    assert a["id"] == b["id"] and c.status_code == 400 and "Different request" in c.text
    assert httpx.post(url, json={"amount": 1000}, headers={"X-Refund-Idempotency": "short"},
                      auth=auth).status_code == 400
