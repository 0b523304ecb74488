"""The fixed UPI QR on the wallet page: one multiple-use, any-amount Razorpay QR per customer (the sandbox
through the real SDK, in Razorpay's published shapes), made once however many first views race; every
payment to it credited once by `qr_code.credited` and by reconciliation, racing; a payment below the
smallest recharge held for an admin like a bank transfer's; a receipt for each credited payment."""
from __future__ import annotations

import json
import random
import time
from datetime import timedelta

import pytest

from services import documents, ledger, payments, razorpay_events, settings, tokens
from services.errors import InvalidPayment
from services.payments import fixedqr, transfers
from scripts import worker
from tests.support import processes
from tests.support.api import bearer, make_user
from tests.support.children import transfer as webhook_child
from tests.support.dashboard import signed_in
from tests.support.payments import control, deliveries, race, sdk, settle_webhooks, setup_db
from tests.support.targets import make_target

KILLS = 4


def _pay(server, qr_id: str, paise: int, vpa: str = "success@razorpay") -> str:
    """A payer scans the QR and pays `paise`: the payment's id."""
    return control(server, f"qr_codes/{qr_id}/pay", amount=paise, vpa=vpa)["payment_id"]


def _credits(db, uid: str) -> list[tuple[str, int]]:
    return sorted((e["key"], e["amount"]) for e in ledger.iter_entries(db, user_id=uid, category="recharge"))


def test_two_first_views_at_once_make_one_multiple_use_qr_per_customer(env, server):
    first, second = race(lambda: payments.fixed_upi_qr(env, "alice"), lambda: payments.fixed_upi_qr(env, "alice"))
    assert first == second == payments.fixed_upi_qr(env, "alice") == payments.existing_fixed_upi_qr(env, "alice")
    assert first["qr_code_id"].startswith("qr_") and first["image_url"].endswith(".png")
    assert first["min_amount_paise"] == settings.get(env)["min_recharge_paise"]
    mine = [q for q in server.sandbox.qr_codes.values() if q["notes"].get("user_id") == "alice"]
    assert [q["id"] for q in mine if q["status"] == "active"] == [first["qr_code_id"]]
    assert all(q["close_reason"] == "on_demand" for q in mine if q["status"] != "active")  # the loser's, unseen
    theirs = sdk(server).qrcode.fetch(first["qr_code_id"])
    assert (theirs["type"], theirs["usage"], theirs["fixed_amount"], theirs["payment_amount"]) == \
        ("upi_qr", "multiple_use", False, None)
    assert theirs["close_by"] is None and theirs["description"]
    assert payments.existing_fixed_upi_qr(env, "bob") is None  # nothing made for a customer who never asked
    assert payments.fixed_upi_qr(env, "bob")["qr_code_id"] != first["qr_code_id"]


def test_three_payments_of_different_amounts_credit_three_times_and_the_qr_stays_open(env, server):
    qr = payments.fixed_upi_qr(env, "alice")["qr_code_id"]
    amounts = {_pay(server, qr, paise): paise for paise in (150_000, 25_075, 4_999_900)}
    settle_webhooks(server)  # forwarded to the webhook handler, each delivered twice: enough alone
    assert _credits(env, "alice") == sorted((f"razorpay:{p}", a) for p, a in amounts.items())
    for _ in range(2):
        assert razorpay_events.reconcile_open(env, due_only=False)["fixed_qr_credited_paise"] == 0
    assert _credits(env, "alice") == sorted((f"razorpay:{p}", a) for p, a in amounts.items())
    assert ledger.get_wallet(env, "alice").balance == sum(amounts.values())
    theirs = sdk(server).qrcode.fetch(qr)
    assert theirs["status"] == "active" and theirs["payments_count_received"] == 3
    for pid in amounts:
        entry = ledger.find_entry(env, f"razorpay:{pid}")
        rrn = sdk(server).payment.fetch(pid)["acquirer_data"]["rrn"]
        assert entry["meta"]["qr_code_id"] == qr and entry["meta"]["rrn"] == rrn and rrn in entry["note"]
        assert env.bank_transfers.find_one({"_id": pid})["status"] == transfers.CREDITED
    documents.catch_up(env, "alice")
    receipts = {d["payment_id"]: d for d in documents.list_documents(env, "alice")}
    assert set(receipts) == set(amounts)  # a receipt (voucher) per payment, as every rail's
    assert all(receipts[p]["amounts"]["total"] == a and "bank_transfer" not in receipts[p] for p, a in amounts.items())
    assert ledger.get_wallet(env, "bob").balance == 0 and ledger.audit(env) == []


