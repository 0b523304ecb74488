"""The API of issue 11: a failed attempt and its reason on a link, cancelling a link, refunds (own list,
refundable, self-serve request with Idempotency-Key), the admin's approvals, amounts due and daily report,
and a client that keeps sending forged webhooks told to slow down. TestClient against the sandbox."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

from services import clock, ledger, payments, settings
from services.payments import refunds, screening
from tests.support.api import bearer, make_user
from tests.support.payments import control


def paid(client, sandbox, h, rupees=500):
    link = client.post("/api/payment/payment-link", headers=h, json={"amount": rupees}).json()
    control(sandbox, f"links/{link['payment_link_id']}/pay")
    st = client.get(f"/api/payment/payment-link/{link['payment_link_id']}", headers=h).json()
    assert st["status"] == "paid"
    return link


def test_a_failed_attempt_and_its_reason_then_a_retry_on_the_same_link(client, edb, sandbox):
    user, tok = make_user(edb)
    h = bearer(tok)
    link = client.post("/api/payment/payment-link", headers=h, json={"amount": 100}).json()
    control(sandbox, f"links/{link['payment_link_id']}/fail")
    st = client.get(f"/api/payment/payment-link/{link['payment_link_id']}", headers=h).json()
    assert st["status"] in ("created", "attempted") and st["credited_paise"] == 0
    failed = st["last_failed"]
    assert failed["payment_id"].startswith("pay_") and failed["error_description"] and failed["at"]
    control(sandbox, f"links/{link['payment_link_id']}/pay")
    st = client.get(f"/api/payment/payment-link/{link['payment_link_id']}", headers=h).json()
    assert (st["status"], st["credited_paise"], st["last_failed"]) == ("paid", 10000, None)


def test_cancel_an_unpaid_link_and_not_a_paid_one(client, edb, sandbox):
    user, tok = make_user(edb)
    h = bearer(tok)
    link = client.post("/api/payment/payment-link", headers=h, json={"amount": 100}).json()
    url = f"/api/payment/payment-link/{link['payment_link_id']}/cancel"
    r = client.post(url, headers=h)
    assert r.status_code == 200 and (r.json()["status"], r.json()["cancelled_by"]) == ("cancelled", user)
    assert client.post(url, headers=h).json()["status"] == "cancelled"  # a double click
    done = paid(client, sandbox, h, rupees=200)
    r = client.post(f"/api/payment/payment-link/{done['payment_link_id']}/cancel", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert ledger.get_wallet(edb, user).balance == 20000


def test_self_serve_refund_over_the_api_is_idempotent_and_listed(client, edb, sandbox):
    user, tok = make_user(edb)
    h = bearer(tok)
    paid(client, sandbox, h)
    r = client.get("/api/refunds/refundable", headers=h).json()
    assert (r["refundable_paise"], r["refundable"], r["window_days"]) == (50000, 500, 180)
    assert [p["left_paise"] for p in r["payments"]] == [50000]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/api/refunds", headers=h | key, json={"amount": "120.50"})
    again = client.post("/api/refunds", headers=h | key, json={"amount": "120.50"})
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["request_id"] == again.json()["request_id"] and first.json()["status"] == "done"
    assert first.json()["refunded_paise"] == 12050 and first.json()["refunded"] == 120.5
    assert ledger.get_wallet(edb, user).balance == 50000 - 12050
    other = client.post("/api/refunds", headers=h | key, json={"amount": 10})
    assert other.status_code == 409
    too_much = client.post("/api/refunds", headers=h, json={"amount": 1000})
    assert too_much.status_code == 400 and "At most Rs. 379.50" in too_much.json()["error"]["message"]
    mine = client.get("/api/refunds", headers=h).json()
    assert [q["request_id"] for q in mine["requests"]] == [first.json()["request_id"]]
    assert [f["amount_paise"] for f in mine["refunds"]] == [12050] and mine["amount_due_paise"] == 0
    bad = client.post("/api/refunds", headers=h, json={"amount": True})
    assert bad.status_code == 422


def test_admin_approves_and_rejects_sees_amounts_due_and_the_daily_report(client, edb, sandbox):
    admin, atok = make_user(edb, "admin")
    ha = bearer(atok)
    a, ta = make_user(edb)
    b, tb = make_user(edb)
    paid(client, sandbox, bearer(ta))
    paid(client, sandbox, bearer(tb))
    settings.set_value(edb, "refund_approval_required", 1, by=admin)
    ra = client.post("/api/refunds", headers=bearer(ta), json={"amount": 100}).json()
    rb = client.post("/api/refunds", headers=bearer(tb), json={"amount": 100}).json()
    assert ra["status"] == rb["status"] == "approval" and ledger.get_wallet(edb, a).held == 10000
    waiting = client.get("/api/admin/refund-requests?status=approval", headers=ha).json()
    assert {q["request_id"] for q in waiting} == {ra["request_id"], rb["request_id"]}
    ok = client.post(f"/api/admin/refund-requests/{ra['request_id']}/approve", headers=ha).json()
    no = client.post(f"/api/admin/refund-requests/{rb['request_id']}/reject", headers=ha,
                     json={"reason": "duplicate"}).json()
    assert (ok["status"], ok["decided_by"], no["status"], no["reason"]) == ("done", admin, "rejected", "duplicate")
    assert client.post(f"/api/admin/refund-requests/{rb['request_id']}/approve", headers=ha).status_code == 409
    assert client.post("/api/admin/refund-requests/rq_0123/approve", headers=ha).status_code == 422
    assert (ledger.get_wallet(edb, a).balance, ledger.get_wallet(edb, b).balance) == (40000, 50000)
    # b spends, then Razorpay refunds b's payment in full (its dashboard): the rest is due
    ledger.post(edb, b, key="spend", type="debit", category="call", amount=45000)
    [pay] = payments.refundable_for(edb, b).sources
    refund = control(sandbox, f"payments/{pay.payment_id}/refund")
    refunds.record(edb, refund, None, source="webhook")  # what its refund.created webhook carries
    due = client.get("/api/admin/amounts-due", headers=ha).json()
    assert due["wallets"] == [{"username": b, "amount_due_paise": 45000, "amount_due": 450, "balance_paise": 0,
                               "balance": 0, "held_paise": 0, "held": 0}] and due["total_due_paise"] == 45000
    assert client.get("/api/refunds", headers=bearer(tb)).json()["amount_due_paise"] == 45000
    day = (clock.now() - timedelta(days=1)).date().isoformat()
    assert client.get(f"/api/admin/reconciliation?day={day}", headers=ha).status_code == 404
    payments.reconcile_day(edb, day)
    rep = client.get(f"/api/admin/reconciliation?day={day}", headers=ha).json()
    assert (rep["day"], rep["status"], rep["unmatched_payments"]) == (day, "done", [])
    assert client.get("/api/admin/reconciliation?day=yesterday", headers=ha).status_code == 422


def test_an_address_that_keeps_forging_webhooks_is_told_to_slow_down(client, edb, sandbox):
    screening._forged_by.clear()
    body = json.dumps({"event": "payment.captured", "payload": {}}).encode()
    answers = [client.post("/api/payment/webhook", content=body,
                           headers={"X-Razorpay-Signature": "0" * 64, "Content-Type": "application/json"})
               for _ in range(screening.FORGED_SLOW_AFTER + 2)]
    codes = [r.status_code for r in answers]
    assert codes[:screening.FORGED_SLOW_AFTER] == [400] * screening.FORGED_SLOW_AFTER and codes[-1] == 429
    assert answers[-1].headers["retry-after"] == str(int(screening.FORGED_WINDOW_SECONDS))
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert edb.payment_events.count_documents({}) == 0  # forged: nothing written
    screening._forged_by.clear()
