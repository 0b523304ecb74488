"""UPI QR: a single-use QR code for a chosen amount (the sandbox through the real SDK, in Razorpay's
published shapes), credited once by `qr_code.credited` however many deliveries race reconciliation;
closed once paid; a payment to a QR that is not ours, or of another amount, is never credited."""
from __future__ import annotations

import json

import pytest

from sandbox.razorpay_server.common import ApiError
from services import ledger, payments, razorpay_events
from services.payments import qrcodes
from tests.support.api import bearer, make_user
from tests.support.dashboard import signed_in
from tests.support.payments import control, deliveries, race, sdk, settle_webhooks


def test_a_single_use_qr_is_credited_once_under_duplicate_webhooks_and_reconciliation(env, server, receiver):
    receiver.reset(env, mode="collect")  # the test hands the deliveries over itself
    qr = payments.create_upi_qr(env, "alice", "2,500")
    assert qr["status"] == "active" and qr["amount_paise"] == 250_000 and qr["image_url"].endswith(".png")
    theirs = sdk(server).qrcode.fetch(qr["qr_code_id"])
    assert (theirs["usage"], theirs["type"], theirs["fixed_amount"], theirs["payment_amount"]) == \
        ("single_use", "upi_qr", True, 250_000)
    assert theirs["close_by"] - theirs["created_at"] == qrcodes.TTL.total_seconds()
    paid = control(server, f"qr_codes/{qr['qr_code_id']}/pay")
    settle_webhooks(server)
    [(body, sig, eid)] = deliveries(receiver, "qr_code.credited")
    event = json.loads(body)
    assert event["contains"] == ["payment", "qr_code"] and event["payload"]["payment"]["entity"]["method"] == "upi"
    assert event["payload"]["qr_code"]["entity"]["close_reason"] == "paid"
    jobs = [lambda e=e: razorpay_events.handle_webhook(env, body, sig, e) for e in [eid] * 4 + ["evt_b", "evt_c"]]
    race(*jobs, lambda: razorpay_events.reconcile_open(env, due_only=False))
    entries = list(ledger.iter_entries(env, user_id="alice", category="recharge"))
    assert [(e["key"], e["amount"]) for e in entries] == [(f"razorpay:{paid['payment_id']}", 250_000)]
    assert entries[0]["meta"]["rrn"] == event["payload"]["payment"]["entity"]["acquirer_data"]["rrn"]
    assert env.qr_codes.find_one({"_id": qr["reference_id"]})["status"] == "paid"
    with pytest.raises(ApiError, match="closed"):  # single use
        server.sandbox.pay_qr(qr["qr_code_id"], {})
    assert ledger.audit(env) == []


def test_a_qr_that_is_not_ours_or_a_wrong_amount_is_never_credited(env, server):
    stranger = sdk(server).qrcode.create({"type": "upi_qr", "usage": "multiple_use", "fixed_amount": False})
    control(server, f"qr_codes/{stranger['id']}/pay", amount=9_900)
    settle_webhooks(server)
    mine = payments.create_upi_qr(env, "bob", 100)
    pay = {"id": "pay_WrongAmount0001", "amount": 5_000, "currency": "INR", "status": "captured", "captured": True,
           "method": "upi"}
    with pytest.raises(Exception, match="does not match"):
        qrcodes.settle(env, pay, {"id": mine["qr_code_id"]}, source="test")
    assert ledger.get_wallet(env, "alice").balance == ledger.get_wallet(env, "bob").balance == 0
    assert env.payment_events.count_documents({"event": "qr_code.credited", "status": "unmatched"}) == 1


def test_the_api_makes_a_qr_for_the_amount(edb, sandbox, client):
    name, token = make_user(edb)
    got = client.post("/api/wallet/upi-qr", json={"amount": "750.50"}, headers=bearer(token))
    assert got.status_code == 200, got.text
    assert got.json()["amount_paise"] == 75_050 and got.json()["qr_code_id"].startswith("qr_")
    assert client.post("/api/wallet/upi-qr", json={"amount": "1"}, headers=bearer(token)).status_code == 400


def test_the_wallet_page_makes_a_qr_for_the_amount_typed(adb, sandbox):
    at = signed_in("asha", "user")
    at.text_input(key="qr_amount").input("1,200").run()
    next(b for b in at.button if b.label == "Make a QR code").click().run()
    assert not at.exception, at.exception
    [qr] = list(adb.qr_codes.find({"user_id": "asha"}))
    assert qr["amount_paise"] == 120_000 and qr["status"] == "active"
    assert any("Scan with any UPI app to pay Rs. 1,200.00" in c.value for c in at.caption)
