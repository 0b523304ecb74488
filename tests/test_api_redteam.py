"""Issue 23, the items a red team got through over HTTP: invisible passwords (1), IPv4 wrapped in IPv6
and multicast webhooks (3), a signed payment in USD (4), formula cells behind invisible characters (6),
date bounds that contradicted their message (7) and calls cut early after money came back (8).

Each test drives the API as the attacker did and failed on main before the fix (checked by stashing the
fix): a password of eight NULs signed up and `""` signed in to it; the wrapped addresses were saved and
tried; the USD payment was credited as rupees; the cells were exported unquoted; 1900-01-01 was refused
"between 1900 and 2999"; the calls stayed at their 300 s end. The `make run` items (2, 5, 9) are in
tests/test_run_side_by_side.py.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json

import pytest
from fastapi.testclient import TestClient

from sandbox.razorpay_server import DEFAULT_WEBHOOK_SECRET
from services import accounts, alerts, ledger, passwords
from tests.support.api import PASSWORD, bearer, make_user
from tests.support.dashboard import app as dashboard, texts

JSON = {"Content-Type": "application/json"}


def _signup(client, password: str, username: str = "nulluser"):
    return client.post("/api/auth/signup", json={"username": username, "password": password,
                                                 "name": "Null User", "email": "null@example.com"})


def _login(client, username: str, password: str, address: str):
    with TestClient(client.app, client=(address, 4000)) as c:  # each try from its own address: no throttle
        return c.post("/api/auth/login", json={"username": username, "password": password})


# ------------------------------------------------------------------------------ 1. passwords

@pytest.mark.parametrize("password", ["\x00" * 8, "\x00" * 9, "\u200b" * 8, "\ufeff" * 10,
                                      "abc\u200b\u200b\u200b\u200b\u200b", "abcd    \u2060\u2060", "\u00ad" * 8 + "ab"])
def test_1_a_password_of_invisible_characters_is_refused_at_sign_up(client, edb, password):
    r = _signup(client, password)
    assert r.status_code == 400, r.text
    assert "invisible characters and spaces do not count" in r.json()["error"]["message"] or \
        "only spaces" in r.json()["error"]["message"], r.text
    assert edb.users.count_documents({"_id": "nulluser"}) == 0


def test_1_a_password_with_enough_visible_characters_still_signs_up(client, edb):
    r = _signup(client, "a\u200bgood-pass-phrase")  # an invisible character among enough visible ones
    assert r.status_code == 201, r.text


def test_1_an_empty_password_never_signs_in_to_an_account_whose_password_was_nuls(client, edb):
    """An account made before the rule with eight NULs (bcrypt repeats the key with a NUL between the
    repeats, so "" and 1, 7 or 9 NULs all hashed alike): no password the rules refuse is compared."""
    accounts.create_user(edb, "oldnul", PASSWORD, "Old Nul", "oldnul@example.com")
    edb.users.update_one({"_id": "oldnul"}, {"$set": {"password_hash": passwords.hash_password("\x00" * 8)}})
    for i, pw in enumerate(["", "\x00", "\x00" * 7, "\x00" * 8, "\x00" * 9, "\u200b" * 8]):
        r = _login(client, "oldnul", pw, f"198.51.100.{i + 1}")
        assert r.status_code == 401, (repr(pw), r.text)
    # the owner of an ordinary account still signs in
    make_user(edb, name="plainuser")
    assert _login(client, "plainuser", PASSWORD, "198.51.100.99").status_code == 200


def test_1_the_dashboard_sign_up_refuses_eight_zero_width_spaces(adb):
    at = dashboard().run()
    form = {"Choose a username": "zwsp_user", "Your name": "Zero Width", "Email": "zw@example.com",
            "Choose a password": "\u200b" * 8, "Repeat the password": "\u200b" * 8}
    for ti in at.text_input:
        if ti.label in form:
            ti.input(form[ti.label])
    next(b for b in at.button if b.label == "Create account").click().run()
    assert "invisible characters" in texts(at.error), texts(at.error)
    assert adb.users.count_documents({"_id": "zwsp_user"}) == 0


# ------------------------------------------------------------------------------ 3. webhook addresses

WRAPPED = ["http://[64:ff9b::a9fe:a9fe]/", "http://[64:ff9b::a00:1]/", "http://[::a9fe:a9fe]/",
           "http://[::127.0.0.1]/", "http://224.0.0.1/", "http://[::ffff:169.254.169.254]/",
           "http://[2002:a9fe:a9fe::1]/", "http://[64:ff9b:1::808:808]/", "http://[ff02::1]/",
           "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/"]


@pytest.fixture
def customer(client, edb, monkeypatch):
    monkeypatch.delenv("WALLET_WEBHOOK_PRIVATE_OK", raising=False)
    user, token = make_user(edb)
    return user, bearer(token)


@pytest.mark.parametrize("url", WRAPPED)
def test_3_a_webhook_at_a_wrapped_or_multicast_address_is_refused_when_saved(client, edb, customer, url):
    user, h = customer
    r = client.put("/api/notifications/settings", headers=h, json={"webhook_url": url})
    assert r.status_code == 400 and "private or local" in r.json()["error"]["message"], r.text
    assert alerts.get_prefs(edb, user).webhook_url == ""  # nothing written


def test_3_a_global_address_wrapped_the_same_ways_is_accepted(client, customer):
    _, h = customer
    for url in ("http://[64:ff9b::808:808]/hook", "http://8.8.8.8/hook", "http://[2606:4700::1111]/hook"):
        r = client.put("/api/notifications/settings", headers=h, json={"webhook_url": url})
        assert r.status_code == 200, (url, r.text)


@pytest.mark.parametrize("url", WRAPPED[:5])
def test_3_a_wrapped_address_saved_before_is_refused_at_send_time(client, edb, customer, monkeypatch, url):
    """Saved while the operator allowed private addresses (or before this rule): the try after resolving
    the name refuses it and logs why; nothing is sent."""
    user, h = customer
    monkeypatch.setenv("WALLET_WEBHOOK_PRIVATE_OK", "1")
    alerts.update(edb, user, webhook_url=url)
    monkeypatch.delenv("WALLET_WEBHOOK_PRIVATE_OK")
    t = client.post("/api/notifications/webhook/test", headers=h).json()
    assert t["ok"] is False and "private or local" in t["error"], t
    log = client.get("/api/notifications/webhook/deliveries", headers=h).json()
    assert "private or local" in json.dumps(log), log


# ------------------------------------------------------------------------------ 4. currency

def _signed_link_paid(sb, plink_id: str, pay_id: str, currency: str) -> tuple[bytes, dict]:
    """What a correctly signed payment_link.paid carries for our link, the payment in `currency`."""
    link = {k: v for k, v in sb.links[plink_id].items() if k != "payments"}
    link.update(status="paid", amount_paid=link["amount"])
    pay = {"id": pay_id, "entity": "payment", "amount": link["amount"], "currency": currency,
           "status": "captured", "captured": True, "method": "card", "order_id": link.get("order_id"),
           "notes": {"reference_id": link["reference_id"]}}
    body = json.dumps({"entity": "event", "event": "payment_link.paid", "contains": ["payment_link", "payment"],
                       "payload": {"payment_link": {"entity": link}, "payment": {"entity": pay}}}).encode()
    sig = hmac.new(DEFAULT_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, dict(JSON, **{"X-Razorpay-Signature": sig, "X-Razorpay-Event-Id": "evt_" + pay_id[4:]})


def test_4_a_signed_payment_link_paid_in_usd_is_refused_logged_and_shown_to_admins(client, edb, sandbox):
    user, token = make_user(edb)
    _, admin = make_user(edb, "admin")
    links = [client.post("/api/payment/payment-link", headers=bearer(token), json={"amount": 100}).json()
             for _ in range(2)]
    usd = _signed_link_paid(sandbox.sandbox, links[0]["payment_link_id"], "pay_usd0000000001", "USD")
    r = client.post("/api/payment/webhook", content=usd[0], headers=usd[1])
    assert r.status_code == 200, r.text
    assert ledger.get_wallet(edb, user).balance == 0  # 10,000 US cents were not credited as Rs. 100
    assert client.get(f"/api/payment/payment-link/{links[0]['payment_link_id']}",
                      headers=bearer(token)).json()["status"] != "paid"
    shown = client.get("/api/admin/summary", headers=bearer(admin)).json()["failed_payments"]
    row = next(f for f in shown if f["payment_id"] == "pay_usd0000000001")
    assert row["kind"] == "suspicious" and "USD" in row["reason"] and row["user_id"] == user, row
    # The same event in INR, on the other link, credits: only the currency decided.
    inr = _signed_link_paid(sandbox.sandbox, links[1]["payment_link_id"], "pay_inr0000000001", "INR")
    assert client.post("/api/payment/webhook", content=inr[0], headers=inr[1]).status_code == 200
    assert ledger.get_wallet(edb, user).balance == 10_000
    assert ledger.audit(edb) == []


# ------------------------------------------------------------------------------ 6. CSV cells

CELLS = ["\ufeff=HYPERLINK(\"http://x\")", "\u200b+91", "\u200c-5+5", "\u200d@SUM(A1)", "\u2060=1+1",
         "\u200e=1+1", "\u200f=cmd|' /C calc'!A0", "|calc", "\uff5ccalc", "%APPDATA%", "\ufeff\u200b=1"]


def test_6_cells_behind_invisible_characters_or_starting_with_a_pipe_or_percent_are_neutralised(client, edb):
    _, admin = make_user(edb, "admin")
    user, token = make_user(edb)
    for i, reason in enumerate(CELLS):
        r = client.post("/api/admin/credit", headers=bearer(admin), json={
            "user_id": user, "amount": 1, "category": "promo_credit", "reason": reason, "idempotency_key": f"c{i}"})
        assert r.status_code == 200, (repr(reason), r.text)
    r = client.get("/api/transactions/download", headers=bearer(token))
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    notes = [row[10] for row in rows[1:]]
    assert notes == ["'" + c for c in CELLS], notes


# ------------------------------------------------------------------------------ 7. date bounds

@pytest.mark.parametrize("query,status", [
    ("from=1900-01-01", 200), ("to=2999-12-31", 200), ("from=1900-01-01T00:00:00", 200),
    ("to=2999-12-31T23:59:59-12:00", 200), ("from=1899-12-31", 400), ("to=3000-01-01", 400),
    ("from=1899-12-31T23:59:59+00:00", 400), ("from=0001-01-01", 400), ("to=9999-12-31", 400)])
def test_7_the_date_bounds_are_the_years_the_message_names(client, edb, query, status):
    _, token = make_user(edb)
    for path in ("/api/transactions", "/api/transactions/download"):
        r = client.get(f"{path}?{query}", headers=bearer(token))
        assert r.status_code == status, (path, query, r.text[:300])
        if status == 400:
            assert "between 1900 and 2999" in r.json()["error"]["message"], r.text


# ------------------------------------------------------------------------------ 8. rolling authorisation

def _update(client, h, call_id: str, usage: int) -> dict:
    r = client.post(f"/api/call/{call_id}/update", headers=h, json={"usage_seconds": usage})
    assert r.status_code == 200, r.text
    return r.json()


def test_8_calls_told_an_end_while_money_was_contended_are_extended_when_it_comes_back(client, edb):
    """Rs. 300 at Rs. 10/min. D holds 15 minutes; A, B, C hold 5 minutes each: nothing is free, so their
    next updates are told to end at 300 s. D ends at 100 s and Rs. 133.33 comes back: the next update of
    each of A, B, C holds more (a whole slice for A and B, what is left for C), never past zero."""
    _, admin = make_user(edb, "admin")
    user, token = make_user(edb)
    h = bearer(token)
    r = client.post("/api/admin/credit", headers=bearer(admin), json={
        "user_id": user, "amount": 300, "category": "promo_credit", "reason": "calls", "idempotency_key": "f"})
    assert r.status_code == 200, r.text
    call = {"to_number": "+919876543210", "kb_id": "kb_sales", "max_minutes": 20}
    d = client.post("/api/call", headers=h, json=call).json()
    _update(client, h, d["call_id"], 250)
    assert _update(client, h, d["call_id"], 550)["held_paise"] == 15_000
    abc = [client.post("/api/call", headers=h, json=call).json() for _ in range(3)]
    assert [c["held_paise"] for c in abc] == [5000] * 3 and ledger.get_wallet(edb, user).available == 0
    told = [_update(client, h, c["call_id"], 250) for c in abc]
    assert [(g["end_at_seconds"], g["authorized_seconds"]) for g in told] == [(300, 300)] * 3

    ended = client.post(f"/api/call/{d['call_id']}/end", headers=h, json={"duration_seconds": 100}).json()
    assert ended["cost_paise"] == 1667  # 13,333 paise come back

    grown = [_update(client, h, c["call_id"], 260) for c in abc]
    assert [(g["authorized_seconds"], g["end_at_seconds"]) for g in grown[:2]] == [(600, None)] * 2, grown
    assert 300 < grown[2]["authorized_seconds"] == grown[2]["end_at_seconds"] < 600, grown[2]
    assert [g["held_paise"] for g in grown] == [10_000, 10_000, 8333], grown
    w = ledger.get_wallet(edb, user)
    assert (w.available, w.held) == (0, 28_333)
    assert _update(client, h, abc[2]["call_id"], 270)["end_at_seconds"] == grown[2]["end_at_seconds"]  # no more
    bills = [client.post(f"/api/call/{c['call_id']}/end", headers=h, json={"duration_seconds": 1200}).json()
             for c in abc]
    assert [b["billed_seconds"] for b in bills] == [600, 600, grown[2]["authorized_seconds"]]
    w = ledger.get_wallet(edb, user)
    assert w.balance >= 0 and w.held == 0 and ledger.audit(edb) == []
    assert w.balance == 30_000 - 1667 - sum(b["cost_paise"] for b in bills)
