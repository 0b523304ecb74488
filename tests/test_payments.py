"""Recharge through Razorpay Payment Links, credited exactly once.

Everything runs against the offline sandbox (sandbox/razorpay_server.py) over real HTTP with the real
`razorpay` SDK; webhooks travel sandbox -> a small HTTP receiver (tests/support/payments.py) -> payments.handle_webhook.
"""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl, urlsplit

import httpx
import requests
import pytest

from sandbox.razorpay_server import run_in_thread
from services import accounts, documents, ledger, payments, razorpay_events, users
from services.payments import links, records, webhooks
from services.errors import BelowMinimum, InvalidAmount, InvalidPayment, NotFound, PaymentUnavailable
from tests.support.payments import (KEY_ID, KEY_SECRET, WEBHOOK_SECRET, balance, control, race, recharges, sdk,
                                    settle_webhooks, setup_db, sign)


def callback_for(plink, ref, status, pay_id, secret=KEY_SECRET):
    return {"razorpay_payment_id": pay_id, "razorpay_payment_link_id": plink,
            "razorpay_payment_link_reference_id": ref, "razorpay_payment_link_status": status,
            "razorpay_signature": sign(f"{plink}|{ref}|{status}|{pay_id}", secret)}


def admin_reasons(db):
    return [r["reason"] for r in payments.failed_payments(db)]


# ------------------------------------------------------------------------------------ happy path

def test_signature_formula_matches_the_published_test_vector():
    assert sign("plink_IH3cNucfVEgV68|TSsd1989|paid|pay_IH3d0ara9bSsjQ", "EnLs21M47BllR3X8PSFtjtbd") == \
        "07ae18789e35093e51d0a491eb9922646f3f82773547e5b0f67ee3f2d3bf7d5b"


def test_create_pay_through_hosted_page_credits_exactly_once(db, receiver, server, monkeypatch):
    setup_db(db, receiver, server, monkeypatch)
    assert payments.mode() == "sandbox"
    net = []  # the HTTP requests the SDK makes while a webhook is being handled
    send = requests.Session.request

    def counting(self, method, url, *a, **kw):
        if getattr(receiver.inside, "on", False):
            net.append((method, url))
        return send(self, method, url, *a, **kw)
    monkeypatch.setattr(requests.Session, "request", counting)
    link = payments.create_payment_link(db, "alice", "250.50")
    assert link["status"] == "created" and link["amount_paise"] == 25050
    assert link["payment_link_id"].startswith("plink_") and len(link["reference_id"]) <= 40
    rec = db.payment_links.find_one({"_id": link["reference_id"]})
    assert rec["payment_link_id"] == link["payment_link_id"] and rec["status"] == "created"
    at_rzp = server.sandbox.links[link["payment_link_id"]]
    assert at_rzp["callback_url"] == "http://127.0.0.1:8501/wallet" and at_rzp["callback_method"] == "get"
    assert at_rzp["notes"]["user_id"] == "alice" and at_rzp["customer"]["email"] == "alice@example.com"
    assert at_rzp["expire_by"] - at_rzp["created_at"] >= 16 * 60

    page = httpx.get(link["short_url"])
    assert page.status_code == 200 and "Pay" in page.text
    r = httpx.post(link["short_url"] + "/pay", data={"method": "upi"}, follow_redirects=False)
    assert r.status_code == 303
    params = dict(parse_qsl(urlsplit(r.headers["location"]).query))
    out = payments.handle_callback(db, "alice", params)
    assert out["amount_paise"] == 25050 and out["outcome"] in ("credited", "already_credited")
    settle_webhooks(server)
    assert len(receiver.results) >= 3  # paid + captured + a duplicate
    assert all(x.get("status") in ("processed", "duplicate") for x in receiver.results), receiver.results
    assert net == []  # a webhook is answered from what it carries: no call to Razorpay inside
    razorpay_events.reconcile_open(db, due_only=False)

    assert balance(db, "alice") == 25050
    [entry] = recharges(db, "alice")
    pay_id = params["razorpay_payment_id"]
    assert ledger.find_entry(db, f"razorpay:{pay_id}")["_id"] == entry["_id"]  # the idempotency key
    assert entry["amount"] == 25050 and entry["source"] == pay_id and entry["category"] == "recharge"
    assert entry["meta"] == {"payment_link_id": link["payment_link_id"], "reference_id": link["reference_id"]}
    [mine] = payments.list_links(db, "alice")
    assert mine["status"] == "paid" and mine["credited_paise"] == 25050 and mine["events"] >= 2
    assert payments.list_links(db, "bob") == []
    assert payments.handle_callback(db, "alice", params)["outcome"] == "already_credited"
    assert balance(db, "alice") == 25050 and ledger.audit(db) == []


