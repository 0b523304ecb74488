"""Receipts, GST invoices, credit notes and monthly statements (services/documents, docs/documents.md).

Recharges go through the real payment code against the offline Razorpay sandbox; each PDF is read back
with pypdf and its printed figures checked to the paisa; numbering runs in real processes that are
SIGKILLed at random points and at chosen steps of its protocol.
"""
from __future__ import annotations

import io
import os
import random
import re
import shutil
import signal
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from api.main import create_app
from services import accounts, clock, documents, ledger, payments, settings
from services.documents import gst, numbering, words
from services.errors import InvalidInput, NotFound
from tests.support import processes
from tests.support.children import documents as doc_workers
from tests.support.api import PASSWORD, bearer
from tests.support.payments import pay_link
from tests.support.targets import make_target

ROOT = Path(__file__).resolve().parent.parent
IST = ZoneInfo("Asia/Kolkata")
GSTIN_MH = "27AAPFU0939F1ZV"                       # a published valid GSTIN (Maharashtra)


def gstin(state: str, pan: str = "AAPFU0939F", entity: str = "1") -> str:
    first14 = f"{state}{pan}{entity}Z"
    return first14 + gst.check_character(first14)


GSTIN_KA = gstin("29", "AABCV1234K")              # the business: Karnataka


def ist(y, m, d, hh, mm) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=IST).astimezone(timezone.utc)