def test_reconciliation_alone_credits_what_no_webhook_announced(env, server, receiver):
    receiver.reset(env, mode="collect")  # the webhooks never reach us
    qr = payments.fixed_upi_qr(env, "alice")["qr_code_id"]
    paid = [_pay(server, qr, 30_000), _pay(server, qr, 45_050)]
    settle_webhooks(server)
    assert _credits(env, "alice") == []
    assert razorpay_events.reconcile_open(env, due_only=False)["fixed_qr_credited_paise"] == 75_050
    assert razorpay_events.reconcile_open(env, due_only=False)["fixed_qr_credited_paise"] == 0
    assert _credits(env, "alice") == sorted([(f"razorpay:{paid[0]}", 30_000), (f"razorpay:{paid[1]}", 45_050)])


def test_ten_duplicate_webhooks_racing_reconciliation_credit_a_payment_once(env, server, receiver):
    receiver.reset(env, mode="collect")  # the test hands the deliveries over itself
    qr = payments.fixed_upi_qr(env, "alice")["qr_code_id"]
    pid = _pay(server, qr, 200_000)
    settle_webhooks(server)
    [(body, sig, eid), *_] = deliveries(receiver, "qr_code.credited")
    event = json.loads(body)
    assert event["contains"] == ["payment", "qr_code"] and event["payload"]["payment"]["entity"]["id"] == pid
    assert event["payload"]["qr_code"]["entity"]["usage"] == "multiple_use"
    ids = [eid] * 5 + [f"evt_dup{n:010d}" for n in range(5)]
    jobs = [lambda e=e: razorpay_events.handle_webhook(env, body, sig, e) for e in ids]
    outs = race(*jobs, lambda: razorpay_events.reconcile_open(env, due_only=False))
    assert _credits(env, "alice") == [(f"razorpay:{pid}", 200_000)]
    assert {o["status"] for o in outs if "event" in o} <= {"processed", "duplicate"}, outs
    assert ledger.get_wallet(env, "alice").balance == 200_000 and ledger.audit(env) == []


def _where(db, event_id: str, payment_id: str) -> str:
    """How far the killed handler got: nothing stored, the event stored, the payment recorded, credited."""
    if ledger.find_entry(db, f"razorpay:{payment_id}") is not None:
        return "credited"
    if db.bank_transfers.find_one({"_id": payment_id}) is not None:
        return "payment recorded"
    return "event stored" if db.payment_events.find_one({"_id": event_id}) else "nothing stored"