def test_redirect_ten_duplicate_webhooks_and_reconcile_concurrently_credit_once(env, receiver, server):
    db = env
    receiver.mode = "collect"
    link = payments.create_payment_link(db, "alice", 500)
    paid = control(server, f"links/{link['payment_link_id']}/pay")
    settle_webhooks(server)
    deliveries = list(receiver.got)
    assert {json.loads(b)["event"] for b, _, _ in deliveries} == {"payment_link.paid", "payment.captured",
                                                                   "order.paid"}
    assert balance(db, "alice") == 0  # nothing forwarded yet

    jobs = [lambda d=d: razorpay_events.handle_webhook(db, *d) for d in (deliveries * 10)[:10]]
    jobs += [lambda: payments.handle_callback(db, "alice", paid["callback_params"]),
             lambda: payments.reconcile_link(db, link["reference_id"], "alice"),
             lambda: razorpay_events.reconcile_open(db, due_only=False)]
    race(*jobs)  # all at once; any exception fails the test
    assert balance(db, "alice") == 50000
    assert len(recharges(db, "alice")) == 1
    assert payments.list_links(db, "alice")[0]["status"] == "paid"
    assert ledger.audit(db) == []
    # And again, sequentially, for good measure.
    for d in deliveries:
        assert razorpay_events.handle_webhook(db, *d)["status"] == "duplicate"
    assert razorpay_events.reconcile_open(db, due_only=False)["credited"] == 0 and balance(db, "alice") == 50000


# ----------------------------------------------------------------------------- refused and recorded

def test_forged_callback_signature_credits_nothing_and_is_recorded(env, receiver, server):
    db = env
    receiver.mode = "collect"
    link = payments.create_payment_link(db, "alice", 100)
    paid = control(server, f"links/{link['payment_link_id']}/pay")
    forged = dict(paid["callback_params"], razorpay_signature="0" * 64)
    with pytest.raises(InvalidPayment):
        payments.handle_callback(db, "alice", forged)
    wrong_key = callback_for(link["payment_link_id"], link["reference_id"], "paid", paid["payment_id"],
                             secret="not-the-secret")
    with pytest.raises(InvalidPayment):
        payments.handle_callback(db, "alice", wrong_key)
    with pytest.raises(InvalidPayment):  # the SDK key-name trap: raw keys must not slip through as "ok"
        payments.handle_callback(db, "alice", {k: v for k, v in paid["callback_params"].items()
                                               if k != "razorpay_payment_link_status"})
    # A forged webhook: right shape, wrong secret. Nothing is written: counted in memory, per client.
    settle_webhooks(server)
    body, _, eid = receiver.got[0]
    events_before, forged_before = db.payment_events.count_documents({}), payments.forged_count()
    with pytest.raises(InvalidPayment):
        razorpay_events.handle_webhook(db, body, sign(body.decode(), "guess"), eid)
    with pytest.raises(InvalidPayment):
        razorpay_events.handle_webhook(db, body, None, eid)
    for i in range(5):  # a flood of forged webhooks from one address: the caller is told to slow it down
        with pytest.raises(payments.ForgedWebhook) as info:
            razorpay_events.handle_webhook(db, body + b" " * i, "0" * 64, f"evt_flood{i}", client="203.0.113.9")
    assert info.value.recent == 5 and not info.value.slow_down
    with pytest.raises(payments.ForgedWebhook) as info:
        razorpay_events.handle_webhook(db, body, "0" * 64, "evt_flood9", client="203.0.113.9")
    assert info.value.slow_down and payments.forged_count("203.0.113.9") == 6
    assert payments.forged_count() == forged_before + 8
    assert db.payment_events.count_documents({}) == events_before  # not one write
    assert balance(db, "alice") == 0 and recharges(db, "alice") == []
    reasons = admin_reasons(db)
    assert "callback signature does not match" in reasons
    assert "callback with missing parameters" in reasons
    assert "webhook signature does not match" not in reasons