def text_of(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def rupees_at(text: str, label: str) -> int:
    """Paise printed after `label` on its line (`Taxable value   Rs. 847.46` -> 84746)."""
    m = re.search(rf"^{re.escape(label)}\s+-?\s*Rs\. ([\d,]+)\.(\d\d)$", text, re.M)
    assert m, f"{label!r} not in:\n{text}"
    return int(m.group(1).replace(",", "")) * 100 + int(m.group(2))


def business(db, mode: str, **extra) -> dict:
    return documents.business.update(db, {"legal_name": "Vaani Voice AI Pvt Ltd", "address": "12 MG Road\nBengaluru",
                                      "state": "29", "gstin": GSTIN_KA, "pan": "AABCV1234K", "gst_mode": mode,
                                      "sac": "998599", "signatory": "Asha Rao", **extra}, by="boss")


def customer(db, name: str, state: str | None = None, with_gstin: bool = False) -> str:
    accounts.create_user(db, name, PASSWORD, name.title(), f"{name}@example.com")
    if state:
        documents.set_profile(db, name, name=f"{name.title()} Pvt Ltd", address="1 Main Road", state=state,
                              gstin=gstin(state, "AAACX0001Q") if with_gstin else "", by=name)
    return name


# ------------------------------------------------------------------------------- words and GSTIN

@pytest.mark.parametrize("paise, text", [
    (0, "Rupees Zero Only"),
    (100, "Rupees One Only"),
    (11_800, "Rupees One Hundred Eighteen Only"),
    (12_345_650, "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Fifty Paise Only"),
    (10_000_000_00, "Rupees One Crore Only"),
    (12_34_56_789_05, ("Rupees Twelve Crore Thirty-Four Lakh Fifty-Six Thousand Seven Hundred Eighty-Nine "
                       "and Five Paise Only")),
    (10**14, "Rupees One Lakh Crore Only"),
])
def test_amounts_in_indian_words(paise, text):
    assert words.rupees_in_words(paise) == text


def test_gstin_checks_structure_state_pan_and_check_character():
    assert gst.check_gstin(" 27aapfu0939f1zv ") == GSTIN_MH
    assert gst.check_gstin(GSTIN_KA, state="29") == GSTIN_KA
    wrong = [GSTIN_MH[:14] + c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c != "V"]
    for g in wrong:    # every other check character is refused
        with pytest.raises(InvalidInput, match="check character"):
            gst.check_gstin(g)
    cases = {"27AAPFU0939F1Z": "15 characters", "99AAPFU0939F1ZV": "state code",
             "27AAPF10939F1ZV": "PAN", "27AAPFU0939F0ZV": "13th", "27AAPFU0939F1YV": "14th character of a GSTIN is Z"}
    for g, msg in cases.items():
        with pytest.raises(InvalidInput, match=msg):
            gst.check_gstin(g)
    with pytest.raises(InvalidInput, match="registered in Maharashtra"):
        gst.check_gstin(GSTIN_MH, state="29")


def test_tax_adds_up_to_the_paisa_for_every_mode_rate_and_amount():
    rnd = random.Random(12)
    for _ in range(3000):
        amount, rate = rnd.randint(1, 10_000_000), rnd.choice([500, 1200, 1800, 2800, 1801])
        for mode in gst.MODES:
            for intra in (True, False):
                t = gst.compute(mode, rate, amount, intra=intra)
                assert t.taxable + t.cgst + t.sgst + t.igst + t.round_off == t.total
                assert (t.igst == 0) if intra else (t.cgst == t.sgst == t.round_off == 0)
                assert t.cgst == t.sgst and abs(t.round_off) <= 1   # each half the rate; a paisa is round-off
                if intra and mode != "off":
                    assert t.cgst == (t.taxable * rate + 10_000) // 20_000
                assert t.wallet == amount
                if mode == "inclusive":
                    assert t.total == amount and abs(t.taxable * (10_000 + rate) - amount * 10_000) <= 10_000 + rate
                if mode == "exclusive":
                    assert t.taxable == amount and t.tax + t.round_off == gst.gst_on_top(amount, rate)
    t = gst.compute("exclusive", 1800, 50_000, intra=True)
    assert (t.taxable, t.cgst, t.sgst, t.total) == (50_000, 4_500, 4_500, 59_000)


def test_business_details_are_checked_as_a_whole(edb):
    with pytest.raises(InvalidInput, match="before turning GST on"):
        documents.business.update(edb, {"gst_mode": "inclusive"}, by="boss")
    with pytest.raises(InvalidInput, match="PAN must be the one inside the GSTIN"):
        business(edb, "inclusive", pan="AAPFU0939F")
    with pytest.raises(InvalidInput, match="registered in Maharashtra"):
        business(edb, "inclusive", gstin=GSTIN_MH)
    with pytest.raises(InvalidInput, match="prefix"):
        business(edb, "off", invoice_prefix="INVOICE")
    assert documents.business.get(edb)["gst_mode"] == "off"           # nothing was written
    b = business(edb, "exclusive", gst_rate_bp=1200)
    assert b["gst_mode"] == "exclusive" and b["gst_rate_bp"] == 1200 and b["gstin"] == GSTIN_KA
    assert {h["name"] for h in settings.history(edb) if h["scope"] == "business"} >= {"gst_mode", "gstin"}


def test_billing_profile_names_what_is_wrong(edb):
    customer(edb, "meera")
    with pytest.raises(InvalidInput, match="registered in Maharashtra"):
        documents.set_profile(edb, "meera", name="Meera", address="", state="29", gstin=GSTIN_MH, by="meera")
    with pytest.raises(InvalidInput, match="check character"):
        documents.set_profile(edb, "meera", name="Meera", address="", state="27", gstin=GSTIN_MH[:14] + "W",
                              by="meera")
    with pytest.raises(InvalidInput, match="pick a state"):
        documents.set_profile(edb, "meera", name="Meera", address="", state="", by="meera")
    assert documents.get_profile(edb, "meera")["saved"] is False
    p = documents.set_profile(edb, "meera", name="Meera Traders", address="Pune", state="27",
                              gstin=GSTIN_MH.lower(), by="meera")
    assert (p["gstin"], p["state_name"]) == (GSTIN_MH, "Maharashtra")


# ---------------------------------------------------------------- recharges through Razorpay -> PDFs

def pay(db, server, user: str, rupees: int) -> tuple[dict, dict]:
    """A recharge through a payment link, paid on the sandbox, credited by reconciliation: (link, entry)."""
    return pay_link(db, server, user, rupees)


@pytest.mark.parametrize("mode", gst.MODES)
def test_each_gst_mode_intra_and_inter_state_pdf_figures_add_up(edb, sandbox, mode):
    business(edb, mode)
    intra, inter, walkin = customer(edb, "kavya", "29", True), customer(edb, "rohan", "27", True), customer(edb, "anon")
    for user, rupees, same_state in ((intra, 1_000, True), (inter, 999, False), (walkin, 10, True)):
        link, entry = pay(edb, sandbox, user, rupees)
        remote = payments.get_link(edb, link["reference_id"], user_id=user)
        assert entry["amount"] == rupees * 100, "the wallet gets the recharge in every mode"
        charged = rupees * 100 + (gst.gst_on_top(rupees * 100, 1800) if mode == "exclusive" else 0)
        assert remote["amount_paise"] == rupees * 100 and documents.catch_up(edb, user) == 1
        doc = documents.list_documents(edb, user)[0]
        text = text_of(documents.document_pdf(doc))
        assert doc["number"] in text and f"Payment {entry['source']}" in text
        if mode == "off":
            assert doc["kind"] == "receipt" and "RECEIPT" in text and not re.search(r"CGST|IGST|Taxable", text)
            assert rupees_at(text, "Amount received") == charged
            continue
        assert doc["kind"] == "receipt_voucher" and "RECEIPT VOUCHER" in text and "Reverse charge: No" in text
        assert "Authorised signatory" in text and "Asha Rao" in text and "no signature required" not in text
        taxable, total = rupees_at(text, "Taxable value"), rupees_at(text, "Total")
        assert total == charged, "the invoice total is what the payer paid"
        if same_state:
            cgst, sgst = rupees_at(text, "CGST @ 9%"), rupees_at(text, "SGST @ 9%")
            off = rupees_at(text, "Round-off") if "Round-off" in text else 0
            assert "IGST" not in text and taxable + cgst + sgst + off == total and cgst == sgst
        else:
            assert "CGST" not in text and taxable + rupees_at(text, "IGST @ 18%") == total
        assert (taxable == rupees * 100) if mode == "exclusive" else (total == rupees * 100)
        assert doc["words"] in text.replace("\n", " ")
    numbers = sorted(d["n"] for u in (intra, inter, walkin) for d in documents.list_documents(edb, u))
    assert numbers == [1, 2, 3]
    assert ledger.audit(edb) == []


def test_exclusive_gst_is_charged_on_the_link_and_kept_out_of_the_wallet(edb, sandbox):
    business(edb, "exclusive")
    customer(edb, "kavya", "29")
    link, entry = pay(edb, sandbox, "kavya", 500)
    assert link["amount_paise"] == 50_000
    from services.payments import records
    rec = records.get(edb, link["reference_id"])
    assert rec["gst"] == {"mode": "exclusive", "rate_bp": 1800, "paise": 9_000}
    assert rec["status"] == "paid" and ledger.get_wallet(edb, "kavya").balance == 50_000
    assert entry["meta"]["gst_paise"] == 9_000 and "fee_paise" not in entry["meta"]
    assert payments.daily.mismatch(entry, {"id": entry["source"], "amount": 59_000, "status": "captured"}) is None


def test_documents_never_change_a_correction_is_a_credit_note(edb, sandbox):
    business(edb, "off")
    customer(edb, "rohan", "27")
    pay(edb, sandbox, "rohan", 1_180)
    documents.catch_up(edb, "rohan")
    inv = documents.list_documents(edb, "rohan")[0]
    documents.set_profile(edb, "rohan", name="Rohan Exports LLP", address="Nashik", state="29", by="rohan")
    assert documents.get_document(edb, inv["number"])["customer"]["name"] == "Rohan Pvt Ltd"   # as issued
    part = documents.credit_note(edb, inv["number"], reason="Billed to the wrong entity", by="boss", amount=18_000)
    cn = documents.credit_note(edb, inv["number"], reason="Billed to the wrong entity", by="boss")
    assert part["number"] == "CN/" + inv["fy"] + "/000001" and part["refers_to"] == inv["number"]
    assert cn["number"] == "CN/" + inv["fy"] + "/000002" and cn["amounts"]["total"] == 118_000 - 18_000
    with pytest.raises(InvalidInput, match="what is left"):   # nothing is left to credit
        documents.credit_note(edb, inv["number"], reason="again", by="boss")
    text = text_of(documents.document_pdf(cn))
    assert "CREDIT NOTE" in text and f"Credit note against receipt {inv['number']}" in text
    assert "Credited to the prepaid wallet" not in text, "a credit note reduces a supply; it credits no wallet"
    assert rupees_at(text, "Amount credited") == 100_000
    listed = {d["number"]: d for d in documents.list_documents(edb, "rohan")}
    assert listed[inv["number"]]["credited_by"] in (cn["number"], part["number"])
    with pytest.raises(InvalidInput):
        documents.credit_note(edb, cn["number"], reason="credit a credit note", by="boss")
    business(edb, "inclusive")
    pay(edb, sandbox, "rohan", 100)
    documents.catch_up(edb, "rohan")
    rv = documents.list_documents(edb, "rohan")[0]
    assert rv["kind"] == "receipt_voucher"
    with pytest.raises(InvalidInput, match="refund voucher"):
        documents.credit_note(edb, rv["number"], reason="an advance is not corrected by a note", by="boss")
    with pytest.raises(NotFound):
        documents.get_document(edb, inv["number"], user_id="someone-else")


# ----------------------------------------------------------------------------------------- numbering

def test_numbers_are_per_financial_year_and_at_most_16_characters(edb, monkeypatch):
    t = [ist(2027, 3, 31, 23, 59)]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    customer(edb, "fyuser")
    e1 = ledger.post(edb, "fyuser", key="r1", type="credit", category="recharge", amount=100)
    t[0] = ist(2027, 4, 1, 0, 1)
    e2 = ledger.post(edb, "fyuser", key="r2", type="credit", category="recharge", amount=100)
    d1, d2 = documents.issue_for_entry(edb, e1), documents.issue_for_entry(edb, e2)
    assert (d1["number"], d2["number"]) == ("RV/2627/000001", "RV/2728/000001")
    assert max(len(numbering.format_number("ABCD", "2728", 999_999)), len(d1["number"])) <= 16
    assert documents.issue_for_entry(edb, e1)["number"] == d1["number"]        # once per entry
    assert documents.number_of("RV-2627-000001") == "RV/2627/000001"


def _numbers_are_one_to(db, count: int) -> None:
    docs = list(db.documents.find({"kind": {"$ne": "credit_note"}}))
    assert sorted(int(d["n"]) for d in docs) == list(range(1, count + 1)), "no gap, no duplicate"
    assert len({d["entry_id"] for d in docs}) == count, "one document per recharge"
    assert all(c.get("number") for c in db.doc_claims.find({})), "every claim got its number"
    documents.recover_numbering(db)  # a worker tick drops what finished processes left in `pending`
    assert all(not s.get("pending") for s in db.doc_series.find({}))
    assert {d["entry_id"] for d in docs} == {e["_id"] for e in ledger.iter_entries(db, category="recharge")}


@pytest.mark.slow
def test_100_concurrent_recharges_in_4_processes_number_1_to_100(target):
    db, spec = target
    q = processes.warm().Queue()
    procs_ = [processes.start(doc_workers.recharge_many, spec, list(range(k, 100, 4)), 5, q) for k in range(4)]
    results = [q.get(timeout=300) for _ in procs_]
    for p in procs_:
        p.join(60)
    assert results == ["ok"] * 4, results
    assert all(c.get("number") for c in db.doc_claims.find({})), "every recharge numbered by its own process"
    documents.sweep(db)   # drops what the exited processes left in `pending` (already recorded)
    _numbers_are_one_to(db, 100)
    assert ledger.audit(db) == []


@pytest.mark.parametrize("step", ["claimed", "allocated"])
def test_a_death_at_each_step_of_numbering_is_finished_without_a_gap(edb, tmp_path, step):
    spec = {"uri": "", "name": edb.name, "path": str(tmp_path / "wallet.sqlite")}
    customer(edb, "dead")
    e1 = ledger.post(edb, "dead", key="r1", type="credit", category="recharge", amount=100)
    e2 = ledger.post(edb, "dead", key="r2", type="credit", category="recharge", amount=200)
    child = processes.start(doc_workers.die_at, spec, e1["_id"], step)
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    assert edb.doc_claims.find_one({"_id": e1["_id"]})["number"] is None   # it died mid-way
    if step == "allocated":
        assert documents.recover_numbering(edb)["documents_finished"] == 1  # the worker's recovery
    d2 = documents.issue_for_entry(edb, e2)
    d1 = documents.issue_for_entry(edb, e1)                                # adopted from the dead owner
    assert sorted([d1["n"], d2["n"]]) == [1, 2]
    assert (d1["n"] == 1) == (step == "allocated"), "an allocated number keeps its document"
    _numbers_are_one_to(edb, 2)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["embedded", "wire"])