def test_a_payment_is_credited_once_when_the_webhook_handler_is_killed_mid_way(
        tmp_path, request, receiver, server, monkeypatch):
    db, spec = make_target("embedded", tmp_path, request)
    setup_db(db, receiver, server, monkeypatch, mode="collect")  # the test hands the deliveries over itself
    pid = _pay(server, payments.fixed_upi_qr(db, "alice")["qr_code_id"], 90_000)
    settle_webhooks(server)
    [(body, sig, eid), *_] = deliveries(receiver, "qr_code.credited")
    rnd, where = random.Random(28), []
    for run in range(KILLS):  # the API handling the webhook dies (SIGKILL) at a random moment
        mine, theirs = processes.warm().Pipe()
        # The first run dies by itself right before the credit: mid-way for sure; the others at random.
        die_at = webhook_child.CREDIT if run == 0 else None
        p = processes.start(webhook_child.webhook, spec, body, sig, eid, theirs, die_at)
        try:
            assert mine.poll(60) and mine.recv() == "ready"
            if run == 0:
                p.join(60)
                assert processes.exitcode(p) == -9 and _where(db, eid, pid) == "payment recorded"
                where.append("payment recorded")
            elif run % 2 == 0:  # aim between the event's arrival and the credit
                deadline = time.monotonic() + 20
                while _where(db, eid, pid) == "nothing stored" and p.is_alive() and time.monotonic() < deadline:
                    time.sleep(0.002)
            if run and not mine.poll(rnd.uniform(0.0, 0.05 if run % 2 == 0 else 0.3)) and processes.kill(p):
                where.append(_where(db, eid, pid))
        finally:
            if p.is_alive():
                p.kill()
            p.join(10)
    print("killed at:", where)
    outs = race(*[lambda e=e: razorpay_events.handle_webhook(db, body, sig, e) for e in [eid] * 3 + ["evt_k1"]],
                lambda: razorpay_events.reconcile_open(db, due_only=False))
    for _ in range(2):  # the worker's ticks: recovery of what the kills left half-done, reconciliation, receipts
        worker.tick(db)
    assert _credits(db, "alice") == [(f"razorpay:{pid}", 90_000)], (where, outs)
    assert ledger.get_wallet(db, "alice").balance == 90_000 and ledger.audit(db) == [], where
    assert any(w in ("event stored", "payment recorded") for w in where), where  # killed mid-way at least once
    assert [d["amounts"]["total"] for d in documents.list_documents(db, "alice") if d["payment_id"] == pid] == \
        [90_000], where


def test_a_payment_below_the_smallest_recharge_waits_for_an_admin_then_is_credited_once(env, server, client):
    alice, boss = tokens.issue(env, "alice"), make_user(env, "admin")[1]
    qr = client.get("/api/wallet/upi-qr", headers=bearer(alice)).json()["qr_code_id"]
    small = _pay(server, qr, 500, vpa="alice.finance@okaxis")  # Rs. 5, below the Rs. 10 minimum
    fine = _pay(server, qr, 1_000)  # exactly the minimum
    settle_webhooks(server)
    razorpay_events.reconcile_open(env, due_only=False)
    assert _credits(env, "alice") == [(f"razorpay:{fine}", 1_000)]
    held = client.get("/api/admin/bank-transfers", headers=bearer(boss)).json()
    assert [(h["payment_id"], h["mode"], h["amount_paise"], h["payer_name"]) for h in held] == \
        [(small, "UPI QR", 500, "alice.finance@okaxis")]
    assert "smallest recharge" in held[0]["reason"] and held[0]["bank_reference"].isdigit()
    release = f"/api/admin/bank-transfers/{small}/release"
    done = client.post(release, headers=bearer(boss))
    assert done.status_code == 200 and done.json()["credited_paise"] == 500, done.text
    assert client.post(release, headers=bearer(boss)).status_code == 409
    razorpay_events.reconcile_open(env, due_only=False)
    assert _credits(env, "alice") == sorted([(f"razorpay:{fine}", 1_000), (f"razorpay:{small}", 500)])
    assert ledger.audit(env) == []


def test_a_payment_that_is_not_upi_is_never_credited(env, server):
    qr = payments.fixed_upi_qr(env, "alice")["qr_code_id"]
    card = {"id": "pay_NotUpiAtAll0001", "amount": 50_000, "currency": "INR", "status": "captured",
            "captured": True, "method": "card"}
    with pytest.raises(InvalidPayment):
        fixedqr.settle(env, card, {"id": qr}, source="test")
    assert ledger.get_wallet(env, "alice").balance == 0 and env.bank_transfers.count_documents({}) == 0


def test_the_api_answers_the_fixed_qr_made_once(edb, sandbox, client):
    name, token = make_user(edb)
    first = client.get("/api/wallet/upi-qr", headers=bearer(token))
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"qr_code_id", "image_url", "min_amount_paise", "min_amount"}
    assert client.get("/api/wallet/upi-qr", headers=bearer(token)).json() == body
    assert payments.existing_fixed_upi_qr(edb, name)["qr_code_id"] == body["qr_code_id"]