def test_webhook_verifies_with_any_configured_secret_current_first(env, monkeypatch):
    """Secret rotation: Razorpay retries older events signed with the old secret; both must verify."""
    db = env
    monkeypatch.setenv("RAZORPAY_WEBHOOK_SECRET", f"rotated_secret, {WEBHOOK_SECRET}")
    body = json.dumps({"event": "payment.authorized", "payload": {}}).encode()
    old = razorpay_events.handle_webhook(db, body, sign(body.decode(), WEBHOOK_SECRET), "evt_Rotate0000001")
    assert old["status"] == "ignored"
    new = razorpay_events.handle_webhook(db, body, sign(body.decode(), "rotated_secret"), "evt_Rotate0000002")
    assert new["status"] == "ignored"
    forged = payments.forged_count()
    with pytest.raises(InvalidPayment):
        razorpay_events.handle_webhook(db, body, sign(body.decode(), "retired_secret"), "evt_Rotate0000003")
    assert payments.forged_count() == forged + 1


def test_tampered_amount_credits_nothing_extra_and_is_recorded(env, receiver, server):
    db = env
    receiver.mode = "collect"
    link = payments.create_payment_link(db, "alice", 100)
    paid = control(server, f"links/{link['payment_link_id']}/pay")
    settle_webhooks(server)
    # Webhook body with the amount raised but the original signature: refused, nothing credited.
    body, sig, eid = next(d for d in receiver.got if json.loads(d[0])["event"] == "payment.captured")
    tampered = body.replace(b'"amount":10000', b'"amount":9999900')
    assert tampered != body
    with pytest.raises(InvalidPayment):
        razorpay_events.handle_webhook(db, tampered, sig, eid)
    assert balance(db, "alice") == 0
    # Callback carrying a made-up amount: the amount is Razorpay's (fetched), the tamper is recorded.
    out = payments.handle_callback(db, "alice", dict(paid["callback_params"], amount="9999900"))
    assert out["amount_paise"] == 10000
    assert balance(db, "alice") == 10000 and len(recharges(db, "alice")) == 1
    assert any("callback carried an amount" in r for r in admin_reasons(db))


def test_callback_replayed_for_another_user_is_refused(env, receiver, server):
    db = env
    receiver.mode = "collect"
    link = payments.create_payment_link(db, "alice", 300)
    paid = control(server, f"links/{link['payment_link_id']}/pay")
    with pytest.raises(InvalidPayment, match="different account"):
        payments.handle_callback(db, "bob", paid["callback_params"])
    assert balance(db, "bob") == 0 and recharges(db, "bob") == []
    with pytest.raises(NotFound):  # nor can bob poke at alice's link
        payments.reconcile_link(db, link["reference_id"], "bob")
    rows = [r for r in payments.failed_payments(db) if "another user" in r["reason"]]
    assert rows and rows[0]["user_id"] == "bob" and rows[0]["payment_link_id"] == link["payment_link_id"]
    # The real owner still gets the money, once.
    assert payments.handle_callback(db, "alice", paid["callback_params"])["outcome"] == "credited"
    assert balance(db, "alice") == 30000 and balance(db, "bob") == 0