def test_sigkill_at_random_points_while_numbering_100_recharges(kind, tmp_path, request):
    """A child credits and numbers 100 recharges (see below) from 4 threads; it is SIGKILLed at random moments inside
    the burst 12 times, restarted each time (a retry of the same payments), then recovered. 160 on the embedded
    engine, whose writes got faster: a burst of 100 leaves too little room for 12 kills (a 24-refund burst
    ran out before its third kill)."""
    db, spec = make_target(kind, tmp_path, request)
    n = 160 if kind == "embedded" else 100
    rnd = random.Random(11)
    kills = 0
    while kills < 12:
        p = processes.start(doc_workers.recharge_many, spec, list(range(n)), 4)
        # Once it has numbered a few more recharges since this start, a random moment later: inside the
        # numbering of others, never in its start-up.
        goal, deadline = db.documents.count_documents({}) + rnd.randint(1, 4), time.monotonic() + 60
        while p.is_alive() and db.documents.count_documents({}) < goal:
            assert time.monotonic() < deadline, "the burst made no progress"
            time.sleep(0.01)
        time.sleep(rnd.uniform(0, 0.05))
        if not processes.kill(p):
            break  # it numbered all 100 before this kill: too few kills, said below
        kills += 1
        if kills % 3 == 0:
            documents.recover_numbering(db)  # the worker's tick, now and then, beside the restarts
    assert kills == 12, f"the burst ended after {kills} kills"
    last = processes.start(doc_workers.recharge_many, spec, list(range(n)), 4)
    last.join(300)
    assert last.exitcode == 0
    documents.sweep(db)
    _numbers_are_one_to(db, n)
    assert ledger.audit(db) == []


