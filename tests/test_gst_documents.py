"""GST documents of a prepaid wallet, a month at a time (issue 26; docs/documents.md, "The advance model").

Recharges go through the real payment code against the offline Razorpay sandbox (links in both modes, an
order, an auto-recharge by e-mandate through the worker and its 25-hour notice), refunds through the real
refund code as the webhook and reconciliation report them, calls are ledger debits drawing on lots. Every
figure below is worked out by hand in the comments, not read back from the code under test.
"""
from __future__ import annotations

import io
import json
import random
import re
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from api.main import create_app

from services import accounts, autorecharge, clock, documents, ledger, payments, settings
from services.autorecharge import charges, mandates
from services.documents import gstr1, signing
from services.errors import InvalidInput
from services.payments import gateway, refunds
from tests.support import processes
from tests.support.children import documents as doc_workers
from tests.support.autorecharge import wait_for
from tests.support.payments import control, pay_link
from tests.support.targets import make_target

ROOT = Path(__file__).resolve().parent
IST = ZoneInfo("Asia/Kolkata")
BUSINESS_GSTIN = "29AABCV1234K1Z9"     # Karnataka
ASHA_GSTIN = "29AAACX0001Q1Z9"         # a registered customer in Karnataka: intra-State, B2B


def ist(y, m, d, hh, mm) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=IST).astimezone(timezone.utc)


def business(db, mode: str) -> None:
    documents.business.update(db, {"legal_name": "Vaani Voice AI Pvt Ltd", "address": "12 MG Road\nBengaluru",
                                   "state": "29", "gstin": BUSINESS_GSTIN, "pan": "AABCV1234K", "gst_mode": mode,
                                   "sac": "998599", "signatory": "Asha Rao"}, by="boss")


def customers(db) -> None:
    accounts.create_user(db, "asha", "password-1", "Asha", "asha@example.com")
    documents.set_profile(db, "asha", name="Asha Traders Pvt Ltd", address="3 Residency Road, Bengaluru",
                          state="29", gstin=ASHA_GSTIN, by="asha")
    accounts.create_user(db, "ravi", "password-1", "Ravi", "ravi@example.com")
    documents.set_profile(db, "ravi", name="Ravi Kumar", address="Pune", state="27", gstin="", by="ravi")


def travel(monkeypatch, sandbox, start: datetime) -> list:
    """Our clock and the sandbox's both at `start`; returns the cell to move them on."""
    t = [start]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    sandbox.sandbox.clock = lambda: t[0].timestamp()
    return t