def test_unknown_link_ids_credit_nothing_and_are_recorded(env, receiver, server):
    db = env
    # Correctly signed (we know the sandbox secret) but for a link we never made.
    with pytest.raises(InvalidPayment, match="not known"):
        payments.handle_callback(db, "alice", callback_for("plink_Nope0000000000", "wr_nope", "paid",
                                                           "pay_Nope0000000000"))
    with pytest.raises(NotFound):
        payments.reconcile_link(db, "plink_Nope0000000000")
    # A link made at Razorpay by someone else, paid: its webhooks match nothing here.
    foreign = sdk(server).payment_link.create({"amount": 70000, "reference_id": "someone-else-1"}, timeout=5)
    control(server, f"links/{foreign['id']}/pay")
    settle_webhooks(server)
    assert {x["status"] for x in receiver.results} == {"unmatched", "duplicate"} or \
        {x["status"] for x in receiver.results} == {"unmatched"}
    razorpay_events.reconcile_open(db, due_only=False)
    assert balance(db, "alice") == 0 and balance(db, "bob") == 0
    assert list(ledger.iter_entries(db)) == []
    rows = payments.failed_payments(db)
    assert "callback for an unknown payment link" in [r["reason"] for r in rows]
    assert any(r["kind"] == "unmatched" and r["payment_link_id"] == foreign["id"] for r in rows)


def test_expired_and_cancelled_links_close_without_credit(env, receiver, server):
    db = env
    a = payments.create_payment_link(db, "alice", 100)
    b = payments.create_payment_link(db, "alice", 200)
    control(server, f"links/{a['payment_link_id']}/expire")
    sdk(server).payment_link.cancel(b["payment_link_id"], timeout=5)
    settle_webhooks(server)
    # A correctly signed callback claiming a payment on the expired link: Razorpay knows no such payment.
    with pytest.raises(InvalidPayment, match="expired"):
        payments.handle_callback(db, "alice", callback_for(a["payment_link_id"], a["reference_id"], "paid",
                                                           "pay_Fake0000000000"))
    razorpay_events.reconcile_open(db, due_only=False)
    st = {x["reference_id"]: x["status"] for x in payments.list_links(db, "alice")}
    assert st == {a["reference_id"]: "expired", b["reference_id"]: "cancelled"}
    assert balance(db, "alice") == 0 and recharges(db, "alice") == []
    reasons = admin_reasons(db)
    assert "payment link expired without payment" in reasons
    assert "payment link cancelled without payment" in reasons
    assert "callback for a link that is expired, with no such payment" in reasons
    assert razorpay_events.reconcile_open(db, due_only=False)["checked"] == 0  # closed links are not polled again


# ------------------------------------------------------------------------------------ bad amounts

@pytest.mark.parametrize("amount, exc, words", [
    ("9.99", BelowMinimum, "below minimum"), (5, BelowMinimum, "below minimum"),
    ("abc", InvalidAmount, "number"), ("", InvalidAmount, "number"), (None, InvalidAmount, "number"),
    ("-50", InvalidAmount, "negative"), ("0", InvalidAmount, "more than zero"),
    ("100000.01", InvalidAmount, "maximum"), ("10.001", InvalidAmount, "decimal"),
    ("nan", InvalidAmount, "finite"), (True, InvalidAmount, "number"),
])
def test_bad_amounts_are_refused_before_anything_is_written(env, server, amount, exc, words):
    db = env
    with pytest.raises(exc) as info:
        payments.create_payment_link(db, "alice", amount)
    assert words in info.value.message
    with pytest.raises(exc):
        payments.create_order(db, "alice", amount)
    assert db.payment_links.count_documents({}) == 0
    assert server.sandbox.links == {} and server.sandbox.orders == {}


def test_minimum_follows_settings(env, server):
    from services import settings
    settings.set_value(env, "min_recharge_paise", 5000, by="admin")
    with pytest.raises(BelowMinimum, match=r"Rs\. 50\.00"):
        payments.create_payment_link(env, "alice", 49)
    assert payments.create_payment_link(env, "alice", 50)["amount_paise"] == 5000


