"""Settlements: Razorpay's combined recon of a day read back from the sandbox through the real SDK, every
payment and refund matched to its wallet entry, Razorpay's fee and GST per payment and the settlement's UTR
and amount kept; zero-amount mandate authorisations listed as such.

Must show: the settlement recon of a test day matches every sandbox payment and refund, and lists an
injected unmatched one."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services import clock, ledger, payments, settings, tds
from services.errors import InvalidInput
from services.payments import transfers
from tests.support.api import bearer, make_user
from tests.support.dashboard import signed_in
from tests.support.payments import control, pay_link, settle_webhooks


def test_must_show_a_test_days_recon_matches_every_payment_and_refund_and_lists_the_injected_one(
        env, server, client, monkeypatch):
    (_, a1), (_, a2), (_, b1) = (pay_link(env, server, "alice", 500), pay_link(env, server, "alice", 1_200),
                                 pay_link(env, server, "bob", 300))
    refund = control(server, f"payments/{a2['source']}/refund", amount=20_000)
    control(server, f"refunds/{refund['id']}/process")
    settle_webhooks(server)  # refund.created / processed: the wallet debit
    va = payments.bank_account(env, "alice")["virtual_account_id"]
    neft = control(server, f"virtual_accounts/{va}/credit", amount=5_000_000, mode="NEFT")
    settle_webhooks(server)
    settled = control(server, "settlements/settle", stray_paise=77_700, mandate_authorisation=True)
    # the recon is for the day the money was settled: travel to the next day and let the worker's step run
    tomorrow = clock.now() + timedelta(days=1)
    with monkeypatch.context() as m:
        m.setattr(clock, "now", lambda: tomorrow)
        day = payments.run_settlements(env)
        assert payments.run_settlements(env) is None  # once a day
    rows = {r["entity_id"]: r for r in day["rows"]}
    pays = [a1["source"], a2["source"], b1["source"], neft["payment_id"]]
    assert all(rows[p]["status"] == "matched" and rows[p]["type"] == "payment" for p in pays)
    assert rows[a1["source"]]["user_id"] == "alice" and rows[b1["source"]]["user_id"] == "bob"
    assert rows[refund["id"]]["status"] == "matched" and rows[refund["id"]]["payment_id"] == a2["source"]
    stray = [r for r in day["rows"] if r["status"] == "unmatched"]
    assert [(r["type"], r["amount_paise"]) for r in stray] == [("payment", 77_700)] and day["unmatched"] == 1
    assert [r["method"] for r in day["rows"] if r["status"] == "mandate authorisation"] == ["emandate"]
    assert len(day["rows"]) == 7  # 5 payments + the mandate's authorisation + 1 refund
    sb = server.sandbox
    assert all(rows[p]["fee_paise"] == sb.payments[p]["fee"] and rows[p]["tax_paise"] == sb.payments[p]["tax"]
               for p in pays)
    [setl] = day["settlements"]
    assert (setl["id"], setl["utr"], setl["amount_paise"]) == (settled["id"], settled["utr"], settled["amount"])
    credits = sum(r["amount_paise"] - r["fee_paise"] for r in day["rows"] if r["type"] == "payment")
    assert setl["amount_paise"] == credits - 20_000
    assert day["fees_paise"] == setl["fees_paise"] and {r["settlement_utr"] for r in day["rows"]} == {settled["utr"]}
    # admins and analysts read it and export it
    ana = make_user(env, "analyst")[1]
    got = client.get(f"/api/admin/settlements/{day['day']}", headers=bearer(ana))
    assert got.status_code == 200 and got.json()["unmatched"] == 1
    csv = client.get(f"/api/admin/settlements/{day['day']}.csv", headers=bearer(ana)).text.splitlines()
    assert len(csv) == 8 and sum("unmatched" in line for line in csv) == 1
    with pytest.raises(InvalidInput):
        payments.reconcile_settlements(env, clock.date_of(clock.now()))  # today is not over


def test_the_admin_page_shows_the_day_releases_a_held_transfer_and_lists_tds(adb, sandbox, monkeypatch):
    va = payments.bank_account(adb, "asha")["virtual_account_id"]
    settings.set_value(adb, "bank_transfer_max_paise", 100_000, by="boss")
    control(sandbox, f"virtual_accounts/{va}/credit", amount=200_000, mode="IMPS")  # Rs. 2,000: above Rs. 1,000
    transfers.reconcile_accounts(adb)
    tds.set_customer(adb, "asha", 200)
    control(sandbox, "settlements/settle", stray_paise=5_000)
    tomorrow = clock.now() + timedelta(days=1)
    monkeypatch.setattr(clock, "now", lambda: tomorrow)
    payments.run_settlements(adb)
    at = signed_in("boss", "admin", "admin/settlements")
    assert "1 item(s) settled by Razorpay match nothing in the wallet." in " ".join(e.value for e in at.error)
    assert "Rs. 2,000.00" in " ".join(m.value for m in at.markdown) and ledger.get_wallet(adb, "asha").balance == 0
    next(b for b in at.button if b.label == "Credit it").click().run()
    assert not at.exception, at.exception
    assert ledger.get_wallet(adb, "asha").balance == 200_000 and transfers.held(adb) == []
    tds.sweep(adb)  # the worker's step: the released transfer was paid net of 2 % TDS
    at.run()
    [report] = [d.value for d in at.dataframe if "Quarter" in d.value.columns]
    assert report.to_dict("records") == [{"Customer": "asha", "Quarter": tds.quarter_of(clock.date_of(tomorrow)),
                                          "Deducted": "Rs. 40.82", "Verified": "Rs. 0.00",
                                          "Outstanding": "Rs. 40.82", "Lapsed": "Rs. 0.00"}]