def text_of(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def printed(text: str, label: str) -> int:
    m = re.search(rf"^{re.escape(label)}\s+-?\s*Rs\. ([\d,]+)\.(\d\d)$", text, re.M)
    assert m, f"{label!r} not in:\n{text}"
    return int(m.group(1).replace(",", "")) * 100 + int(m.group(2))


def figures(doc: dict) -> tuple:
    a = doc["amounts"]
    return a["taxable"], a["cgst"], a["sgst"], a["igst"], a["total"]


def auto_recharge(db, sandbox, t: list, user: str) -> dict:
    """The customer's e-mandate set up, approved on the hosted page (no authorisation payment for net
    banking: services.autorecharge.setup.AUTH_AMOUNT) and confirmed by the bank a day later; calls bring
    the wallet below its threshold, and the worker does the rest as in production: the order and the
    pre-debit notice, then, the 25-hour notice later, the recurring debit, read back and credited."""
    autorecharge.configure(db, user, threshold=100, amount=300, monthly_cap=300, method="emandate",
                           contact="9812345678")
    url = autorecharge.status(db, user)["mandate"]["authorisation_url"]
    r = httpx.post(url + "/approve", timeout=10, trust_env=False)
    assert r.status_code == 200, r.text
    def worker(step: timedelta):
        def tick():  # the worker's passes, the clock moving on between them (it waits between checks)
            t[0] += step
            autorecharge.run(db)
        return tick

    token = wait_for(lambda: mandates.get(db, user)["token_id"], tick=worker(timedelta(minutes=1)))
    t[0] += timedelta(days=1)
    control(sandbox, f"tokens/{token}/confirm")                         # the bank confirms the e-mandate
    wait_for(lambda: autorecharge.status(db, user)["state"] == "active", tick=worker(timedelta(hours=1)))
    calls(db, user, 11, 100)                                            # Rs. 80 left: below Rs. 100
    autorecharge.run(db)
    charge = charges.get(db, mandates.get(db, user)["in_flight"])
    assert charge["state"] == "notified" and charge["amount_paise"] == 30_000
    assert ledger.get_wallet(db, user).balance == 8_000, "nothing is debited during the notice"
    t[0] += timedelta(hours=26)
    # Razorpay debits an e-mandate in the 25th hour after the recurring payment is made (no notification on
    # its order): the worker reads the outcome as the hours pass.
    wait_for(lambda: charges.get(db, charge["_id"])["state"] == "credited", tick=worker(timedelta(hours=1)))
    assert ledger.get_wallet(db, user).balance == 38_000
    return charges.get(db, charge["_id"])


def calls(db, user: str, n: int, rupees: int, first: int = 0) -> None:
    for i in range(first, first + n):
        ledger.post(db, user, key=f"{user}-call-{i}", type="debit", category="call", amount=rupees * 100,
                    meta={"seconds": 600})


def a_month(db, sandbox, monkeypatch) -> dict:
    """November 2026 at Vaani (Karnataka), then its invoices on 2 December and a correction."""
    t = travel(monkeypatch, sandbox, ist(2026, 11, 10, 10, 0))
    business(db, "exclusive")
    customers(db)
    _, asha_link = pay_link(db, sandbox, "asha", 1_000)                # pays 1,180: 1,000 + 18 % on top
    documents.catch_up(db, "asha")
    business(db, "inclusive")
    pay_link(db, sandbox, "ravi", 1_180)                                # pays 1,180, GST inside
    documents.catch_up(db, "ravi")
    business(db, "exclusive")
    order = payments.create_order(db, "asha", 500)                      # an order: 500 + 18 % on top as well
    assert (order["amount_paise"], order["charged_paise"]) == (50_000, 59_000)
    paid = control(sandbox, f"orders/{order['order_id']}/pay")
    payments.verify_order_payment(db, "asha", paid["razorpay_order_id"], paid["razorpay_payment_id"],
                                  paid["razorpay_signature"])
    documents.catch_up(db, "asha")
    topup = auto_recharge(db, sandbox, t, "ravi")                      # 11 calls, then 300 two days later
    documents.catch_up(db, "ravi")
    ledger.post(db, "asha", key="asha-promo", type="credit", category="promo_credit", amount=10_000)
    t[0] = ist(2026, 11, 20, 12, 0)
    # Asha's bank gets 700 of her first recharge back with its GST: Razorpay refunds 826 (duplicate webhooks).
    refund = {"id": "rfnd_AshaRefund00001", "payment_id": asha_link["source"], "amount": 82_600, "status": "pending"}
    for event in ("refund.created", "refund.created", "refund.processed"):
        refunds.record(db, refund, {"captured": True}, source="webhook", event=event)
    t[0] = ist(2026, 11, 25, 15, 0)
    calls(db, "asha", 4, 100)     # promotional 100 first, then 300 of the oldest advance (RV 1)
    calls(db, "ravi", 2, 100, 11)  # 13 calls in all: 1,180 of RV 2, then 120 of RV 4
    documents.sweep(db)
    t[0] = ist(2026, 12, 2, 9, 0)
    assert documents.issue_invoices(db) == {"invoices": 2}               # the worker, early in December
    assert documents.issue_invoices(db) == {"invoices": 0}               # once per month
    invoice = {d["user_id"]: d for d in db.documents.find({"kind": "tax_invoice"})}
    note = documents.credit_note(db, invoice["ravi"]["number"], reason="A dropped call billed twice", by="boss",
                                 amount=11_800)
    return {"invoice": invoice, "note": note, "topup": topup, "docs": {d["number"]: d for d in db.documents.find({})}}


def test_a_month_of_advances_invoices_refunds_and_a_correction_to_the_paisa(edb, sandbox, monkeypatch):
    m = a_month(edb, sandbox, monkeypatch)
    docs = m["docs"]
    rv = [docs[f"RV/2627/00000{i}"] for i in range(1, 5)]
    assert [d["kind"] for d in rv] == ["receipt_voucher"] * 4
    assert sum(d["kind"] == "receipt_voucher" for d in docs.values()) == 4
    assert rv[3]["user_id"] == "ravi" and rv[3]["payment_id"] == m["topup"]["payment_id"], "RV 4: the auto-recharge"
    # Each receipt voucher's GST is the GST on that advance, under the terms it was received with.
    assert figures(rv[0]) == (100_000, 9_000, 9_000, 0, 118_000)       # 1,000 + 18 % on top, intra-State
    assert figures(rv[1]) == (100_000, 0, 0, 18_000, 118_000)          # 1,180 with GST inside, inter-State
    assert figures(rv[2]) == (50_000, 4_500, 4_500, 0, 59_000)         # the order: 500 + 18 % on top
    assert figures(rv[3]) == (25_424, 0, 0, 4_576, 30_000)             # 300 / 1.18 = 254.2373 -> 254.24
    # One refund voucher, however many webhooks: 700 of RV 1 and the 126 of GST on it go back.
    rf = [d for d in docs.values() if d["kind"] == "refund_voucher"]
    assert [d["number"] for d in rf] == ["RF/2627/000001"]
    assert figures(rf[0]) == (70_000, 6_300, 6_300, 0, 82_600) and rf[0]["refers_to"] == "RV/2627/000001"
    assert refunds.get(edb, "rfnd_AshaRefund00001")["debited_paise"] == 70_000, "the wallet gives only its part"
    # The invoices adjust exactly the advances used; promotional credit is a discount, not a supply.
    asha, ravi = m["invoice"]["asha"], m["invoice"]["ravi"]
    assert (asha["number"], ravi["number"], asha["date"]) == ("TI/2627/000001", "TI/2627/000002", "2026-12-02")
    assert asha["discount"] == 10_000 and asha["lines"][0]["amount"] == 40_000 and asha["lines"][0]["count"] == 4
    assert [(a["receipt_voucher"], a["taxable"], a["cgst"], a["sgst"], a["total"]) for a in asha["advances"]] == [
        ("RV/2627/000001", 30_000, 2_700, 2_700, 35_400)]
    assert figures(asha) == (30_000, 2_700, 2_700, 0, 35_400) and asha["payable"]["tax"] == 0
    assert [(a["receipt_voucher"], a["taxable"], a["igst"], a["total"]) for a in ravi["advances"]] == [
        ("RV/2627/000002", 100_000, 18_000, 118_000), ("RV/2627/000004", 10_169, 1_831, 12_000)]
    assert figures(ravi) == (110_169, 0, 0, 19_831, 130_000) and ravi["payable"]["tax"] == 0
    # The correction: 118 of ravi's invoice, GST inside at its rate and split.
    note = m["note"]
    assert (note["number"], note["refers_to"]) == ("CN/2627/000001", ravi["number"])
    assert figures(note) == (10_000, 0, 0, 1_800, 11_800)
    # CGST = SGST on every intra-State document.
    for d in docs.values():
        if d["gst"]["intra"] and d["gst"]["mode"] != "off":
            assert d["amounts"]["cgst"] == d["amounts"]["sgst"] and d["amounts"]["igst"] == 0, d["number"]
    # GST of receipt vouchers - refund vouchers + invoice GST not covered by advances - credit notes
    # = what the two months' GSTR-1 report.
    nov, dec = gstr1.build(edb, "2026-11"), gstr1.build(edb, "2026-12")
    received = sum(d["amounts"]["tax"] for d in rv) - rf[0]["amounts"]["tax"]
    assert received == 49_576 - 12_600 == gstr1.tax_reported(nov)
    uncovered = asha["payable"]["tax"] + ravi["payable"]["tax"]
    assert uncovered - note["amounts"]["tax"] == -1_800 == gstr1.tax_reported(dec)
    # The GSTR-1 JSON equals the hand-written files.
    for month, got in (("2026-11", nov), ("2026-12", dec)):
        want = json.loads((ROOT / "fixtures" / "gst" / f"gstr1-{month}.json").read_text())
        want.pop("_comment")
        assert json.loads(json.dumps(got)) == want, month
    lines = gstr1.section_csv(dec, "b2cs").splitlines()
    assert lines == ["sply_ty,typ,pos,rt,txval,iamt,camt,samt,csamt", "INTER,OE,27,18.0,1001.69,180.31,0.0,0.0,0"]
    # Every PDF prints what the document holds, signed off by the authorised signatory.
    for d in [*rv, rf[0], asha, ravi, note]:
        text = text_of(documents.document_pdf(documents.get_document(edb, d["number"])))
        assert d["number"] in text and "Authorised signatory" in text and "Reverse charge: No" in text
        assert printed(text, "Total") == d["amounts"]["total"]
        assert printed(text, "Taxable value") == d["amounts"]["taxable"]
    assert ledger.audit(edb) == []
    served(edb, nov)


def served(db, nov: dict) -> None:
    """The same month through the API: each document's kind, the business details, GSTR-1 and its CSV."""
    accounts.create_user(db, "boss", "password-1", "Boss", "boss@example.com", "admin")
    with TestClient(create_app(db=db)) as client:
        def login(u):
            r = client.post("/api/auth/login", json={"username": u, "password": "password-1"})
            return {"Authorization": f"Bearer {r.json()['token']}"}
        asha, boss = login("asha"), login("boss")
        kinds = sorted(d["kind"] for d in client.get("/api/receipts", headers=asha).json()["receipts"])
        assert kinds == ["receipt_voucher", "receipt_voucher", "refund_voucher", "tax_invoice"]
        assert client.get("/api/admin/business", headers=asha).status_code == 403
        r = client.put("/api/admin/business", headers=boss, json={"state_code": "29", "signatory": "B. Rao"})
        assert r.status_code == 200 and (r.json()["state_code"], r.json()["signatory"]) == ("29", "B. Rao")
        bad = client.put("/api/admin/business", headers=boss, json={"sac": "123456"})
        assert bad.status_code == 400 and "SAC" in bad.json()["error"]["message"]
        r = client.get("/api/admin/gst/gstr1/2026-11.json", headers=boss)
        assert r.status_code == 200 and r.json() == json.loads(json.dumps(nov))
        r = client.get("/api/admin/gst/gstr1/2026-11/at.csv", headers=boss)
        assert r.status_code == 200 and r.text.splitlines()[1:] == [
            "27,INTER,18.0,1254.24,225.76,0.0,0.0,0", "29,INTRA,18.0,800.0,0.0,72.0,72.0,0"]


def test_an_invoice_only_for_a_closed_month_and_nothing_when_gst_is_off(edb):
    accounts.create_user(edb, "neha", "password-1", "Neha", "neha@example.com")
    with pytest.raises(InvalidInput, match="has not ended"):
        documents.invoices.issue(edb, "neha", clock.today().strftime("%Y-%m"))
    assert documents.invoices.issue(edb, "neha", "2026-01") is documents.invoices.NOTHING
    with pytest.raises(InvalidInput, match="SAC"):
        documents.business.update(edb, {"legal_name": "X Pvt Ltd", "address": "Bengaluru", "state": "29",
                                        "gstin": BUSINESS_GSTIN, "gst_mode": "inclusive"}, by="boss")
    assert set(documents.business.missing(edb)) >= {"sac", "signatory", "gstin"}


# ------------------------------------------------------------------------------ every refund path

def test_every_refund_path_issues_its_refund_voucher_once(edb, sandbox, monkeypatch):
    """Webhook (duplicated), reconciliation, self-serve and a self-serve request an admin approved: one
    voucher per refund, numbered 1-4 with no gap, each returning the GST of its part."""
    business(edb, "exclusive")
    customers(edb)
    _, entry = pay_link(edb, sandbox, "asha", 1_000)
    documents.catch_up(edb, "asha")
    pid, cfg = entry["source"], gateway.required()
    refund = gateway.refund_payment(cfg, pid, {"amount": 11_800}, idempotency_key="webhook-refund-1")
    for event in ("refund.created", "refund.processed", "refund.created"):   # as its webhooks report it
        refunds.record(edb, refund, {"captured": True}, source="webhook", event=event)
        documents.catch_up(edb, "asha")
    gateway.refund_payment(cfg, pid, {"amount": 23_600}, idempotency_key="dashboard-refund-1")  # no webhook
    refunds.sync_payment(edb, cfg, {"id": pid})                          # reconciliation finds it
    refunds.sync_payment(edb, cfg, {"id": pid})
    payments.request_refund(edb, "asha", 30, key="self-1")               # 30 + 5.40 back to the bank
    settings.set_value(edb, "refund_approval_required", 1, by="boss")
    waiting = payments.request_refund(edb, "asha", 40, key="self-2")
    payments.approve_refund_request(edb, waiting["request_id"], by="boss")
    documents.sweep(edb)
    documents.sweep(edb)
    vouchers = sorted((d for d in edb.documents.find({"kind": "refund_voucher"})), key=lambda d: d["n"])
    assert [d["n"] for d in vouchers] == [1, 2, 3, 4]
    assert [(d["amounts"]["wallet"], d["amounts"]["cgst"], d["amounts"]["sgst"], d["amounts"]["total"])
            for d in vouchers] == [(10_000, 900, 900, 11_800), (20_000, 1_800, 1_800, 23_600),
                                   (3_000, 270, 270, 3_540), (4_000, 360, 360, 4_720)]
    assert {d["refers_to"] for d in vouchers} == {"RV/2627/000001"}
    sent = sorted(p["amount"] for p in sandbox.sandbox.refunds.values())
    assert sent == [3_540, 4_720, 11_800, 23_600], "the payer gets the GST of each part back"
    assert ledger.get_wallet(edb, "asha").balance == 100_000 - 10_000 - 20_000 - 3_000 - 4_000


N_REFUNDS = 60  # of Rs. 10 + GST each, from the Rs. 1,000 recharge refund_setup makes


def test_refund_vouchers_survive_kill_9_with_no_gap(tmp_path, request):
    """A child records 60 refunds (each webhook twice) and issues their vouchers from 3 threads; it is
    SIGKILLed at random moments 5 times and restarted; then recovery: vouchers 1-60, one per refund. (With 24,
    a clean-clone run's child finished them all before its third kill once writes got faster.)"""
    edb, spec = make_target("embedded", tmp_path, request)
    business(edb, "exclusive")
    doc_workers.refund_setup(edb)
    rnd = random.Random(26)
    kills = 0
    while kills < 5:
        p = processes.start(doc_workers.refund_many, spec, list(range(N_REFUNDS)), 3)
        goal, deadline = edb.documents.count_documents({"kind": "refund_voucher"}) + rnd.randint(1, 3), \
            time.monotonic() + 60
        while p.is_alive() and edb.documents.count_documents({"kind": "refund_voucher"}) < goal:
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.01)
        time.sleep(rnd.uniform(0, 0.03))
        if not processes.kill(p):
            break
        kills += 1
    assert kills == 5, f"the burst ended after {kills} kills"
    last = processes.start(doc_workers.refund_many, spec, list(range(N_REFUNDS)), 3)
    last.join(120)
    assert last.exitcode == 0
    documents.sweep(edb)
    vouchers = list(edb.documents.find({"kind": "refund_voucher"}))
    assert sorted(int(d["n"]) for d in vouchers) == list(range(1, N_REFUNDS + 1))
    assert len({d["entry_id"] for d in vouchers}) == N_REFUNDS and all(d["amounts"]["total"] == 1_180 for d in vouchers)
    assert ledger.audit(edb) == []


