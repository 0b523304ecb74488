"""Smart Collect: a bank account number per customer (a Razorpay virtual account on the sandbox, through the
real SDK), bank transfers into it credited once by webhook and reconciliation, held for an admin when
they break the customer's or the business's rules, and the UTR on the receipt.

Must show: a Rs. 2,00,000 NEFT credits Rs. 2,00,000 once under 10 duplicate webhooks racing
reconciliation and a `kill -9` of the process handling the webhook; the receipt shows the UTR."""
from __future__ import annotations

import io
import json
import random
import time
import uuid

import pytest
from pypdf import PdfReader

from sandbox.razorpay_server.common import ApiError
from scripts import worker
from services import documents, ledger, payments, razorpay_events, settings, tokens
from services.errors import InvalidInput
from services.payments import transfers
from tests.support import processes
from tests.support.children import transfer as transfer_child
from tests.support.api import bearer, make_user
from tests.support.dashboard import signed_in
from tests.support.payments import control, deliveries, race, sdk, settle_webhooks, setup_db
from tests.support.targets import make_target

LAKH = 100_000 * 100  # paise


def _credit(server, va_id: str, paise: int, **payer) -> dict:
    return control(server, f"virtual_accounts/{va_id}/credit", amount=paise, mode=payer.pop("mode", "NEFT"), **payer)


def _delivery(receiver, payment_id: str) -> tuple[bytes, str, str]:
    """The signed `virtual_account.credited` delivery of one payment, as the API received it."""
    for body, sig, eid in deliveries(receiver, "virtual_account.credited"):
        if json.loads(body)["payload"]["payment"]["entity"]["id"] == payment_id:
            return body, sig, eid
    raise AssertionError("no virtual_account.credited for " + payment_id)


def test_sandbox_smart_collect_answers_in_razorpays_published_shapes(env, server, receiver):
    rzp = sdk(server)
    va = rzp.virtual_account.create({"receivers": {"types": ["bank_account", "vpa"]}, "description": "top-ups",
                                     "notes": {"user_id": "alice"}})
    bank = next(r for r in va["receivers"] if r["entity"] == "bank_account")
    vpa = next(r for r in va["receivers"] if r["entity"] == "vpa")
    assert va["id"].startswith("va_") and va["status"] == "active" and va["amount_paid"] == 0
    assert bank["id"].startswith("ba_") and bank["ifsc"][4] == "0" and bank["account_number"].isdigit()
    assert vpa["address"] == f"{vpa['username']}@{vpa['handle']}"
    paid = _credit(server, va["id"], 61_900, mode="IMPS", payer_name="Saurav Kumar", payer_account="765432123456789")
    settle_webhooks(server)
    event = json.loads(_delivery(receiver, paid["payment_id"])[0])
    assert event["contains"] == ["payment", "virtual_account", "bank_transfer"]
    bt = event["payload"]["bank_transfer"]["entity"]
    assert bt["id"].startswith("bt_") and bt["mode"] == "IMPS" and bt["amount"] == 61_900 and "utr" not in bt
    assert bt["bank_reference"].isdigit() and bt["payer_bank_account"]["name"] == "Saurav Kumar"
    assert event["payload"]["payment"]["entity"]["method"] == "bank_transfer"
    assert event["payload"]["virtual_account"]["entity"]["amount_paid"] == 61_900
    assert rzp.virtual_account.fetch(va["id"])["amount_paid"] == 61_900
    assert [p["id"] for p in rzp.virtual_account.payments(va["id"])["items"]] == [paid["payment_id"]]
    fetched = rzp.payment.bank_transfer(paid["payment_id"])
    assert fetched["bank_reference"] == bt["bank_reference"] and fetched["virtual_account"]["id"] == va["id"]
    assert rzp.virtual_account.close(va["id"])["status"] == "closed"
    with pytest.raises(ApiError, match="closed"):  # a transfer to a closed account goes back to the payer
        server.sandbox.credit_virtual_account(va["id"], {"amount": 10_000})


def test_a_customers_bank_account_is_made_once_even_when_asked_twice_at_once(env, server):
    first, second = race(lambda: payments.bank_account(env, "alice"), lambda: payments.bank_account(env, "alice"))
    assert first == second == payments.bank_account(env, "alice")
    assert first["account_number"].isdigit() and first["ifsc"] and first["name"] and first["upi_id"]
    active = [v for v in server.sandbox.virtual_accounts.values() if v["status"] == "active"]
    assert [v["id"] for v in active] == [first["virtual_account_id"]]
    assert payments.bank_account(env, "bob")["account_number"] != first["account_number"]