def test_unknown_user_gets_no_link(env, server):
    with pytest.raises(NotFound):
        payments.create_payment_link(env, "nobody", 100)
    assert server.sandbox.links == {}


# ------------------------------------------------------------------------------ gateway failures

def test_sandbox_stopped_then_back_reconcile_credits_once(edb, receiver, monkeypatch, tmp_path):
    db = edb
    state = str(tmp_path / "rzp.json")
    h = run_in_thread({"state_path": state})  # no webhooks: reconcile alone must do it
    port = h.port
    monkeypatch.setenv("RAZORPAY_SANDBOX_URL", h.url)
    monkeypatch.setenv("RAZORPAY_TIMEOUT", "2")
    accounts.create_user(db, "alice", "password-a", "Alice", "alice@example.com")
    link = payments.create_payment_link(db, "alice", 400)
    paid = control(h, f"links/{link['payment_link_id']}/pay")
    h.stop()

    out = payments.handle_callback(db, "alice", paid["callback_params"])
    assert out["outcome"] == "pending" and "credited automatically" in out["message"]
    with pytest.raises(PaymentUnavailable, match="Nothing was charged"):
        payments.create_payment_link(db, "alice", 100)
    with pytest.raises(PaymentUnavailable):
        payments.reconcile_link(db, link["reference_id"], "alice")
    out = razorpay_events.reconcile_open(db, due_only=False)
    assert out["errors"] == 2 and out["credited"] == 0
    assert balance(db, "alice") == 0
    statuses = sorted(x["status"] for x in payments.list_links(db, "alice"))
    assert statuses == ["created", "error_creating"]  # both still on record, still open

    h2 = run_in_thread({"state_path": state}, port=port)
    try:
        out = razorpay_events.reconcile_open(db, due_only=False)
        assert out["credited"] == 1 and out["credited_paise"] == 40000 and out["errors"] == 0
        assert razorpay_events.reconcile_open(db, due_only=False)["credited"] == 0
        assert payments.handle_callback(db, "alice", paid["callback_params"])["outcome"] == "already_credited"
        assert balance(db, "alice") == 40000 and len(recharges(db, "alice")) == 1
    finally:
        h2.stop()


@pytest.mark.parametrize("fault", ["5xx", "non_json"])
def test_gateway_5xx_or_non_json_is_a_clear_error_and_reconcilable(env, receiver, server, fault):
    db = env
    control(server, "fault", mode=fault, count=1)
    with pytest.raises(PaymentUnavailable, match="Nothing was charged"):
        payments.create_payment_link(db, "alice", 100)
    [rec] = payments.list_links(db, "alice")
    assert rec["status"] == "error_creating" and rec["last_error"]
    assert server.sandbox.links == {}

    receiver.mode = "collect"  # so only the callback and reconcile can credit
    link = payments.create_payment_link(db, "alice", 200)
    paid = control(server, f"links/{link['payment_link_id']}/pay")
    control(server, "fault", mode=fault, count=1)
    out = payments.handle_callback(db, "alice", paid["callback_params"])
    assert out["outcome"] == "pending" and out["amount_paise"] == 0
    settle_webhooks(server)
    assert balance(db, "alice") == 0  # nothing credited from an unconfirmed redirect
    razorpay_events.reconcile_open(db, due_only=False)
    assert payments.handle_callback(db, "alice", paid["callback_params"])["outcome"] == "already_credited"
    assert balance(db, "alice") == 20000 and len(recharges(db, "alice")) == 1