# ------------------------------------------------------------------------------------- signature

def test_a_document_signed_with_the_admins_dsc_verifies(edb, tmp_path, monkeypatch):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    root = doc_workers.test_certificate(tmp_path / "dsc.p12", "dsc-password")
    monkeypatch.setenv("WALLET_DSC_FILE", str(tmp_path / "dsc.p12"))
    monkeypatch.setenv("WALLET_DSC_PASSWORD", "dsc-password")
    business(edb, "inclusive")
    customers(edb)
    e = ledger.post(edb, "ravi", key="pay_sig", type="credit", category="recharge", amount=50_000)
    doc = documents.issue_for_entry(edb, e)
    assert signing.configured()
    signed = documents.document_pdf(doc)
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(signed)).embedded_signatures[0],
                                    ValidationContext(trust_roots=[root]))
    assert status.intact and status.valid and status.trusted
    (tmp_path / "signed.pdf").write_bytes(signed)
    pdfsig = subprocess.run(["pdfsig", str(tmp_path / "signed.pdf")], check=False, capture_output=True, text=True,
                            timeout=30)
    assert "Signature is Valid" in pdfsig.stdout, pdfsig.stdout
    assert printed(text_of(signed), "Total") == 50_000
    monkeypatch.setenv("WALLET_DSC_PASSWORD", "wrong")
    with pytest.raises(InvalidInput, match="DSC"):
        documents.document_pdf(doc)


