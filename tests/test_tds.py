"""TDS (section 194J / 393): a customer deducting TDS pays net of it; the wallet gets the cash at once and
the deducted part after their Form 16A for the quarter is verified, once; the quarter's report shows it.

Must show: a TDS customer pays Rs. 98,000 for a Rs. 1,00,000 recharge: the wallet gets Rs. 98,000 at once
and the Rs. 2,000 after the Form 16A is verified, once; the audit stays clean; the quarter's report shows it."""
from __future__ import annotations

import base64
from datetime import date, timedelta

import pytest

from scripts import worker
from services import clock, ledger, tds, tokens
from services.errors import Conflict, InvalidInput
from tests.support.api import bearer, make_user
from tests.support.payments import pay_link, race

PDF = b"%PDF-1.4\n% Form 16A (test)\n%%EOF\n"


def test_quarters_and_the_deduction_in_integer_paise():
    assert tds.quarter_of(date(2026, 4, 1)) == "2026-27 Q1" and tds.quarter_of(date(2026, 12, 31)) == "2026-27 Q3"
    assert tds.quarter_of(date(2027, 3, 31)) == "2026-27 Q4" and tds.quarter_of(date(2099, 7, 1)) == "2099-00 Q2"
    assert tds.deducted(9_800_000, 200) == 200_000  # Rs. 98,000 net of 2 %: Rs. 2,000 of a Rs. 1,00,000 recharge
    assert tds.deducted(100, 200) == 2 and tds.deducted(4_900, 200) == 100
    assert tds.claim_closes("2026-27 Q3") == date(2027, 9, 30)
    for bad in ("2026-28 Q1", "2026-27 Q5", "2026/27 Q1", None):
        with pytest.raises(InvalidInput):
            tds.check_quarter(bad)


def test_must_show_98000_paid_net_of_tds_then_2000_after_form_16a_once(env, server):
    tds.set_customer(env, "alice", tds.DEFAULT_RATE_BP)
    pay_link(env, server, "alice", 98_000)
    assert ledger.get_wallet(env, "alice").balance == 9_800_000  # the cash, at once
    worker.tick(env)
    quarter = tds.quarter_of(clock.today())
    assert tds.outstanding(env, "alice", quarter) == 200_000 and tds.sweep(env) == 0  # recorded once
    with pytest.raises(InvalidInput):
        tds.submit(env, "alice", quarter=quarter, certificate="ABCD1234", amount_paise=200_000, pdf=b"not a pdf")
    cert = tds.submit(env, "alice", quarter=quarter, certificate="abcd1234", amount_paise=200_000, pdf=PDF)
    with pytest.raises(Conflict):
        tds.submit(env, "alice", quarter=quarter, certificate="ABCD1234", amount_paise=200_000, pdf=PDF)
    assert ledger.get_wallet(env, "alice").balance == 9_800_000  # nothing before an admin verifies it
    outs = race(*[lambda: tds.verify(env, cert["id"], by="boss") for _ in range(4)])
    assert {o["credited_paise"] for o in outs} == {200_000} and {o["status"] for o in outs} == {"verified"}
    assert ledger.get_wallet(env, "alice").balance == 10_000_000
    assert [e["amount"] for e in ledger.iter_entries(env, user_id="alice", category="adjustment")] == [200_000]
    assert bytes(env.tds_certificates.find_one({"_id": cert["id"]})["pdf"]) == PDF  # the certificate is kept
    # a second certificate for the same quarter finds nothing outstanding
    extra = tds.submit(env, "alice", quarter=quarter, certificate="EXTRA999", amount_paise=50_000, pdf=PDF)
    with pytest.raises(Conflict):
        tds.verify(env, extra["id"], by="boss")
    assert ledger.audit(env) == []
    assert [(r["actor"], r["target"]) for r in env.audit_log.find({"action": "tds_verified"})] == [("boss", "alice")]
    [row] = tds.report(env)
    assert row | {"claims_close": None} == {
        "user_id": "alice", "quarter": quarter, "payments": 1, "deducted_paise": 200_000, "verified_paise": 200_000,
        "outstanding_paise": 0, "lapsed_paise": 0, "claims_close": None}


def test_unclaimed_tds_after_the_cutoff_is_reported_not_credited(env, server):
    tds.set_customer(env, "bob", 200)
    pay_link(env, server, "bob", 4_900)
    tds.sweep(env)
    quarter = tds.quarter_of(clock.today())
    late = tds.claim_closes(quarter) + timedelta(days=1)
    cert = tds.submit(env, "bob", quarter=quarter, certificate="LATE0001", amount_paise=10_000, pdf=PDF)
    with pytest.raises(Conflict, match="reported, not credited"):
        tds.verify(env, cert["id"], by="boss", today=late)
    [row] = tds.report(env, user_id="bob", today=late)
    assert (row["deducted_paise"], row["verified_paise"], row["outstanding_paise"], row["lapsed_paise"]) == \
        (10_000, 0, 0, 10_000)
    assert ledger.get_wallet(env, "bob").balance == 490_000
    with pytest.raises(InvalidInput):
        tds.set_customer(env, "bob", 5_000)


def test_the_same_through_the_api_admin_marks_customer_uploads_admin_verifies_analyst_reports(env, server, client):
    boss, ana = make_user(env, "admin")[1], make_user(env, "analyst")[1]
    alice = tokens.issue(env, "alice")
    assert client.put("/api/admin/tds/customers/alice", json={"rate_bp": 200}, headers=bearer(boss)).json() == \
        {"user_id": "alice", "rate_bp": 200}
    pay_link(env, server, "alice", 98_000)
    tds.sweep(env)
    quarter = tds.quarter_of(clock.today())
    body = {"quarter": quarter, "certificate": "QWER5678", "amount": "2,000",
            "pdf_base64": base64.b64encode(PDF).decode()}
    up = client.post("/api/tds/certificates", json=body, headers=bearer(alice))
    assert up.status_code == 200 and up.json()["amount_paise"] == 200_000 and up.json()["status"] == "submitted"
    bad = client.post("/api/tds/certificates", json=body | {"pdf_base64": "%%%"}, headers=bearer(alice))
    assert bad.status_code == 400
    verify = f"/api/admin/tds/certificates/{up.json()['id']}/verify"
    assert client.post(verify, headers=bearer(alice)).status_code == 403
    assert client.post(verify, headers=bearer(boss)).json()["credited_paise"] == 200_000
    assert client.post(verify, headers=bearer(boss)).json()["credited_paise"] == 200_000  # the same, once
    assert ledger.get_wallet(env, "alice").balance == 10_000_000
    [row] = client.get("/api/admin/tds/report", headers=bearer(ana)).json()
    assert (row["quarter"], row["deducted_paise"], row["verified_paise"], row["outstanding_paise"]) == \
        (quarter, 200_000, 200_000, 0)
    assert row["deducted"] == 2000  # the rupee twin