def test_transfers_breaking_a_rule_wait_for_an_admin_and_are_credited_once_when_released(env, server, client):
    alice = tokens.issue(env, "alice")
    boss = make_user(env, "admin")[1]
    put = client.put("/api/wallet/bank-account/allowed-payers", json={"accounts": ["111122223333"]},
                     headers=bearer(alice))
    assert put.status_code == 200 and put.json() == {"accounts": ["111122223333"]}
    va = client.get("/api/wallet/bank-account", headers=bearer(alice)).json()["virtual_account_id"]
    settings.set_value(env, "bank_transfer_max_paise", 3 * LAKH, by="boss")
    stranger = _credit(server, va, LAKH, payer_account="999988887777")
    too_big = _credit(server, va, 4 * LAKH, payer_account="111122223333")
    too_small = _credit(server, va, 500, payer_account="111122223333")  # Rs. 5, below the Rs. 10 minimum
    fine = _credit(server, va, LAKH, mode="RTGS", payer_account="111122223333", payer_name="Alice Pvt Ltd")
    settle_webhooks(server)
    razorpay_events.reconcile_open(env, due_only=False)
    assert ledger.get_wallet(env, "alice").balance == LAKH
    held = client.get("/api/admin/bank-transfers", headers=bearer(boss)).json()
    reasons = {d["payment_id"]: d["reason"] for d in held}
    assert set(reasons) == {stranger["payment_id"], too_big["payment_id"], too_small["payment_id"]}
    assert "allow-list" in reasons[stranger["payment_id"]] and "maximum" in reasons[too_big["payment_id"]]
    assert "smallest recharge" in reasons[too_small["payment_id"]]
    release = f"/api/admin/bank-transfers/{stranger['payment_id']}/release"
    assert client.post(release, headers=bearer(alice)).status_code == 403
    done = client.post(release, headers=bearer(boss))
    assert done.status_code == 200 and done.json()["credited_paise"] == LAKH and done.json()["status"] == "credited"
    assert client.post(release, headers=bearer(boss)).status_code == 409
    razorpay_events.reconcile_open(env, due_only=False)
    assert ledger.get_wallet(env, "alice").balance == 2 * LAKH
    entry = ledger.find_entry(env, f"razorpay:{fine['payment_id']}")
    assert entry["meta"]["mode"] == "RTGS"
    assert entry["meta"]["bank_reference"] == fine["bank_transfer"]["bank_reference"]
    assert "Alice Pvt Ltd" in entry["note"] and entry["meta"]["payer_account"].endswith("3333")
    with pytest.raises(InvalidInput):
        payments.set_allowed_payers(env, "alice", ["12ab"])
    bad = client.put("/api/wallet/bank-account/allowed-payers", json={"accounts": ["12ab"]}, headers=bearer(alice))
    assert bad.status_code == 400 and transfers.held(env)[0]["_id"] != stranger["payment_id"]
    assert ledger.audit(env) == []


KILLS = 6


def _where(db, event_id: str, payment_id: str) -> str:
    """How far the killed handler got: nothing stored, the event stored, the transfer recorded, credited."""
    if ledger.find_entry(db, f"razorpay:{payment_id}") is not None:
        return "credited"
    if db.bank_transfers.find_one({"_id": payment_id}) is not None:
        return "transfer recorded"
    return "event stored" if db.payment_events.find_one({"_id": event_id}) else "nothing stored"