def test_answer_lost_after_create_is_found_by_reference_and_credited_once(env, receiver, server):
    db = env
    receiver.mode = "collect"  # only reconcile may find it
    control(server, "fault", mode="5xx", count=1, after=True)  # Razorpay made the link, the answer got lost
    with pytest.raises(PaymentUnavailable):
        payments.create_payment_link(db, "alice", 150)
    [rec] = payments.list_links(db, "alice")
    assert rec["status"] == "error_creating" and rec["payment_link_id"] is None
    [remote] = server.sandbox.links.values()
    assert remote["reference_id"] == rec["reference_id"]
    control(server, f"links/{remote['id']}/pay")
    assert razorpay_events.reconcile_open(db, due_only=False)["credited_paise"] == 15000
    assert razorpay_events.reconcile_open(db, due_only=False)["credited_paise"] == 0
    [rec] = payments.list_links(db, "alice")
    assert rec["status"] == "paid" and rec["payment_link_id"] == remote["id"]
    assert balance(db, "alice") == 15000


def test_slow_gateway_times_out(env, server, monkeypatch):
    monkeypatch.setenv("RAZORPAY_TIMEOUT", "1")
    control(server, "fault", mode="slow", count=1, delay=30)
    t0 = time.monotonic()
    with pytest.raises(PaymentUnavailable):
        payments.create_payment_link(env, "alice", 100)
    assert time.monotonic() - t0 < 20  # the 1 s timeout cut in, long before the gateway's 30 s answer


# ------------------------------------------------------------------------------------------ the race

def test_webhook_before_our_record_is_committed_is_not_lost(env, receiver, server):
    """Razorpay's webhooks arrive while our record is not visible yet: they are stored as "unmatched"
    with their payload, then picked up when the record lands, credited once."""
    db = env
    user = users.get(db, "alice")
    rec = records.build("link", user, 12300, "sandbox")
    # What create_payment_link does, with the record's commit delayed until after the payment.
    remote = sdk(server).payment_link.create(links.link_body(user, rec), timeout=5)
    control(server, f"links/{remote['id']}/pay")
    settle_webhooks(server)
    assert receiver.results and {x["status"] for x in receiver.results} <= {"unmatched"}
    assert balance(db, "alice") == 0
    assert any(r["kind"] == "unmatched" for r in payments.failed_payments(db))

    db.payment_links.insert_many([rec])  # the commit lands
    assert webhooks.adopt_events(db, rec["_id"]) >= 2  # what the create path runs right after it
    assert balance(db, "alice") == 12300 and len(recharges(db, "alice")) == 1
    assert not any(r["kind"] == "unmatched" for r in payments.failed_payments(db))
    # Redelivery of everything, and reconcile: still once.
    control(server, "webhooks/redeliver")
    settle_webhooks(server)
    razorpay_events.reconcile_open(db, due_only=False)
    assert balance(db, "alice") == 12300 and len(recharges(db, "alice")) == 1
    assert payments.list_links(db, "alice")[0]["status"] == "paid"


def test_race_resolved_by_reconcile_alone(env, receiver, server):
    db = env
    user = users.get(db, "alice")
    rec = records.build("link", user, 9900, "sandbox")
    remote = sdk(server).payment_link.create(links.link_body(user, rec), timeout=5)
    control(server, f"links/{remote['id']}/pay")
    settle_webhooks(server)
    assert balance(db, "alice") == 0
    db.payment_links.insert_many([rec])  # the record lands, nothing else runs
    out = razorpay_events.reconcile_open(db, due_only=False)  # the scheduled worker
    assert out["credited_paise"] == 9900
    assert balance(db, "alice") == 9900 and len(recharges(db, "alice")) == 1
    assert not any(r["kind"] == "unmatched" for r in payments.failed_payments(db))
    assert razorpay_events.reconcile_open(db, due_only=False)["events_retried"] == 0


# ------------------------------------------------------------------ partial, failed, orders, config