def test_the_wallet_page_shows_the_fixed_qr_made_on_first_ask(adb, sandbox):
    at = signed_in("asha", "user")
    assert payments.existing_fixed_upi_qr(adb, "asha") is None  # a page view alone asks Razorpay nothing
    next(b for b in at.button if b.label == "Show my UPI QR code").click().run()
    assert not at.exception, at.exception
    qr = payments.existing_fixed_upi_qr(adb, "asha")
    assert qr["qr_code_id"] in [c.value for c in at.code]
    assert any("any amount from Rs. 10.00" in c.value for c in at.caption)
    again = signed_in("asha", "user")  # made once: shown straight away from then on
    assert qr["qr_code_id"] in [c.value for c in again.code]
    assert "Show my UPI QR code" not in [b.label for b in again.button]


def test_reconciliation_reads_each_receivers_payments_since_its_last_complete_pass_less_two_days(
        env, server, receiver, monkeypatch):
    """The first pass reads a receiver's whole list; later ones ask Razorpay only for payments created since
    the start of the last complete pass less `sweeps.LOOKBACK` (`from`), so a tick costs the last days'
    payments, not all of them; a pass that fails keeps its mark; what is new is still credited once."""
    from services import clock
    from services.payments import gateway, sweeps
    receiver.reset(env, mode="collect")  # reconciliation alone
    asked: list[tuple[str, dict]] = []
    for name in ("list_qr_payments", "list_virtual_account_payments"):
        real = getattr(gateway, name)
        monkeypatch.setattr(gateway, name, lambda cfg, rid, q, real=real, name=name:
                            asked.append((name, dict(q))) or real(cfg, rid, q))
    t = [clock.now()]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    server.sandbox.clock = lambda: t[0].timestamp()
    try:
        qr = payments.fixed_upi_qr(env, "alice")["qr_code_id"]
        va = payments.bank_account(env, "bob")["virtual_account_id"]
        old_qr, old_va = _pay(server, qr, 20_000), control(server, f"virtual_accounts/{va}/credit", amount=30_000,
                                                           mode="NEFT")["payment_id"]
        razorpay_events.reconcile_open(env, due_only=False)
        assert {n for n, q in asked if "from" not in q} == {"list_qr_payments", "list_virtual_account_payments"}
        first = t[0]
        t[0] += timedelta(days=5)
        new_qr = _pay(server, qr, 25_000)
        server.sandbox.clock = lambda: (first - timedelta(days=3)).timestamp()
        stale = _pay(server, qr, 7_000)  # listed as made 3 days before the mark: outside the window, not read
        server.sandbox.clock = lambda: t[0].timestamp()
        asked.clear()
        assert razorpay_events.reconcile_open(env, due_only=False)["fixed_qr_credited_paise"] == 25_000
        assert {q.get("from") for _, q in asked} == {int(first.timestamp()) - sweeps.LOOKBACK}
        assert not transfers.done(env, stale) and transfers.done(env, new_qr)
        assert transfers.done(env, old_qr) and transfers.done(env, old_va)
        second = t[0]
        t[0] += timedelta(days=3)
        monkeypatch.setattr(gateway, "list_qr_payments", lambda *a: (_ for _ in ()).throw(gateway.RazorpayDown("x")))
        assert razorpay_events.reconcile_open(env, due_only=False)["fixed_qr_credited_paise"] == 0
        def mark(coll, uid):
            return clock.as_utc(env[coll].find_one({"_id": uid})["reconciled_from"])
        assert abs(mark("fixed_qr_codes", "alice") - second) < timedelta(seconds=1)  # failed: its mark is kept
        assert abs(mark("virtual_accounts", "bob") - t[0]) < timedelta(seconds=1)
        assert sorted(a for _, a in _credits(env, "alice")) == [20_000, 25_000] and ledger.audit(env) == []
    finally:
        server.sandbox.clock = time.time