def test_the_sweep_issues_what_the_payment_path_never_asked_for(edb, monkeypatch):
    """The hook is the ledger: a recharge credited by any path gets its document from the worker's sweep,
    also for a customer whose recharge is older than the wallet's live days."""
    real, t = clock.now, [ist(2026, 10, 1, 12, 0)]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    customer(edb, "sweepy")
    ledger.post(edb, "sweepy", key="old", type="credit", category="recharge", amount=700)
    for i in range(5):
        ledger.post(edb, "sweepy", key=f"call{i}", type="debit", category="call", amount=10)
    t[0] = real()
    ledger.post(edb, "sweepy", key="new", type="credit", category="recharge", amount=900)
    out = documents.sweep(edb)
    assert out["recharges_looked_at"] == 2
    assert [d["amounts"]["total"] for d in documents.list_documents(edb, "sweepy")] == [900, 700]
    assert documents.sweep(edb)["recharges_looked_at"] == 0      # progress remembered


# ------------------------------------------------------------------------------------------ statements

def test_statement_agrees_with_the_ledger_at_the_month_boundaries(edb, monkeypatch):
    t = [ist(2026, 10, 31, 9, 0)]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    customer(edb, "stmt", "27")

    def at(y, m, d, hh, mm):
        t[0] = ist(y, m, d, hh, mm)

    ledger.post(edb, "stmt", key="oct", type="credit", category="recharge", amount=50_000, source="pay_oct")
    at(2026, 11, 1, 0, 1)     # 31 Oct 18:31 UTC: already November in India
    ledger.post(edb, "stmt", key="nov1", type="credit", category="recharge", amount=100_000, source="pay_nov1")
    ledger.post(edb, "stmt", key="c1", type="debit", category="call", amount=2_500, meta={"seconds": 150})
    ledger.post(edb, "stmt", key="c2", type="debit", category="campaign", amount=1_000, meta={"seconds": 60})
    ledger.post(edb, "stmt", key="ref", type="credit", category="refund", amount=500, note="Dropped call")
    ledger.post(edb, "stmt", key="adj", type="debit", category="adjustment", amount=300, note="Correction")
    at(2026, 11, 30, 23, 59)
    ledger.post(edb, "stmt", key="c3", type="debit", category="call", amount=700, meta={"seconds": 42})
    end_of_november = ledger.get_wallet(edb, "stmt").balance
    at(2026, 12, 1, 0, 1)
    ledger.post(edb, "stmt", key="dec", type="debit", category="call", amount=100, meta={"seconds": 6})
    documents.catch_up(edb, "stmt")

    nov = documents.monthly(edb, "stmt", "2026-11")
    assert nov["opening"] == 50_000 and nov["closing"] == end_of_november == 146_000
    assert [r["amount"] for r in nov["recharges"]] == [100_000] and nov["recharges"][0]["reference"]
    assert {u["label"]: (u["count"], u["seconds"], u["amount"]) for u in nov["usage"]} == {
        "Calls": (2, 192, 3_200), "Campaign calls": (1, 60, 1_000)}
    assert [(o["label"], o["type"], o["amount"]) for o in nov["other"]] == [
        ("Refund credited", "credit", 500), ("Adjustment", "debit", 300)]
    assert nov["to_date"] is False and nov["last_day"] == "2026-11-30"
    dec = documents.monthly(edb, "stmt", "2026-12")
    assert dec["opening"] == nov["closing"] and dec["closing"] == ledger.get_wallet(edb, "stmt").balance
    assert dec["to_date"] is True
    oct_ = documents.monthly(edb, "stmt", "2026-10")
    assert (oct_["opening"], oct_["closing"]) == (0, 50_000)
    # the PDF and the CSV say the same, to the paisa
    text = text_of(documents.statement_pdf(nov))
    assert rupees_at(text, "Opening balance") == 50_000 and rupees_at(text, "Closing balance") == 146_000
    assert "Period: 01 Nov 2026 to 30 Nov 2026" in text and "Calls: 2 (3 min 12 s)" in text
    assert "01 Nov 2026, 00:01 Recharge" in text
    lines = documents.statement_csv(nov).splitlines()
    assert lines[1].startswith("opening,2026-11-01T00:00:00+05:30,") and lines[1].endswith(",500.00")
    assert lines[-1].endswith(",1005.00,45.00,1460.00")
    # One list in the order things happened: each balance follows from the one before, never a jump.
    assert [(x["label"], x["amount"]) for x in nov["lines"]] == [
        ("Recharge", 100_000), ("Calls", 2_500), ("Campaign calls", 1_000), ("Refund credited", 500),
        ("Adjustment", 300), ("Calls", 700)]
    bal = nov["opening"]
    for x in nov["lines"]:
        bal += x["amount"] if x["type"] == "credit" else -x["amount"]
        assert x["balance_after"] == bal, x
    assert dec["last_day"] == "2026-12-01"  # the month to date runs to today, not to the 31st
    assert "Period: 01 Dec 2026 to 01 Dec 2026 (month to date)" in text_of(documents.statement_pdf(dec))
    with pytest.raises(InvalidInput, match="not begun"):
        documents.monthly(edb, "stmt", "2027-01")
    with pytest.raises(InvalidInput, match="2026-12"):
        documents.monthly(edb, "stmt", "2026-13")


