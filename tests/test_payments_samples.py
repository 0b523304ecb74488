"""Razorpay's published webhook shapes (tests/fixtures/razorpay, sources in its README) fed through
payments.handle_webhook: every id replaced by a fresh one, amounts, links and orders matched to records
this test creates, each body signed with the test secret. One outcome checked per sample."""
from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest

from services import ledger, payments, razorpay_events
from tests.support.payments import WEBHOOK_SECRET, balance, control, recharges, setup_db, sign

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "razorpay"
_ID = re.compile(r"\b(?:pay|plink|order|rfnd|card|acc)_[A-Za-z0-9]{10,}\b")


@pytest.fixture
def env(edb, receiver, server, monkeypatch):
    db = setup_db(edb, receiver, server, monkeypatch)
    receiver.mode = "collect"  # only the samples reach handle_webhook
    return db


def sample(name: str, mapping: dict | None = None) -> dict:
    """The sample with each Razorpay id replaced: by `mapping` (sample id or text -> ours), else fresh. An
    `order_` id is replaced in its bare form too (the published order entity lacks the prefix)."""
    text = (FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    mapping = dict(mapping or {})
    for old in set(_ID.findall(text)):
        mapping.setdefault(old, old.split("_")[0] + "_" + secrets.token_hex(7))
    for old, new in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f'"{old}"', f'"{new}"')
        if old.startswith("order_") and new.startswith("order_"):
            text = text.replace(f'"{old[6:]}"', f'"{new[6:]}"')
    return json.loads(text)


def entity(payload: dict, kind: str) -> dict:
    return payload["payload"][kind]["entity"]


def feed(db, payload: dict, event_id: str | None = None) -> dict:
    body = json.dumps(payload).encode()
    return razorpay_events.handle_webhook(db, body, sign(body.decode(), WEBHOOK_SECRET),
                                   event_id or "evt_" + secrets.token_hex(7))


def our_link(db, rupees: int) -> dict:
    link = payments.create_payment_link(db, "alice", rupees)
    return dict(link, suffix=link["payment_link_id"][len("plink_"):])


def test_every_sample_is_valid_json_in_the_event_envelope():
    names = sorted(p.stem for p in FIXTURES.glob("*.json"))
    assert len(names) == 11
    for name in names:
        payload = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        assert payload["entity"] == "event" and payload["event"] == name.split(".auto")[0]
        assert set(payload["contains"]) == set(payload["payload"])


def test_payment_link_paid_credits_the_link_once(env):
    db = env
    link = our_link(db, 10)  # 1,000 paise, as the sample
    payload = sample("payment_link.paid", {"plink_Smpl0000000Lnk": link["payment_link_id"],
                                           "SAMPLE-REF-1": link["reference_id"]})
    assert "payments" not in entity(payload, "payment_link")
    first = feed(db, payload, "evt_SampleLinkPaid1")
    assert first["status"] == "processed" and first["credited_paise"] == 1000
    assert feed(db, payload, "evt_SampleLinkPaid1")["status"] == "duplicate"
    assert feed(db, payload)["status"] == "processed"  # the same payment under another event id
    assert balance(db, "alice") == 1000 and len(recharges(db, "alice")) == 1
    assert payments.get_link(db, link["reference_id"])["status"] == "paid"


def test_payment_link_paid_with_the_payers_convenience_fee_credits_the_link_amount(env):
    db = env
    link = our_link(db, 10)
    payload = sample("payment_link.paid", {"plink_Smpl0000000Lnk": link["payment_link_id"],
                                           "SAMPLE-REF-1": link["reference_id"]})
    entity(payload, "payment").update(amount=1024, fee=24, tax=4, fee_bearer="customer")
    assert feed(db, payload)["credited_paise"] == 1000
    assert balance(db, "alice") == 1000 and recharges(db, "alice")[0]["meta"]["fee_paise"] == 24