def test_partial_payments_credit_what_was_paid(env, server):
    db = env
    link = payments.create_payment_link(db, "alice", 100)
    # Partial payments switched on for this link at Razorpay (e.g. from its dashboard).
    sdk(server).payment_link.edit(link["payment_link_id"], {"accept_partial": True}, timeout=5)
    first = control(server, f"links/{link['payment_link_id']}/pay", amount=3000)
    assert first["status"] == "partially_paid"
    out = payments.handle_callback(db, "alice", first["callback_params"])
    assert out["amount_paise"] == 3000
    settle_webhooks(server)
    assert balance(db, "alice") == 3000
    assert payments.list_links(db, "alice")[0]["status"] == "partially_paid"
    assert razorpay_events.reconcile_open(db, due_only=False)["credited_paise"] == 0
    second = control(server, f"links/{link['payment_link_id']}/pay", amount=7000)
    settle_webhooks(server)
    razorpay_events.reconcile_open(db, due_only=False)
    payments.handle_callback(db, "alice", second["callback_params"])
    assert balance(db, "alice") == 10000
    assert sorted(e["amount"] for e in recharges(db, "alice")) == [3000, 7000]
    [mine] = payments.list_links(db, "alice")
    assert mine["status"] == "paid" and mine["credited_paise"] == 10000


@pytest.mark.parametrize("parts", [(1000, 1000, 9800), (1049, 1039, 9712)], ids=["shares-round-down",
                                                                                   "shares-round-up"])
def test_part_payments_with_gst_on_top_credit_the_whole_amount_and_split_the_rest_as_gst(env, server, parts):
    """Rs. 100 + 18 % GST on top = Rs. 118 paid in three parts: each part's wallet share is rounded, and
    the part that completes the charge takes what is left, so the wallet gets Rs. 100 and the GST Rs. 18
    (rounded shares alone would give Rs. 99.99 or refuse the last part as a mismatch)."""
    db = env
    documents.business.update(db, {"legal_name": "Vaani Voice AI Pvt Ltd", "address": "12 MG Road, Bengaluru",
                                   "state": "29", "gstin": "29AABCV1234K1Z9", "pan": "AABCV1234K",
                                   "gst_mode": "exclusive", "sac": "998599", "signatory": "Asha Rao"}, by="boss")
    link = payments.create_payment_link(db, "alice", 100)
    sdk(server).payment_link.edit(link["payment_link_id"], {"accept_partial": True}, timeout=5)
    for part in parts:
        control(server, f"links/{link['payment_link_id']}/pay", amount=part)
        settle_webhooks(server)
    razorpay_events.reconcile_open(db, due_only=False)
    assert sum(parts) == 11800 and balance(db, "alice") == 10000
    credits = recharges(db, "alice")
    assert len(credits) == 3 and sum(e["amount"] for e in credits) == 10000
    assert sorted(e["amount"] + e["meta"]["gst_paise"] for e in credits) == sorted(parts)  # each part: wallet + GST
    assert sum(e["meta"]["gst_paise"] for e in credits) == 1800
    [mine] = payments.list_links(db, "alice")
    assert mine["status"] == "paid" and mine["credited_paise"] == 10000
    assert not [r for r in payments.failed_payments(db) if r["kind"] == "suspicious"]


def test_payment_failed_is_recorded_and_link_stays_open(env, server):
    db = env
    link = payments.create_payment_link(db, "alice", 100)
    failed = control(server, f"links/{link['payment_link_id']}/fail")
    settle_webhooks(server)
    rows = [r for r in payments.failed_payments(db) if r["kind"] == "failed"]
    assert rows and rows[0]["payment_id"] == failed["payment_id"] and rows[0]["user_id"] == "alice"
    assert rows[0]["reason"].startswith("Payment failed because")  # Razorpay's own words, once
    razorpay_events.reconcile_open(db, due_only=False)
    assert payments.list_links(db, "alice")[0]["status"] == "created" and balance(db, "alice") == 0
    # The customer retries and pays.
    control(server, f"links/{link['payment_link_id']}/pay")
    settle_webhooks(server)
    assert balance(db, "alice") == 10000 and payments.list_links(db, "alice")[0]["status"] == "paid"