def test_must_show_a_2_lakh_neft_credits_once_under_duplicate_webhooks_reconciliation_and_kill_9(
        tmp_path, request, receiver, server, monkeypatch):
    db, spec = make_target("embedded", tmp_path, request)
    setup_db(db, receiver, server, monkeypatch, mode="collect")  # the test hands the deliveries over itself
    va = payments.bank_account(db, "alice")["virtual_account_id"]
    paid = _credit(server, va, 2 * LAKH, mode="NEFT", payer_name="Alice Technologies Pvt Ltd",
                   payer_account="50200012345678")
    pid, utr = paid["payment_id"], paid["bank_transfer"]["bank_reference"]
    settle_webhooks(server)
    body, sig, eid = _delivery(receiver, pid)
    rnd, kills, where = random.Random(28), 0, []
    for run in range(KILLS):  # the API handling the webhook dies (SIGKILL) at a random moment
        mine, theirs = processes.warm().Pipe()
        # The first run dies by itself right before the credit: mid-way for sure; the others at random.
        die_at = transfer_child.CREDIT if run == 0 else None
        p = processes.start(transfer_child.webhook, spec, body, sig, eid, theirs, die_at)
        try:
            assert mine.poll(60) and mine.recv() == "ready"
            if run == 0:
                p.join(60)
                assert processes.exitcode(p) == -9 and _where(db, eid, pid) == "transfer recorded"
                where.append("transfer recorded")
            elif run % 2 == 0:  # aim between the event's arrival and the credit
                deadline = time.monotonic() + 20
                while _where(db, eid, pid) == "nothing stored" and p.is_alive() and time.monotonic() < deadline:
                    time.sleep(0.002)
            if run and not mine.poll(rnd.uniform(0.0, 0.05 if run % 2 == 0 else 0.3)) and processes.kill(p):
                kills += 1
                where.append(_where(db, eid, pid))
        finally:
            if p.is_alive():
                p.kill()
            p.join(10)
    # Razorpay's redeliveries (same event id) and duplicates (new ids) racing the worker's reconciliation.
    ids = [eid] * 5 + ["evt_" + uuid.uuid4().hex[:14] for _ in range(5)]
    jobs = [lambda e=e: razorpay_events.handle_webhook(db, body, sig, e) for e in ids]
    outs = race(*jobs, lambda: razorpay_events.reconcile_open(db, due_only=False))
    for _ in range(2):  # the worker's ticks: recovery of what the kills left half-done, reconciliation, receipts
        worker.tick(db)
    entries = list(ledger.iter_entries(db, user_id="alice", category="recharge"))
    assert [(e["key"], e["amount"]) for e in entries] == [(f"razorpay:{pid}", 2 * LAKH)], (where, outs)
    assert ledger.get_wallet(db, "alice").balance == 2 * LAKH and ledger.audit(db) == []
    assert {o["status"] for o in outs if "event" in o} <= {"processed", "duplicate"}, (where, outs)
    assert db.bank_transfers.find_one({"_id": pid})["status"] == transfers.CREDITED, (where, outs)
    print("killed:", kills, where)
    assert any(w in ("event stored", "transfer recorded") for w in where), where  # killed mid-way at least once
    receipt = [d for d in documents.list_documents(db, "alice") if d["payment_id"] == pid]
    assert len(receipt) == 1 and receipt[0]["bank_transfer"]["bank_reference"] == utr, (where, receipt)
    assert receipt[0]["amounts"]["total"] == 2 * LAKH
    pdf = documents.document_pdf(documents.get_document(db, receipt[0]["number"]))
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"UTR {utr}" in text and "NEFT" in text


def test_the_wallet_page_shows_the_account_number_to_copy_made_on_first_ask(adb, sandbox):
    at = signed_in("asha", "user")
    assert payments.existing_bank_account(adb, "asha") is None  # a page view alone asks Razorpay nothing
    next(b for b in at.button if b.label == "Show my account number").click().run()
    assert not at.exception, at.exception
    acct = payments.existing_bank_account(adb, "asha")
    shown = [c.value for c in at.code]  # st.code: each value in a block with Streamlit's copy button
    assert shown == [acct["account_number"], acct["ifsc"], acct["name"], acct["upi_id"]]
    again = signed_in("asha", "user")  # made once: shown straight away from then on
    assert [c.value for c in again.code] == shown
    assert "Show my account number" not in [b.label for b in again.button]


def test_the_api_answers_the_account_number_made_once(edb, sandbox, client):
    name, token = make_user(edb)
    first = client.get("/api/wallet/bank-account", headers=bearer(token))
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"virtual_account_id", "account_number", "ifsc", "name", "upi_id"}
    assert body["virtual_account_id"].startswith("va_") and body["ifsc"][4] == "0"
    assert client.get("/api/wallet/bank-account", headers=bearer(token)).json() == body
    assert payments.existing_bank_account(edb, name) == body
