"""Lots through the REST API: a customer's lots and balance at a past instant; an admin's grants with an
expiry (one customer, a previewed CSV list), voids, the burn order; the breakage report for admins and
analysts. Every refusal is the one error shape and writes nothing."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services import clock, ledger
from tests.support.api import bearer, make_user


def grant(client, admin_tok, user, rupees, key, **extra):
    return client.post("/api/admin/credit", headers={**bearer(admin_tok), "Idempotency-Key": key},
                       json={"user_id": user, "amount": rupees, "category": "promo_credit", "reason": "Offer",
                             **extra})


def test_a_grant_with_an_expiry_shows_in_the_customers_lots_and_their_balance_at_a_past_instant(
        edb, client):
    _, adm = make_user(edb, "admin")
    who, tok = make_user(edb)
    day = (clock.today() + timedelta(days=20)).isoformat()
    r = grant(client, adm, who, 200, "g1", expires_at=day, campaign="diwali-26")
    assert r.status_code == 200, r.text
    assert r.json()["transaction"]["expires_at"] and r.json()["balance_paise"] == 20000
    assert grant(client, adm, who, 200, "g1", expires_at=day, campaign="diwali-26").json() == r.json()  # once
    before = clock.now()
    ledger.post(edb, who, key="paid", type="credit", category="recharge", amount=10000)
    ledger.post(edb, who, key="use", type="debit", category="call", amount=5000)
    lots = client.get("/api/wallet/lots", headers=bearer(tok)).json()
    assert lots["burn_rule"] == "promo_first" and lots["balance_paise"] == 25000
    assert [(x["kind"], x["remaining_paise"], x["campaign"], x["promotional"]) for x in lots["lots"]] == \
        [("promo", 15000, "diwali-26", True), ("paid", 10000, "", False)]
    expires = datetime.fromisoformat(lots["lots"][0]["expires_at"].replace("Z", "+00:00"))
    assert expires == clock.at_local(date.fromisoformat(day), time(23, 59))   # 23:59 business time that day
    tx = client.get("/api/transactions", headers=bearer(tok)).json()["transactions"][0]
    assert tx["lot_parts"] == [{"lot": 1, "amount_paise": 5000, "amount": 50.0}] and tx["promo_paise"] == 5000
    past = client.get("/api/wallet/balance", params={"at": before.isoformat()}, headers=bearer(tok)).json()
    assert past["balance_paise"] == 20000 and [x["remaining_paise"] for x in past["lots"]] == [20000]
    now = client.get("/api/wallet/balance", headers=bearer(tok)).json()
    assert now["balance_paise"] == 25000 and "lots" not in now
    bad = client.get("/api/wallet/balance", params={"at": "yesterday"}, headers=bearer(tok))
    assert bad.status_code == 400 and "ISO" in bad.json()["error"]["message"]


def test_grant_refusals_write_nothing(edb, client):
    _, adm = make_user(edb, "admin")
    who, _ = make_user(edb)
    for extra, words in (({"expires_at": "2001-01-01"}, "past"), ({"expires_at": "soon"}, "expiry looks like"),
                         ({"campaign": "Not OK"}, "campaign")):
        r = grant(client, adm, who, 10, f"bad-{words}", **extra)
        assert r.status_code == 400 and words in r.json()["error"]["message"], r.text
    r = client.post("/api/admin/credit", headers=bearer(adm), json={"user_id": who, "amount": 10, "category": "refund",
                                                                     "reason": "Offer", "expires_at": "2099-01-01"})
    assert r.status_code == 400
    assert edb.ledger.count_documents({}) == 0


def test_a_csv_list_is_previewed_then_applied_once_per_line(edb, client):
    _, adm = make_user(edb, "admin")
    a, _ = make_user(edb)
    b, _ = make_user(edb)
    body = {"csv": f"username,amount\n{a},100\n{b},50\nnobody,5\n", "reason": "Launch", "campaign": "launch",
            "expires_at": (clock.today() + timedelta(days=5)).isoformat()}
    preview = client.post("/api/admin/credit/batch", headers=bearer(adm), json=body).json()
    assert (preview["applied"], preview["good"], preview["total_paise"]) == (False, 2, 15000)
    assert [ln["problems"] != {} for ln in preview["lines"]] == [False, False, True]
    assert edb.ledger.count_documents({}) == 0
    done = client.post("/api/admin/credit/batch", headers=bearer(adm), json={**body, "apply": True}).json()
    again = client.post("/api/admin/credit/batch", headers=bearer(adm), json={**body, "apply": True}).json()
    assert [ln["entry_id"] for ln in done["lines"]] == [ln["entry_id"] for ln in again["lines"]]
    assert done["batch"] == preview["batch"] and edb.ledger.count_documents({}) == 2


def test_void_breakage_and_the_burn_order(edb, client):
    _, adm = make_user(edb, "admin")
    _, analyst = make_user(edb, "analyst")
    who, tok = make_user(edb)
    lot = grant(client, adm, who, 100, "g", campaign="spring").json()["transaction"]["seq"]
    ledger.post(edb, who, key="use", type="debit", category="call", amount=4000)
    listed = client.get(f"/api/admin/lots/{who}", headers=bearer(adm)).json()
    assert [(x["lot"], x["remaining_paise"]) for x in listed] == [(lot, 6000)]
    r = client.post("/api/admin/credit/void", headers=bearer(adm), json={"user_id": who, "lot": lot, "reason": "Ended"})
    assert r.status_code == 200 and r.json()["amount_paise"] == 6000 and r.json()["entry_id"]
    again = client.post("/api/admin/credit/void", headers=bearer(adm), json={"user_id": who, "lot": lot,
                                                                            "reason": "Ended"})
    assert again.status_code == 404
    assert client.post("/api/admin/credit/void", headers=bearer(tok), json={"user_id": who, "lot": lot,
                                                                           "reason": "x"}).status_code == 403
    rep = client.get("/api/admin/breakage", headers=bearer(analyst)).json()
    assert [(x["campaign"], x["granted_paise"], x["spent_paise"], x["voided_paise"]) for x in rep["rows"]] == \
        [("spring", 10000, 4000, 6000)] and rep["breakage_percent"] == 60.0
    assert client.get("/api/admin/breakage", params={"from": "2026-13"}, headers=bearer(analyst)).status_code == 400
    assert client.get("/api/admin/burn-rule", headers=bearer(analyst)).json()["rule"] == "promo_first"
    assert client.put("/api/admin/burn-rule", headers=bearer(analyst), json={"rule": "oldest_first"}).status_code == 403
    r = client.put("/api/admin/burn-rule", headers=bearer(adm), json={"rule": "oldest_first"})
    assert r.status_code == 200 and ledger.burn_rule(edb) == "oldest_first"
    assert client.put("/api/admin/burn-rule", headers=bearer(adm), json={"rule": "random"}).status_code == 422