def test_statement_says_what_each_refund_was(edb, monkeypatch):
    """A refund to the bank, an amount due paid from a later recharge, a failed refund given back: each
    named as what it is (not "Refund Razorpay refund"), with the refund's id as its reference."""
    t = [ist(2026, 12, 7, 10, 0)]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    customer(edb, "rfd", "27")
    ledger.post(edb, "rfd", key="r1", type="credit", category="recharge", amount=10_000, source="pay_1")
    ledger.post(edb, "rfd", key="c1", type="debit", category="call", amount=6_000, meta={"seconds": 360})
    ledger.debit_owing(edb, "rfd", key="razorpay-refund:rfnd_1", amount=5_000, source="rfnd_1",
                       note="Razorpay refund")  # Rs. 40 taken, Rs. 10 due
    ledger.post(edb, "rfd", key="r2", type="credit", category="recharge", amount=2_000, source="pay_2")
    ledger.post(edb, "rfd", key="razorpay-refund-failed:rfnd_2", type="credit", category="refund", amount=700,
                source="rfnd_2", note="Razorpay refund failed: returned")
    dec = documents.monthly(edb, "rfd", "2026-12")
    assert [(x["label"], x["reference"], x["amount"]) for x in dec["lines"] if x["label"] != "Recharge"] == [
        ("Calls", "", 6_000), ("Refund to your bank", "rfnd_1 (Rs. 10.00 became due)", 4_000),
        ("Amount due paid", "", 1_000), ("Refund failed, returned to the wallet", "rfnd_2", 700)]
    text = text_of(documents.statement_pdf(dec))
    assert "Refund to your bank rfnd_1" in text and "Razorpay refund" not in text
    assert "Period: 01 Dec 2026 to 07 Dec 2026 (month to date)" in text