def test_orders_flow_credits_once_and_checks_signature_and_owner(env, receiver, server):
    db = env
    with pytest.raises(BelowMinimum, match="below minimum"):
        payments.create_order(db, "alice", "9")
    order = payments.create_order(db, "alice", "75")
    assert order["amount_paise"] == 7500 and order["currency"] == "INR" and order["order_id"].startswith("order_")
    assert payments.razorpay_key() == KEY_ID
    receiver.mode = "collect"
    paid = control(server, f"orders/{order['order_id']}/pay")
    good = (paid["razorpay_order_id"], paid["razorpay_payment_id"], paid["razorpay_signature"])
    with pytest.raises(InvalidPayment):
        payments.verify_order_payment(db, "alice", good[0], good[1], "f" * 64)
    with pytest.raises(InvalidPayment):  # signature of another payment id
        payments.verify_order_payment(db, "alice", good[0], "pay_Other000000000", good[2])
    with pytest.raises(InvalidPayment, match="different account"):
        payments.verify_order_payment(db, "bob", *good)
    assert balance(db, "alice") == 0 and balance(db, "bob") == 0
    out = payments.verify_order_payment(db, "alice", *good)
    assert out == {"outcome": "credited", "amount_paise": 7500, "balance_paise": 7500}
    assert payments.verify_order_payment(db, "alice", *good)["outcome"] == "already_credited"
    settle_webhooks(server)
    for d in receiver.got:  # payment.captured + order.paid for the same payment
        razorpay_events.handle_webhook(db, *d)
    razorpay_events.reconcile_open(db, due_only=False)
    assert balance(db, "alice") == 7500 and len(recharges(db, "alice")) == 1
    [e] = recharges(db, "alice")
    assert ledger.find_entry(db, f"razorpay:{good[1]}")["_id"] == e["_id"]
    assert e["meta"]["order_id"] == order["order_id"]
    reasons = admin_reasons(db)
    assert "order payment signature does not match" in reasons
    assert any("another user" in r for r in reasons)


def test_order_paid_only_by_webhook_or_reconcile(env, server):
    db = env
    order = payments.create_order(db, "alice", 60)
    control(server, f"orders/{order['order_id']}/pay")
    settle_webhooks(server)  # forwarded: payment.captured / order.paid credit it
    assert balance(db, "alice") == 6000
    razorpay_events.reconcile_open(db, due_only=False)
    assert balance(db, "alice") == 6000 and len(recharges(db, "alice")) == 1


def test_mode_and_keys(monkeypatch, tmp_path, edb):
    for n in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET", "RAZORPAY_SANDBOX_URL"):
        monkeypatch.delenv(n, raising=False)
    monkeypatch.setenv("WALLET_SECRETS_FILE", str(tmp_path / "missing.toml"))
    assert payments.mode() == "off" and payments.razorpay_key() == ""
    accounts.create_user(edb, "alice", "password-a", "Alice", "alice@example.com")
    with pytest.raises(PaymentUnavailable, match="Online recharge is not available right now"):
        payments.create_payment_link(edb, "alice", 100)
    with pytest.raises(PaymentUnavailable):
        razorpay_events.handle_webhook(edb, b"{}", "x", "evt_1")
    assert edb.payment_links.count_documents({}) == 0
    toml = tmp_path / "secrets.toml"
    toml.write_text('RAZORPAY_KEY_ID = "rzp_test_abc"\nRAZORPAY_KEY_SECRET = "s"\n')
    monkeypatch.setenv("WALLET_SECRETS_FILE", str(toml))
    assert payments.mode() == "test" and payments.razorpay_key() == "rzp_test_abc"
    toml.write_text('[razorpay]\nkey_id = "rzp_live_abc"\nkey_secret = "s"\n')
    assert payments.mode() == "live"
    monkeypatch.setenv("RAZORPAY_SANDBOX_URL", "http://127.0.0.1:9")
    assert payments.mode() == "sandbox" and payments.razorpay_key() == KEY_ID  # never real keys to a fake
