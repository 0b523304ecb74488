"""The usage API (issue 29): events billed with a key having the `calls` scope, once per idempotency key, 402
when the wallet cannot pay; a batch of 1,000 answered per event; subscriptions; the admin's catalogue."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services import accounts, clock, ledger, usage, wallet
from tests.support.api import bearer, make_user


def _setup(db, client, rupees=1000):
    admin = bearer(make_user(db, "admin", "boss")[1])
    for name, body in (("sms", {"display_name": "SMS", "unit": "message", "price_paise": 25}),
                       ("llm", {"display_name": "LLM tokens", "unit": "token", "price_paise": 3, "per_units": 10}),
                       ("number", {"display_name": "Phone number", "unit": "number·month", "price_paise": 50_000})):
        r = client.put(f"/api/admin/services/{name}", headers=admin, json=body)
        assert r.status_code == 200, r.text
    user, tok = make_user(db)
    if rupees:
        wallet.admin_credit(db, admin="boss", user_id=user, amount=rupees, category="manual_credit", reason="test",
                            key=f"fund-{user}")
    me = accounts.teams.acting(db, user, user)
    calls_key = accounts.keys.create(db, me, "voice", ["calls"])[1]
    read_key = accounts.keys.create(db, me, "reader", ["wallet:read"])[1]
    return user, bearer(calls_key), bearer(read_key), admin


def test_an_event_is_billed_once_per_key_and_402_when_the_wallet_cannot_pay(client, edb):
    user, h, reader, admin = _setup(edb, client, rupees=1)
    ev = {"service": "llm", "quantity": 11, "idempotency_key": "k1", "metadata": {"model": "small"}}
    first = client.post("/api/usage", headers=h, json=ev)
    assert first.status_code == 200, first.text
    assert (first.json()["amount_paise"], first.json()["amount"], first.json()["balance_after_paise"]) == (4, 0.04, 96)
    assert client.post("/api/usage", headers=h, json=ev).json() == first.json()           # a replay
    other = client.post("/api/usage", headers=h, json=dict(ev, quantity=12))
    assert (other.status_code, other.json()["error"]["code"]) == (409, "conflict")
    poor = client.post("/api/usage", headers=h, json={"service": "sms", "quantity": 4, "idempotency_key": "k2"})
    assert (poor.status_code, poor.json()["error"]["code"]) == (402, "insufficient_balance")
    assert client.post("/api/usage", headers=reader, json=dict(ev, idempotency_key="k3")).status_code == 403
    assert client.post("/api/usage", headers=h, json=dict(ev, quantity=True)).status_code == 422
    assert client.post("/api/usage", headers=h, json=dict(ev, service="nope")).status_code == 404
    w = ledger.get_wallet(edb, user)
    assert w.balance == 96 and ledger.audit(edb) == []
    assert client.get("/api/admin/services", headers=admin).json()["services"][0]["name"] == "llm"


def test_a_batch_of_1000_sms_is_rs_250_and_a_larger_one_refuses_the_rest_with_402_per_event(client, edb):
    user, h, _, _ = _setup(edb, client, rupees=400)
    events = [{"service": "sms", "quantity": 1, "idempotency_key": f"e{i}"} for i in range(1000)]
    r = client.post("/api/usage/batch", headers=h, json={"events": events})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["billed"], body["refused"], body["amount_paise"], body["amount"]) == (1000, 0, 25_000, 250)
    assert ledger.get_wallet(edb, user).balance == 15_000
    more = [{"service": "sms", "quantity": 1, "idempotency_key": f"f{i}"} for i in range(1000)]
    body = client.post("/api/usage/batch", headers=h, json={"events": events[:5] + more[:995]}).json()
    assert (body["billed"], body["refused"]) == (605, 395)
    assert [x["status"] for x in body["results"][:605]] == [200] * 605      # 5 replays, then 600 that fit
    assert {x["status"] for x in body["results"][605:]} == {402}
    assert body["results"][-1]["error"]["code"] == "insufficient_balance"
    assert ledger.get_wallet(edb, user).balance == 0 and ledger.audit(edb) == []
    too_many = client.post("/api/usage/batch", headers=h, json={"events": more + more[:1]})
    assert too_many.status_code == 422


def test_subscriptions_are_listed_charged_and_ended(client, edb):
    user, h, _, _ = _setup(edb, client, rupees=0)
    r = client.post("/api/subscriptions", headers=h, json={"service": "number", "idempotency_key": "n1"})
    assert r.status_code == 200 and r.json()["status"] == "active"
    sid = r.json()["id"]
    usage.charge_due(edb)
    w = ledger.get_wallet(edb, user)
    assert w.balance == 0 and w.due == usage.fees.first_month_fee(50_000, edb.subscriptions.find_one()["started_at"])
    listed = client.get("/api/subscriptions?active=true", headers=h).json()["subscriptions"]
    assert [s["id"] for s in listed] == [sid] and listed[0]["paid_period"]
    assert client.post(f"/api/subscriptions/{sid}/end", headers=h).json()["status"] == "ended"
    assert client.get("/api/subscriptions?active=true", headers=h).json()["subscriptions"] == []


def test_an_admin_sets_volume_tiers_and_a_batch_crossing_them_is_priced_per_unit_of_the_month(client, edb):
    user, h, _, admin = _setup(edb, client, rupees=100)
    body = {"display_name": "SMS", "unit": "message", "price_paise": 25,
            "tiers": [{"after_units": 100, "price_paise": 20}, {"after_units": 200, "price_paise": 15}]}
    r = client.put("/api/admin/services/sms", headers=admin, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["tiers"] == [{"after_units": 100, "price_paise": 20, "price": 0.2},
                                 {"after_units": 200, "price_paise": 15, "price": 0.15}]
    for bad, why in (([{"after_units": 100, "price_paise": 30}], "below the price before"),
                     ([{"after_units": 100, "price_paise": 20}, {"after_units": 50, "price_paise": 15}],
                      "starts after more units")):
        r = client.put("/api/admin/services/sms", headers=admin, json=dict(body, tiers=bad))
        assert r.status_code == 400 and why in r.text, r.text
    assert client.get("/api/admin/services", headers=admin).json()["services"][2]["tiers"][1]["after_units"] == 200
    events = [{"service": "sms", "quantity": 1, "idempotency_key": f"e{i}"} for i in range(250)]
    r = client.post("/api/usage/batch", headers=h, json={"events": events})
    assert r.json()["amount_paise"] == 100 * 25 + 100 * 20 + 50 * 15 and ledger.audit(edb) == []
    assert ledger.get_wallet(edb, user).balance == 10_000 - 5_250


def test_a_price_change_is_scheduled_listed_and_withdrawn_through_the_api(client, edb):
    user, h, _, admin = _setup(edb, client)
    sms = {"display_name": "SMS", "unit": "message", "price_paise": 30}
    when = (clock.now() + timedelta(days=7)).astimezone(timezone(timedelta(hours=5, minutes=30)))
    r = client.put("/api/admin/services/sms", headers=admin, json=dict(sms, effective_at=when.isoformat()))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["price_paise"], body["price"]) == (25, 0.25)  # in effect now
    (ch,) = body["scheduled"]
    assert (ch["price_paise"], ch["price"], ch["per_units"], ch["scheduled_by"]) == (30, 0.3, 1, "boss")
    assert datetime.fromisoformat(ch["effective_at"].replace("Z", "+00:00")) == when
    listed = {s["name"]: s for s in client.get("/api/admin/services", headers=admin).json()["services"]}
    assert [c["id"] for c in listed["sms"]["scheduled"]] == [ch["id"]] and listed["llm"]["scheduled"] == []
    assert client.post("/api/usage", headers=h, json={"service": "sms", "quantity": 2,
                                                      "idempotency_key": "now"}).json()["amount_paise"] == 50
    for bad in ("2027-01-01T00:00:00", "tomorrow", (clock.now() - timedelta(hours=1)).isoformat()):
        r = client.put("/api/admin/services/sms", headers=admin, json=dict(sms, effective_at=bad))
        assert r.status_code == 400, (bad, r.text)
    r = client.put("/api/admin/services/sms", headers=admin,
                   json=dict(sms, unit="sms", effective_at=when.isoformat()))  # a unit changes now, never ahead
    assert r.status_code == 400
    assert client.delete(f"/api/admin/services/sms/changes/{ch['id']}", headers=admin).json()["id"] == ch["id"]
    assert client.delete(f"/api/admin/services/sms/changes/{ch['id']}", headers=admin).status_code == 404
    assert client.get("/api/admin/services", headers=admin).json()["services"][2]["scheduled"] == []