# -------------------------------------------------------------------------------------------- API

def test_api_lists_receipts_and_serves_pdfs_and_statements(edb, sandbox):
    business(edb, "inclusive")
    customer(edb, "apiuser", "29")
    customer(edb, "other")
    pay(edb, sandbox, "apiuser", 250)
    with TestClient(create_app(db=edb)) as client:
        def login(u):
            return bearer(client.post("/api/auth/login", json={"username": u, "password": PASSWORD}).json()["token"])
        h, other = login("apiuser"), login("other")
        got = client.get("/api/receipts", headers=h).json()["receipts"]     # issued on demand
        assert len(got) == 1 and got[0]["total_paise"] == 25_000 and got[0]["total"] == 250
        assert got[0]["taxable_paise"] + got[0]["cgst_paise"] + got[0]["sgst_paise"] == 25_000
        r = client.get(got[0]["pdf_url"], headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert got[0]["number"] in text_of(r.content)
        assert client.get(got[0]["pdf_url"], headers=other).status_code == 404
        month = clock.today().strftime("%Y-%m")
        r = client.get(f"/api/statements/{month}.pdf", headers=h)
        assert r.status_code == 200 and rupees_at(text_of(r.content), "Closing balance") == 25_000
        r = client.get(f"/api/statements/{month}.csv", headers=h)
        assert r.status_code == 200 and r.text.splitlines()[-1].endswith(",250.00")
        assert client.get("/api/statements/2026-13.pdf", headers=h).status_code == 400
        assert client.get("/api/receipts/RV-2627-999999.pdf", headers=h).status_code == 404


# ------------------------------------------------------------------------------- README pictures

def test_a_receipt_and_a_statement_render_to_png(edb, tmp_path, monkeypatch):
    """The pictures in the README: a GST invoice and a month's statement, rendered with pdfium."""
    pdfium = pytest.importorskip("pypdfium2")
    t = [ist(2026, 11, 3, 10, 12)]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    business(edb, "inclusive", address="4th Floor, 12 MG Road\nBengaluru 560001")
    customer(edb, "meera", "27", True)
    documents.set_profile(edb, "meera", name="Meera Traders LLP", address="21 FC Road\nPune 411004", state="27",
                          gstin=GSTIN_MH, by="meera")
    e = ledger.post(edb, "meera", key="razorpay:pay_Nx81", type="credit", category="recharge", amount=118_000,
                    source="pay_Nx81ZkQm2Lp9Aa", meta={"reference_id": "wr_demo"})
    for i, (d, cat, amt, secs) in enumerate([(5, "call", 4_250, 255), (9, "campaign", 31_500, 1_890),
                                             (14, "call", 1_170, 70), (21, "campaign", 12_000, 720)]):
        t[0] = ist(2026, 11, d, 11, 30)
        ledger.post(edb, "meera", key=f"u{i}", type="debit", category=cat, amount=amt, meta={"seconds": secs})
    t[0] = ist(2026, 11, 22, 16, 5)
    ledger.post(edb, "meera", key="rf", type="credit", category="refund", amount=1_500, note="Dropped call")
    t[0] = ist(2026, 12, 2, 9, 0)
    documents.issue_for_entry(edb, e)
    inv = documents.list_documents(edb, "meera")[0]
    out = {"receipt": documents.document_pdf(inv), "statement": documents.statement_pdf(
        documents.monthly(edb, "meera", "2026-11"))}
    for name, pdf in out.items():
        png = tmp_path / f"{name}.png"
        pdfium.PdfDocument(pdf)[0].render(scale=1.4).to_pil().save(png)
        assert png.stat().st_size > 10_000
        if os.environ.get("UPDATE_SCREENSHOTS"):
            shutil.copy(png, ROOT / "docs" / "screenshots" / f"{name}.png")
