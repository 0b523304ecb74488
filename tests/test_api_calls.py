"""The calls API with rolling authorisation, outcomes and the simultaneous-call limit (429 + Retry-After),
the customer's terms, and the admin's plans, customer terms and scheduled rates."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services import clock, ledger, settings, wallet
from tests.support.api import bearer, make_user

CALL = {"to_number": "+919876543210", "kb_id": "kb_api"}


@pytest.fixture
def admin(edb):
    return bearer(make_user(edb, "admin", "boss")[1])


def fund(db, user, rupees):
    wallet.admin_credit(db, admin="boss", user_id=user, amount=rupees, category="promo_credit", reason="test",
                        key=f"fund-{user}-{rupees}")


def error(r, status, code):
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    return r


def test_two_calls_share_rs_100_and_are_told_the_second_to_end(client, edb, admin):
    user, tok = make_user(edb)
    fund(edb, user, 100)
    h = bearer(tok)
    a, b = (client.post("/api/call", headers=h, json=dict(CALL, max_minutes=20)).json() for _ in range(2))
    assert (a["authorized_seconds"], a["held_paise"], a["held"], a["end_at_seconds"]) == (300, 5000, 50, None)
    for c in (a, b):
        g = client.post(f"/api/call/{c['call_id']}/update", headers=h, json={"usage_seconds": 280}).json()
        assert (g["end_at_seconds"], g["authorized_seconds"], g["max_duration_seconds"]) == (300, 300, 300)
    bills = [client.post(f"/api/call/{c['call_id']}/end", headers=h, json={"duration_seconds": 300}).json()
             for c in (a, b)]
    assert [x["cost"] for x in bills] == [50, 50] and bills[-1]["balance_paise"] == 0
    error(client.post(f"/api/call/{a['call_id']}/update", headers=h, json={"usage_seconds": True}), 422,
          "invalid_request")
    error(client.post("/api/call/call_nope/update", headers=h, json={"usage_seconds": 5}), 404, "not_found")
    assert ledger.audit(edb) == []


def test_too_many_simultaneous_calls_is_429_with_retry_after(client, edb, admin):
    user, tok = make_user(edb)
    fund(edb, user, 500)
    r = client.post(f"/api/admin/customers/{user}/terms", headers=admin, json={"max_concurrent_calls": 1})
    assert r.status_code == 200 and r.json()["max_concurrent_calls"] == 1
    first = client.post("/api/call", headers=bearer(tok), json=CALL).json()
    r = error(client.post("/api/call", headers=bearer(tok), json=CALL), 429, "too_many_calls")
    assert r.headers["retry-after"] == "5"
    client.post(f"/api/call/{first['call_id']}/end", headers=bearer(tok), json={"duration_seconds": 10})
    assert client.post("/api/call", headers=bearer(tok), json=CALL).status_code == 200


def test_terms_plans_and_an_attempt_fee(client, edb, admin):
    user, tok = make_user(edb)
    fund(edb, user, 100)
    plan = {"rate": "8.50", "initial_increment_seconds": 30, "subsequent_increment_seconds": 6, "attempt_fee": "0.50"}
    r = client.put("/api/admin/plans/business", headers=admin, json=plan)
    assert r.status_code == 200, r.text
    assert (r.json()["rate_paise"], r.json()["attempt_fee"], r.json()["plan"]) == (850, 0.5, "business")
    assert [p["plan"] for p in client.get("/api/admin/plans", headers=admin).json()] == ["standard", "business"]
    r = client.post(f"/api/admin/customers/{user}/terms", headers=admin, json={"plan": "business", "daily_cap": 300})
    t = r.json()
    assert (t["plan"], t["rate"], t["daily_cap_paise"], t["max_concurrent_calls"]) == ("business", 8.5, 30000, 10)
    assert "first 30 s, then per 6 s" in t["description"]
    assert client.get("/api/wallet/terms", headers=bearer(tok)).json() == t
    c = client.post("/api/call", headers=bearer(tok), json=CALL).json()
    end = client.post(f"/api/call/{c['call_id']}/end", headers=bearer(tok),
                      json={"duration_seconds": 0, "outcome": "busy"}).json()
    assert (end["outcome"], end["cost_paise"], end["billed_seconds"]) == ("busy", 50, 0)
    error(client.post(f"/api/call/{c['call_id']}/end", headers=bearer(tok),
                      json={"duration_seconds": 0, "outcome": "voicemail"}), 422, "invalid_request")
    # null removes the customer's own value; the plan goes back to standard
    t = client.post(f"/api/admin/customers/{user}/terms", headers=admin, json={"plan": None, "daily_cap": None}).json()
    assert (t["plan"], t["rate_paise"], t["daily_cap_paise"]) == ("standard", 1000, None)


def test_a_scheduled_rate_is_shown_ahead_and_bad_changes_write_nothing(client, edb, admin):
    user, tok = make_user(edb)
    when = (clock.now() + timedelta(days=2)).replace(microsecond=0)
    r = client.post(f"/api/wallet/set-call-rate?rate=12.50&effective_at={when.isoformat().replace('+00:00', 'Z')}",
                    headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["rate_paise"], r.json()["previous_rate_paise"]) == (1250, 1000)
    (ahead,) = client.get("/api/wallet/terms", headers=bearer(tok)).json()["upcoming"]
    assert (ahead["rate"], ahead["effective_at"].replace("Z", "+00:00")) == (12.5, when.isoformat())
    n = edb.settings_history.count_documents({})
    past = (clock.now() - timedelta(hours=1)).isoformat()
    for body in ({"max_concurrent_calls": 5, "effective_at": past}, {"plan": "nosuch", "max_concurrent_calls": 5},
                 {"daily_cap": "abc", "max_concurrent_calls": 5}, {}):
        r = client.post(f"/api/admin/customers/{user}/terms", headers=admin, json=body)
        assert r.status_code in (400, 404), (body, r.text)
    error(client.post("/api/admin/customers/nobody/terms", headers=admin, json={"max_concurrent_calls": 5}), 404,
          "not_found")
    error(client.put("/api/admin/plans/odd", headers=admin, json={"rate": 5, "initial_increment_seconds": 7,
                                                                   "subsequent_increment_seconds": 7}),
          400, "invalid_input")
    error(client.put("/api/admin/plans/standard", headers=admin, json={"rate": 5}), 400, "invalid_input")
    error(client.put("/api/admin/plans/Bad%20Name", headers=admin, json={"rate": 5}), 400, "invalid_input")
    assert edb.settings_history.count_documents({}) == n
    assert settings.limits_for(edb, user)["max_concurrent_calls"] == 10
    error(client.put("/api/admin/plans/x", headers=bearer(tok), json={"rate": 5}), 403, "forbidden")
