"""Functional tests of the REST API: error shapes, the 402 flow, money in rupees and paise, pagination,
CSV streaming, idempotency, the login throttle, and Razorpay (orders, links, webhooks) through the sandbox
over real HTTP."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from services import ledger, money, rates, tokens, wallet
from tests.support.api import PASSWORD, bearer, make_user
from tests.support.payments import control


@pytest.fixture
def admin(edb):
    return bearer(make_user(edb, "admin")[1])


def credit(client, admin, user, amount, key=None, reason="test credit", category="promo_credit"):
    headers = dict(admin, **({"Idempotency-Key": key} if key else {}))
    return client.post("/api/admin/credit", headers=headers,
                       json={"user_id": user, "amount": amount, "category": category, "reason": reason})


# ------------------------------------------------------------------------------------- error shape

def assert_error(r, status, code=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body


def test_every_kind_of_error_has_the_one_shape(client, edb):
    _, tok = make_user(edb)
    h = bearer(tok)
    assert_error(client.get("/api/wallet/balance"), 401, "unauthorized")
    assert_error(client.get("/api/nowhere", headers=h), 404, "not_found")
    assert_error(client.delete("/api/wallet/balance", headers=h), 405, "method_not_allowed")
    assert_error(client.post("/api/call", headers=h, json={"kb_id": "kb1"}), 422, "invalid_request")
    assert_error(client.post("/api/call", headers=h, content=b"{not json", ), 422, "invalid_request")
    assert_error(client.post("/api/call", headers=h, json={"to_number": "12", "kb_id": "kb1"}), 400, "invalid_input")
    assert_error(client.post("/api/call/call_nope/end", headers=h, json={"duration_seconds": 5}), 404, "not_found")
    assert_error(client.get("/api/transactions?from=yesterday", headers=h), 400, "invalid_input")
    assert_error(client.get("/api/transactions?transaction_type=refund", headers=h), 422, "invalid_request")
    assert_error(client.get("/api/admin/summary", headers=h), 403, "forbidden")


def test_unexpected_errors_are_500_generic_and_logged(app, edb, monkeypatch, caplog):
    _, tok = make_user(edb)

    def boom(*a, **k):
        raise RuntimeError("secret internals: mongodb://user:pw@host")
    monkeypatch.setattr(wallet, "balance", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/wallet/balance", headers=bearer(tok))
    assert_error(r, 500, "internal_error")
    assert "secret" not in r.text and "mongodb" not in r.text
    assert any("unhandled error" in rec.message for rec in caplog.records)


# ---------------------------------------------------------------------------------- the 402 flow

def test_new_user_is_refused_a_call_then_credit_100_and_a_3_minute_call_costs_30(client, admin):
    r = client.post("/api/auth/signup", json={"username": "priya", "password": PASSWORD, "name": "Priya",
                                              "email": "priya@example.com"})
    assert r.status_code == 201
    h = bearer(r.json()["token"])
    b = client.get("/api/wallet/balance", headers=h).json()
    assert b == {"balance": 0, "balance_paise": 0, "held": 0, "held_paise": 0, "available": 0,
                 "available_paise": 0, "low_balance": True, "currency": "INR"}
    call = {"to_number": "+91 98765 43210", "kb_id": "kb_sales"}
    assert_error(client.post("/api/call", headers=h, json=call), 402, "insufficient_balance")

    assert credit(client, admin, "priya", 100).status_code == 200
    r = client.post("/api/call", headers=h, json=call)
    assert r.status_code == 200, r.text
    started = r.json()
    assert started["rate"] == 10 and started["rate_paise"] == 1000
    # rolling authorisation: the call may run 10 minutes; its first 5-minute slice is what is held
    assert started["held_paise"] == 5000 and started["max_duration_seconds"] == 600
    assert started["authorized_seconds"] == 300 and started["end_at_seconds"] is None
    assert client.get("/api/wallet/balance", headers=h).json()["available_paise"] == 5000

    r = client.post(f"/api/call/{started['call_id']}/end", headers=h, json={"duration_seconds": 180})
    assert r.status_code == 200, r.text
    assert r.json() == {"call_id": started["call_id"], "status": "completed", "billed_seconds": 180,
                        "cost": 30, "cost_paise": 3000, "balance": 70, "balance_paise": 7000, "cut_off": False,
                        "outcome": "answered"}
    b = client.get("/api/wallet/balance", headers=h).json()
    assert (b["balance"], b["balance_paise"], b["held_paise"], b["available_paise"]) == (70, 7000, 0, 7000)
    # ending again bills nothing more and answers the first result
    again = client.post(f"/api/call/{started['call_id']}/end", headers=h, json={"duration_seconds": 999})
    assert again.json()["cost_paise"] == 3000 and again.json()["balance_paise"] == 7000


def test_daily_spend_cap_is_402_spend_cap_reached(client, admin, edb):
    user, tok = make_user(edb)
    credit(client, admin, user, 500)
    rates.set_user_value(edb, user, "daily_cap_paise", 4000, by="test")  # below the first slice (5 min x Rs. 10)
    r = client.post("/api/call", headers=bearer(tok), json={"to_number": "+919876543210", "kb_id": "kb1",
                                                             "max_minutes": 10})
    assert_error(r, 402, "spend_cap_reached")
    assert ledger.get_wallet(edb, user).held == 0


def test_per_user_call_rate_set_by_admin(client, admin, edb):
    user, tok = make_user(edb)
    credit(client, admin, user, 100)
    r = client.post(f"/api/wallet/set-call-rate?rate=2.5&user_id={user}", headers=admin)
    assert r.status_code == 200 and r.json()["rate_paise"] == 250 and r.json()["scope"] == f"user:{user}"
    assert_error(client.post("/api/wallet/set-call-rate?rate=abc", headers=admin), 400, "invalid_amount")
    c = client.post("/api/call", headers=bearer(tok), json={"to_number": "+919876543210", "kb_id": "kb1"}).json()
    assert c["rate"] == 2.5 and c["rate_paise"] == 250
    end = client.post(f"/api/call/{c['call_id']}/end", headers=bearer(tok), json={"duration_seconds": 61}).json()
    assert end["cost_paise"] == money.cost_paise(61, 250) == 255  # ceil(61 x 250 / 60)
    assert end["cost"] == 2.55


# --------------------------------------------------------------------------------------- money

@pytest.mark.parametrize("sent, paise", [
    (100, 10000), (99.5, 9950), ("99.50", 9950), (0.29, 29), (0.1, 10), ("1,000.25", 100025), (1234.56, 123456),
])
def test_money_comes_in_as_rupees_and_is_exact(client, admin, edb, sent, paise):
    user, tok = make_user(edb)
    r = credit(client, admin, user, sent)
    assert r.status_code == 200, r.text
    assert r.json()["transaction"]["amount_paise"] == paise
    b = client.get("/api/wallet/balance", headers=bearer(tok))
    assert b.json()["balance_paise"] == paise
    # out: rupees as a JSON number with at most 2 decimals, equal to paise / 100 exactly as text
    raw = json.loads(b.text, parse_float=str)
    assert raw["balance"] == f"{paise / 100}" or int(raw["balance"]) * 100 == paise
    from decimal import Decimal
    assert Decimal(str(raw["balance"])) * 100 == paise


@pytest.mark.parametrize("sent, status, code", [
    (-5, 400, "invalid_amount"), (0, 400, "invalid_amount"), (1.005, 400, "invalid_amount"),
    ("abc", 400, "invalid_amount"), ("=1+1", 400, "invalid_amount"), ("NaN", 400, "invalid_amount"),
    (100001, 400, "invalid_amount"), (True, 422, "invalid_request"), (None, 422, "invalid_request"),
    ([1], 422, "invalid_request"), ({"rupees": 1}, 422, "invalid_request"),
])
def test_bad_amounts_are_refused_and_nothing_is_written(client, admin, edb, sent, status, code):
    user, _ = make_user(edb)
    assert_error(credit(client, admin, user, sent), status, code)
    assert ledger.get_wallet(edb, user).balance == 0


def test_json_numbers_are_parsed_exactly_not_through_float(client, admin, edb):
    user, _ = make_user(edb)
    body = b'{"user_id": "%s", "amount": 12345678901234567.01, "category": "refund", "reason": "big"}' % user.encode()
    r = client.post("/api/admin/credit", headers=dict(admin, **{"Content-Type": "application/json"}), content=body)
    assert_error(r, 400, "invalid_amount")  # far too large, not silently rounded to a float
    body = b'{"user_id": "%s", "amount": 99.999999999999999999, "category": "refund", "reason": "odd"}' % user.encode()
    r = client.post("/api/admin/credit", headers=dict(admin, **{"Content-Type": "application/json"}), content=body)
    assert_error(r, 400, "invalid_amount")  # a float would have read this as 100.0 and credited Rs. 100


# ---------------------------------------------------------------------------------- idempotency

def test_admin_credit_idempotency_key_credits_once(client, admin, edb):
    user, _ = make_user(edb)
    first = credit(client, admin, user, 50, key="refund-123")
    again = credit(client, admin, user, 50, key="refund-123")
    assert first.status_code == again.status_code == 200
    assert first.json()["transaction"]["id"] == again.json()["transaction"]["id"]
    assert ledger.get_wallet(edb, user).balance == 5000
    assert_error(credit(client, admin, user, 60, key="refund-123"), 409, "conflict")
    r = client.post("/api/admin/credit", headers=admin, json={"user_id": user, "amount": 5, "category": "refund",
                                                              "reason": "field key", "idempotency_key": "k-9"})
    r2 = client.post("/api/admin/credit", headers=dict(admin, **{"Idempotency-Key": "k-9"}),
                     json={"user_id": user, "amount": 5, "category": "refund", "reason": "field key"})
    assert r.json()["transaction"]["id"] == r2.json()["transaction"]["id"]
    assert ledger.get_wallet(edb, user).balance == 5500
    assert_error(credit(client, admin, "nobody-here", 5), 404, "not_found")


def test_call_start_idempotency_key_starts_one_call(client, admin, edb):
    user, tok = make_user(edb)
    other, otok = make_user(edb)
    credit(client, admin, user, 100)
    credit(client, admin, other, 100)
    body = {"to_number": "+919876543210", "kb_id": "kb1", "max_minutes": 2}
    h = dict(bearer(tok), **{"Idempotency-Key": "retry-me"})
    a = client.post("/api/call", headers=h, json=body).json()
    b = client.post("/api/call", headers=h, json=body).json()
    assert a["call_id"] == b["call_id"] and a["held_paise"] == b["held_paise"] == 2000
    assert ledger.get_wallet(edb, user).held == 2000  # held once
    # the same key from another user is their own, separate call
    c = client.post("/api/call", headers=dict(bearer(otok), **{"Idempotency-Key": "retry-me"}), json=body).json()
    assert c["call_id"] != a["call_id"]
    # reusing a key for a different call is a conflict, not a second call
    assert_error(client.post("/api/call", headers=h, json=dict(body, to_number="+919800000000")), 409, "conflict")


# ---------------------------------------------------------------------------------- auth

def test_login_throttle_slows_the_address_not_the_user(client, edb, monkeypatch):
    """3 wrong passwords from an address, then it waits (the right password too: 429 with Retry-After);
    another address, and another username, are not held back (the full rules: tests/test_auth_throttle.py)."""
    now = tokens.clock.now()
    monkeypatch.setattr(tokens.clock, "now", lambda: now)
    user, _ = make_user(edb)
    for _ in range(tokens.FREE_FAILURES):
        assert_error(client.post("/api/auth/login", json={"username": user, "password": "wrong-pass"}), 401)
    r = client.post("/api/auth/login", json={"username": user, "password": PASSWORD})
    assert_error(r, 429, "rate_limited")
    assert r.headers["retry-after"] == "2"
    other, _ = make_user(edb)
    assert client.post("/api/auth/login", json={"username": other, "password": PASSWORD}).status_code == 200
    with TestClient(client.app, client=("198.51.100.4", 4000)) as elsewhere:
        assert elsewhere.post("/api/auth/login", json={"username": user, "password": PASSWORD}).status_code == 200
    # the wait passes: the right password works again from the first address
    monkeypatch.setattr(tokens.clock, "now", lambda: now + timedelta(seconds=2))
    assert client.post("/api/auth/login", json={"username": user, "password": PASSWORD}).status_code == 200


def test_token_ttl_comes_from_the_environment(client, edb, monkeypatch):
    user, _ = make_user(edb)
    monkeypatch.setenv("API_TOKEN_TTL_MINUTES", "5")
    r = client.post("/api/auth/login", json={"username": user, "password": PASSWORD}).json()
    assert r["expires_in_minutes"] == 5
    doc = edb.tokens.find_one({"_id": hashlib.sha256(r["token"].encode()).hexdigest()})
    life = tokens.clock.as_utc(doc["expires_at"]) - tokens.clock.as_utc(doc["created_at"])
    assert life.total_seconds() == 300


def test_signup_refuses_bad_input_and_taken_names(client, edb):
    ok = {"username": "ravi", "password": PASSWORD, "name": "Ravi", "email": "ravi@example.com"}
    assert client.post("/api/auth/signup", json=ok).status_code == 201
    assert_error(client.post("/api/auth/signup", json=ok), 409, "conflict")
    assert_error(client.post("/api/auth/signup", json=dict(ok, username="x y")), 400, "invalid_input")
    assert_error(client.post("/api/auth/signup", json=dict(ok, username="ravi2", password="short")), 400)
    assert_error(client.post("/api/auth/signup", json=dict(ok, username="ravi3", role="admin")), 422)
    assert edb.users.find_one({"_id": "ravi3"}) is None


def test_startup_creates_the_first_admin_from_the_environment(edb, monkeypatch):
    monkeypatch.setenv("WALLET_ADMIN_USER", "boss")
    monkeypatch.setenv("WALLET_ADMIN_PASSWORD", PASSWORD)
    with TestClient(create_app(db=edb), raise_server_exceptions=False) as c:
        tok = c.post("/api/auth/login", json={"username": "boss", "password": PASSWORD}).json()["token"]
        assert c.get("/api/admin/summary", headers=bearer(tok)).status_code == 200


# ------------------------------------------------------------------------- transactions and CSV

def test_transactions_newest_first_paginated_and_filtered(client, admin, edb):
    user, tok = make_user(edb)
    h = bearer(tok)
    for i in range(7):
        credit(client, admin, user, 10 + i, key=f"p{i}")
    c = client.post("/api/call", headers=h, json={"to_number": "+919876543210", "kb_id": "kb1"}).json()
    client.post(f"/api/call/{c['call_id']}/end", headers=h, json={"duration_seconds": 6})
    seen, cursor, pages = [], None, 0
    while True:
        q = "/api/transactions?limit=3" + (f"&cursor={cursor}" if cursor else "")
        r = client.get(q, headers=h).json()
        seen += r["transactions"]
        pages += 1
        cursor = r["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 8
    assert [t["seq"] for t in seen] == sorted((t["seq"] for t in seen), reverse=True)
    assert len({t["id"] for t in seen}) == 8
    first = seen[0]
    assert first["type"] == "debit" and first["category"] == "call" and first["amount_paise"] == 100
    assert first["amount"] == 1 and first["meta"]["seconds"] == 6
    assert first["balance_after_paise"] == ledger.get_wallet(edb, user).balance
    debits = client.get("/api/transactions?transaction_type=debit", headers=h).json()["transactions"]
    assert [t["category"] for t in debits] == ["call"]
    promos = client.get("/api/transactions?category=promo_credit&limit=100", headers=h).json()
    assert len(promos["transactions"]) == 7 and promos["next_cursor"] is None
    today = ledger.clock.today().isoformat()
    assert len(client.get(f"/api/transactions?from={today}&to={today}", headers=h).json()["transactions"]) == 8
    assert client.get("/api/transactions?from=2000-01-01&to=2000-01-02", headers=h).json()["transactions"] == []
    assert_error(client.get(f"/api/transactions?from={today}&to=2000-01-01", headers=h), 400, "invalid_input")


def test_csv_download_streams_and_neutralises_formulas(client, admin, edb):
    user, tok = make_user(edb)
    credit(client, admin, user, 12.5, reason="=HYPERLINK(\"http://evil\",\"x\")")
    credit(client, admin, user, 7, reason="+cmd|' /C calc'!A0")
    credit(client, admin, user, 1, reason="-2+3")
    credit(client, admin, user, 2, reason="@SUM(A1)")
    with client.stream("GET", "/api/transactions/download", headers=bearer(tok)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        assert "content-length" not in r.headers  # streamed, not built in memory
        text = "".join(r.iter_text())
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["created_at", "entry_id", "user_id"]
    assert len(rows) == 5 and all(row[2] == user for row in rows[1:])
    notes = [row[rows[0].index("note")] for row in rows[1:]]
    assert notes == ["'=HYPERLINK(\"http://evil\",\"x\")", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1)"]
    assert rows[1][6] == "12.50"
    r = client.get("/api/transactions/download?transaction_type=debit", headers=bearer(tok))
    assert r.text.strip().splitlines() == [text.splitlines()[0]]
    assert_error(client.get("/api/transactions/download?from=2030-01-01&to=2020-01-01", headers=bearer(tok)),
                 400, "invalid_input")


# -------------------------------------------------------------------------------- admin, health

def test_admin_summary_in_rupees_and_paise(client, admin, edb):
    user, tok = make_user(edb)
    credit(client, admin, user, 100)
    c = client.post("/api/call", headers=bearer(tok), json={"to_number": "+919876543210", "kb_id": "kb1"}).json()
    client.post(f"/api/call/{c['call_id']}/end", headers=bearer(tok), json={"duration_seconds": 120})
    s = client.get("/api/admin/summary", headers=admin).json()
    assert s["total_balance_paise"] == 8000 and s["total_balance"] == 80
    assert s["today_credits_paise"] == 10000 and s["today_debits_paise"] == 2000 and s["today_debits"] == 20
    assert s["top_spenders"][0] == {"username": user, "spent": 20, "spent_paise": 2000}
    assert isinstance(s["failed_payments"], list) and isinstance(s["low_balance_users"], list)


def test_health_and_key_when_payments_are_off(client, edb, payments_off):
    _, tok = make_user(edb)
    assert client.get("/api/health").json() == {"database": True, "payment_mode": "off"}
    assert_error(client.get("/api/payment/razorpay-key", headers=bearer(tok)), 503, "payment_unavailable")
    assert_error(client.post("/api/payment/payment-link", headers=bearer(tok), json={"amount": 100}), 503)


# --------------------------------------------------------------------------- Razorpay via sandbox

def test_checkout_order_create_verify_credits_once(client, edb, sandbox):
    user, tok = make_user(edb)
    h = bearer(tok)
    assert client.get("/api/payment/razorpay-key", headers=h).json() == {"razorpay_key": "rzp_test_sandbox"}
    assert_error(client.post("/api/payment/create-order", headers=h, json={"amount": 5}), 400, "below_minimum")
    o = client.post("/api/payment/create-order", headers=h, json={"amount": "250.75"}).json()["order"]
    assert o["amount"] == 250.75 and o["amount_paise"] == 25075 and o["currency"] == "INR"
    paid = control(sandbox, f"orders/{o['order_id']}/pay")
    body = {k: paid[k] for k in ("razorpay_order_id", "razorpay_payment_id", "razorpay_signature")}
    forged = dict(body, razorpay_signature="0" * 64)
    assert_error(client.post("/api/payment/verify", headers=h, json=dict(forged, amount=250.75)), 400,
                 "invalid_payment")
    r = client.post("/api/payment/verify", headers=h, json=dict(body, amount=1_00_000))
    assert r.status_code == 200, r.text
    assert r.json()["amount_paise"] == 25075 and r.json()["balance_paise"] == 25075  # the order's amount
    again = client.post("/api/payment/verify", headers=h, json=body).json()
    assert again["balance_paise"] == 25075
    assert ledger.get_wallet(edb, user).balance == 25075


def test_payment_link_status_reconciles_and_credits_once(client, edb, sandbox):
    user, tok = make_user(edb)
    h = bearer(tok)
    link = client.post("/api/payment/payment-link", headers=h, json={"amount": 100}).json()
    assert link["status"] == "created" and link["amount_paise"] == 10000 and link["short_url"].startswith("http")
    st = client.get(f"/api/payment/payment-link/{link['payment_link_id']}", headers=h).json()
    assert st["status"] == "created" and st["credited_paise"] == 0
    control(sandbox, f"links/{link['payment_link_id']}/pay")
    st = client.get(f"/api/payment/payment-link/{link['payment_link_id']}", headers=h).json()
    assert (st["status"], st["credited_paise"], st["credited_now_paise"], st["credited"]) == ("paid", 10000, 10000, 100)
    st = client.get(f"/api/payment/payment-link/{link['payment_link_id']}", headers=h).json()
    assert st["credited_now_paise"] == 0 and ledger.get_wallet(edb, user).balance == 10000
    assert_error(client.get("/api/payment/payment-link/plink_doesnotexist1", headers=h), 404, "not_found")


def test_webhooks_over_http_check_the_signature_and_credit_once(edb, sandbox):
    """The API served by uvicorn; the sandbox delivers every webhook twice (duplicate_probability=1) and
    then again on redelivery; the wallet is credited exactly once. Forged or altered bodies get 400."""
    from sandbox.razorpay_server import DEFAULT_WEBHOOK_SECRET, run_in_thread
    api = run_in_thread(create_app(db=edb))
    try:
        hook = api.url + "/api/payment/webhook"
        control(sandbox, "config", webhook_url=hook)
        user, tok = make_user(edb)
        with httpx.Client(base_url=api.url, headers=bearer(tok), trust_env=False, timeout=10) as c:
            link = c.post("/api/payment/payment-link", json={"amount": 321}).json()
            control(sandbox, f"links/{link['payment_link_id']}/pay")
            assert sandbox.sandbox.webhooks.wait_idle(20)
            control(sandbox, "webhooks/redeliver")
            assert sandbox.sandbox.webhooks.wait_idle(20)
            deliveries = sandbox.sandbox.webhooks.snapshot()
            assert len(deliveries) >= 4 and all(d["http_status"] == 200 for d in deliveries), deliveries
            assert len({d["event_id"] for d in deliveries}) < len(deliveries)  # there were re-deliveries
            assert ledger.get_wallet(edb, user).balance == 32100
            assert c.get("/api/wallet/balance").json()["balance_paise"] == 32100

            body = deliveries[0]["body"].encode()
            good_sig = hmac.new(DEFAULT_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
            altered = body.replace(b"32100", b"99900")
            for content, sig in ((body, "0" * 64), (altered, good_sig), (body, None),
                                 (json.dumps(json.loads(body), indent=1).encode(), good_sig)):
                headers = {"Content-Type": "application/json", "X-Razorpay-Event-Id": "evt_forged000001"}
                if sig:
                    headers["X-Razorpay-Signature"] = sig
                r = httpx.post(hook, content=content, headers=headers, trust_env=False, timeout=10)
                assert_error(r, 400, "invalid_payment")
            # a replay of the genuine bytes (a Razorpay retry) is answered 200 and credits nothing more
            r = httpx.post(hook, content=body, trust_env=False, timeout=10,
                           headers={"X-Razorpay-Signature": good_sig, "Content-Type": "application/json",
                                    "X-Razorpay-Event-Id": deliveries[0]["event_id"]})
            assert r.status_code == 200
            assert ledger.get_wallet(edb, user).balance == 32100
    finally:
        api.stop()


# ------------------------------------------------------------------------------- typed seams

def _twins_ok(schema: dict, name: str) -> list[str]:
    """Problems with the rupee twins of one component schema of /openapi.json."""
    props, required = schema.get("properties", {}), set(schema.get("required", ()))
    bad = []
    for key in props:
        if not key.endswith("_paise"):
            continue
        twin = key[:-len("_paise")]
        kinds = {s.get("type") for s in props.get(twin, {}).get("anyOf", [props.get(twin, {})])}
        if "number" not in kinds:
            bad.append(f"{name}.{key} has no rupee twin {twin!r} of type number")
        elif twin not in required:
            bad.append(f"{name}.{twin} is not always present")
    return bad


def test_every_paise_field_goes_out_with_its_rupee_twin(client, admin, edb):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    out = [n for n in schemas if n.endswith("Out") or n.endswith("Out-Output")]
    assert len(out) >= 15
    problems = [p for n in out for p in _twins_ok(schemas[n], n)]
    assert problems == []
    assert sum(k.endswith("_paise") for n in out for k in schemas[n].get("properties", {})) >= 25
    # and in the JSON itself: each twin is exactly its paise / 100
    user, _ = make_user(edb)
    credit(client, admin, user, "1234.56")
    s = client.get("/api/admin/summary", headers=admin)
    raw = json.loads(s.text, parse_float=str)
    from decimal import Decimal

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k.endswith("_paise") and x is not None:
                    assert Decimal(str(v[k[:-len("_paise")]])) * 100 == int(x), (k, v)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(raw)
    assert raw["total_balance"] == "1234.56" and raw["top_balances"][0]["balance"] == "1234.56"


def test_routes_name_their_dependencies_through_the_typed_aliases():
    """api/deps.py alone calls Depends(): routes say `user: CurrentUser, db: DB`, never `x=Depends(...)`."""
    from pathlib import Path
    api_dir = Path(__file__).resolve().parent.parent / "api"
    offenders = [p.name for p in api_dir.glob("*.py") if p.name != "deps.py" and "Depends(" in p.read_text()]
    assert offenders == []