def test_payment_captured_and_order_paid_credit_an_order_once(env):
    db = env
    order = payments.create_order(db, "alice", 500)  # 50,000 paise, as the payment.captured sample
    captured = sample("payment.captured", {"order_Smpl000000Ord2": order["order_id"]})
    pay = entity(captured, "payment")
    paid = sample("order.paid", {"order_Smpl000000Ord4": order["order_id"], "pay_Smpl00000Pay4": pay["id"]})
    entity(paid, "payment")["amount"] = entity(paid, "order")["amount"] = entity(paid, "order")["amount_paid"] = 50000
    assert {feed(db, paid)["status"], feed(db, captured)["status"]} == {"processed"}
    assert balance(db, "alice") == 50000 and len(recharges(db, "alice")) == 1
    assert payments.get_link(db, order["order_id"])["status"] == "paid"


def test_payment_failed_is_recorded_on_our_link_with_razorpays_reason(env):
    db = env
    link = our_link(db, 500)
    payload = sample("payment.failed")
    entity(payload, "payment")["description"] = "#" + link["suffix"]  # how Razorpay ties it to the link
    assert feed(db, payload)["status"] == "processed"
    failed = payments.get_link(db, link["reference_id"])["last_failed"]
    assert failed["payment_id"] == entity(payload, "payment")["id"] and failed["error_description"] == "Payment failed"
    assert balance(db, "alice") == 0
    assert [r["kind"] for r in payments.failed_payments(db)] == ["failed"]


@pytest.mark.parametrize("name, status", [("payment_link.cancelled", "cancelled"), ("payment_link.expired", "expired")])
def test_link_closed_on_razorpays_side_shows_on_our_record(env, name, status):
    db = env
    link = our_link(db, 10)
    feed(db, sample(name, {"plink_Smpl0000000Lnk": link["payment_link_id"], "SAMPLE-REF-1": link["reference_id"]}))
    assert payments.get_link(db, link["reference_id"])["status"] == status and balance(db, "alice") == 0


def test_refund_samples_debit_once_and_a_failed_one_gives_back(env, server):
    db = env
    link = our_link(db, 5000)  # the samples' payment is Rs. 5,000
    paid = control(server, f"links/{link['payment_link_id']}/pay")
    payments.handle_callback(db, "alice", paid["callback_params"])
    assert balance(db, "alice") == 500000
    ours = {"pay_Smpl00000Pay5": paid["payment_id"], "rfnd_Smpl0000000Rf1": "rfnd_" + secrets.token_hex(7)}
    created, processed = sample("refund.created", ours), sample("refund.processed", ours)
    for _ in range(3):
        assert feed(db, created)["status"] == "processed"
    assert feed(db, processed)["status"] == "processed"
    assert balance(db, "alice") == 450000 and len(ledger.entries(db, "alice", category="refund")[0]) == 1
    other = dict(ours, rfnd_Smpl0000000Rf1="rfnd_" + secrets.token_hex(7))
    feed(db, sample("refund.created", other))
    assert balance(db, "alice") == 400000
    feed(db, sample("refund.failed", other))
    feed(db, sample("refund.failed", other))
    assert balance(db, "alice") == 450000
    rows = {r["refund_id"]: r for r in payments.list_refunds(db, "alice")}
    assert rows[ours["rfnd_Smpl0000000Rf1"]]["outcome"] == "debited"
    assert rows[other["rfnd_Smpl0000000Rf1"]]["outcome"] == "returned"
    assert ledger.audit(db) == []


def test_auto_refund_sample_never_debits(env):
    db = env
    out = feed(db, sample("refund.created.auto_refund"))
    assert out["status"] == "processed" and "auto_refund" in out["outcome"]
    assert list(ledger.iter_entries(db)) == []


def test_an_event_we_do_not_use_is_ignored(env):
    db = env
    assert feed(db, sample("payment.authorized"))["status"] == "ignored"
    assert list(ledger.iter_entries(db)) == []