def test_an_unregistered_recharge_of_rs_50000_asks_for_the_recipient_first(edb, sandbox):
    business(edb, "exclusive")
    accounts.create_user(edb, "bulk", "password-1", "Bulk Buyer", "bulk@example.com")
    for make in (payments.create_payment_link, payments.create_order):
        with pytest.raises(InvalidInput, match="50,000 or more names the recipient"):
            make(edb, "bulk", 50_000)
    assert edb.payment_links.count_documents({"user_id": "bulk"}) == 0, "nothing written"
    payments.create_payment_link(edb, "bulk", 49_999)                   # below: no details needed
    documents.set_profile(edb, "bulk", name="Bulk Buyer", address="7 Park Street, Kolkata", state="19", by="bulk")
    assert payments.create_order(edb, "bulk", 50_000)["charged_paise"] == 5_900_000


def test_the_months_invoices_read_only_wallets_changed_since_it_began(edb, monkeypatch):
    """The monthly invoices' step asks for the wallets the ledger's feed has changed since the month began
    (a wallet with usage in it did), not every wallet; a customer quiet since October is not read."""
    from services.documents import invoices
    t = [ist(2026, 10, 20, 12, 0)]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    for u in ("quiet", "busy"):
        accounts.create_user(edb, u, "password-1", u.title(), f"{u}@example.com")
        ledger.post(edb, u, key=f"r-{u}", type="credit", category="recharge", amount=50_000)
    t[0] = ist(2026, 11, 14, 12, 0)
    ledger.post(edb, "busy", key="call-1", type="debit", category="call", amount=1_000, meta={"seconds": 60})
    t[0] = ist(2026, 12, 2, 9, 0)
    asked: list[str] = []
    monkeypatch.setattr(invoices, "issue", lambda db, uid, month: asked.append(uid) or invoices.NOTHING)
    assert invoices.issue_month(edb, "2026-11") == {"invoices": 0}
    assert asked == ["busy"]
