"""Database round trips per hot API request, counted, not timed: a change that adds one to the hot path
fails here, not in a benchmark.

The API runs in process (TestClient) on real pymongo talking to mongoeco's wire server; pymongo's
command monitoring counts every command a request sends (find, update, insert, delete, aggregate...).
The budgets come from the profile of bench/api.py (bench/PROFILE-api.txt): each request does the reads
it needs once and no more; the comment on each budget says what the round trips are.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid

import httpx
import pymongo
import pytest
from fastapi.testclient import TestClient
from pymongo import monitoring

from api.main import create_app
from services import ledger, schema, settings, tokens
from services.ledger import burn
from tests.support.api import bearer, make_user

# The budgets: round trips per request of a process that is serving (caches warm).
# The token, the settings, rate plans, user overrides and the burn order of credit lots come from the process's
# caches (0); the user is read on every request (1: a role change counts on the next request,
# tests/test_api_access.py).
START = 5          # read the user; insert the call (before any hold, for recovery); list it under its day (the call
                   # history's index: services.calls.days); read the wallet; hold (wallet compare-and-set, which keeps
                   # the grant: the hold is the activation). Before: 12 (token, user, 6 settings reads); 6 with a
                   # guarded "activate" write.
UPDATE = 4         # read the user; read the call; read the wallet (the grant lives in the hold; the compare-and-set
                   # starts from this read); extend the hold, with its grant, in that one write. Before: 7 (token,
                   # user, the user's overrides); 5 with the grant on the call.
QUIET_UPDATE = 3   # an update with nothing new to hold or record: read the user, the call, the wallet (its grant).
                   # 2 when the grant was on the call, which cost an update write per extension.
END = 6            # read the user; read the call; read the wallet (where it stands; the settle starts from it);
                   # settle (compare-and-set; the entry carries what is billed: the recovery point); insert the ledger
                   # entry; complete the call. Before: 8; then 7 with an "ending" write.
BALANCE = 2        # read the user, the wallet (the role comes with the user). Before: 5.
# Of those, the writes (each holds the embedded engine's one write lock; on MongoDB, a majority round trip).
# A billed call that starts, reports usage once and ends makes 7 (10 before the grant moved into the hold;
# issue 30 takes it to 4):
START_WRITES = 3   # insert the call, list it under its day, hold
UPDATE_WRITES = 1  # extend the hold (with the grant)
END_WRITES = 3     # settle (compare-and-set), the ledger entry, completed
WRITES = ("insert", "update", "delete", "findAndModify")
# Webhooks (services.payments; budgets as measured on this change, nothing trimmed there yet):
WEBHOOK_CREDIT = 15     # payment_link.paid: store the event, the link's claim and credit (ledger key, wallet
                        # read + compare-and-set, entry, key done), the link's status, the event done
WEBHOOK_SETTLED = 7     # order.paid / payment.captured of a link already credited: store, find the link,
                        # note the event on it, mark the event done
WEBHOOK_DUPLICATE = 2   # a redelivery: the insert that finds the event id, and its stored state

# Handshakes and server monitoring are the driver's, not the request's.
_IGNORED = {"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo", "saslStart", "saslContinue"}


class Counter(monitoring.CommandListener):
    def __init__(self):
        self._lock = threading.Lock()
        self.commands: list[str] = []

    def started(self, event):
        if event.command_name not in _IGNORED:
            coll = event.command.get(event.command_name)
            with self._lock:
                self.commands.append(f"{event.command_name} {coll}")

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def take(self) -> list[str]:
        with self._lock:
            out, self.commands = self.commands, []
        return out


@pytest.fixture
def counted(wire_server, request):
    """(db, counter): a fresh database on the wire server whose commands are counted."""
    counter = Counter()
    client = pymongo.MongoClient(wire_server.uri, tz_aware=True, event_listeners=[counter],
                                 serverSelectionTimeoutMS=5000)
    request.addfinalizer(client.close)
    db = client["ops_" + uuid.uuid4().hex[:12]]
    schema.ensure_schema(db)
    return db, counter


@pytest.fixture
def api(counted, monkeypatch):
    # Steady state, whatever the pace of this test: the stamp and token checks are timed elsewhere.
    monkeypatch.setattr(settings, "STAMP_CHECK_SECONDS", 3600.0)
    monkeypatch.setattr(tokens, "CACHE_SECONDS", 3600.0)
    monkeypatch.setattr(burn, "CHECK_SECONDS", 3600.0)
    db, counter = counted
    with TestClient(create_app(db=db), raise_server_exceptions=False) as c:
        yield c, db, counter


def _ops(counter: Counter, call):
    counter.take()
    r = call()
    assert r.status_code == 200, r.text
    return r, counter.take()


def _writes(ops: list[str]) -> int:
    return sum(1 for op in ops if op.split()[0] in WRITES)


def _warm(c, h):
    """One request first: the per-process caches (settings, plans, the token) fill once per process or
    per second, not per request; the budgets are for a process that is serving."""
    assert c.get("/api/wallet/balance", headers=h).status_code == 200


def test_call_start_update_end_and_balance_stay_within_their_round_trips(api):
    c, db, counter = api
    user, tok = make_user(db)
    ledger.post(db, user, key="seed", type=ledger.CREDIT, category="promo_credit", amount=100_000)
    h = bearer(tok)
    _warm(c, h)

    r, start_ops = _ops(counter, lambda: c.post("/api/call", headers=h,
                                                json={"to_number": "+919876543210", "kb_id": "kb1", "max_minutes": 15}))
    cid = r.json()["call_id"]
    _, update_ops = _ops(counter, lambda: c.post(f"/api/call/{cid}/update", headers=h, json={"usage_seconds": 290}))
    _, quiet_ops = _ops(counter, lambda: c.post(f"/api/call/{cid}/update", headers=h, json={"usage_seconds": 30}))
    _, end_ops = _ops(counter, lambda: c.post(f"/api/call/{cid}/end", headers=h, json={"duration_seconds": 400}))
    _, balance_ops = _ops(counter, lambda: c.get("/api/wallet/balance", headers=h))
    assert len(start_ops) <= START, start_ops
    assert len(update_ops) <= UPDATE, update_ops
    assert len(quiet_ops) <= QUIET_UPDATE, quiet_ops
    assert len(end_ops) <= END, end_ops
    assert len(balance_ops) <= BALANCE, balance_ops
    writes = {name: _writes(ops) for name, ops in (("start", start_ops), ("update", update_ops),
                                                    ("quiet", quiet_ops), ("end", end_ops), ("balance", balance_ops))}
    assert writes == {"start": START_WRITES, "update": UPDATE_WRITES, "quiet": 0, "end": END_WRITES, "balance": 0}, \
        (writes, start_ops, update_ops, end_ops)


def test_an_api_key_costs_no_more_round_trips_than_a_token(api):
    """A key is read from the process's cache like a token (re-read every tokens.CACHE_SECONDS) and its
    last use is written at most once a minute, never per request; its budget rides in the same hold."""
    c, db, counter = api
    user, tok = make_user(db)
    ledger.post(db, user, key="seed", type=ledger.CREDIT, category="promo_credit", amount=100_000)
    key = c.post("/api/keys", headers=bearer(tok), json={"name": "ops", "scopes": ["calls", "wallet:read"],
                                                          "daily_cap": 500, "max_concurrent_calls": 5}).json()
    h = bearer(key["secret"])
    _warm(c, h)
    r, start_ops = _ops(counter, lambda: c.post("/api/call", headers=h,
                                                json={"to_number": "+919876543210", "kb_id": "kb1", "max_minutes": 15}))
    cid = r.json()["call_id"]
    _, update_ops = _ops(counter, lambda: c.post(f"/api/call/{cid}/update", headers=h, json={"usage_seconds": 290}))
    _, end_ops = _ops(counter, lambda: c.post(f"/api/call/{cid}/end", headers=h, json={"duration_seconds": 400}))
    _, balance_ops = _ops(counter, lambda: c.get("/api/wallet/balance", headers=h))
    # A key has no user to read: one round trip fewer than a token, except the balance, which reads the
    # account's role (a person's own account has it from the user read)
    assert len(start_ops) <= START - 1, start_ops
    assert len(update_ops) <= UPDATE - 1, update_ops
    assert len(end_ops) <= END - 1, end_ops
    assert len(balance_ops) <= BALANCE, balance_ops


def test_webhook_stays_within_its_round_trips(counted, monkeypatch):
    from sandbox.razorpay_server import DEFAULT_WEBHOOK_SECRET, run_in_thread
    db, counter = counted
    sandbox = run_in_thread({"duplicate_probability": 0.0, "seed": 11})
    monkeypatch.setattr(settings, "STAMP_CHECK_SECONDS", 3600.0)
    monkeypatch.setattr(tokens, "CACHE_SECONDS", 3600.0)
    for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAZORPAY_SANDBOX_URL", sandbox.url)
    api = run_in_thread(create_app(db=db))
    try:
        hook = api.url + "/api/payment/webhook"
        httpx.post(sandbox.url + "/sandbox/config", json={"webhook_url": hook}, trust_env=False).raise_for_status()
        user, tok = make_user(db)
        with httpx.Client(base_url=api.url, headers=bearer(tok), trust_env=False, timeout=10) as c:
            assert c.get("/api/wallet/balance").status_code == 200
            link = c.post("/api/payment/payment-link", json={"amount": 321}).json()
            counter.take()
            httpx.post(f"{sandbox.url}/sandbox/links/{link['payment_link_id']}/pay", json={},
                       trust_env=False).raise_for_status()
            assert sandbox.sandbox.webhooks.wait_idle(20)
            first_ops = counter.take()
            deliveries = sandbox.sandbox.webhooks.snapshot()
            assert all(d["http_status"] == 200 for d in deliveries), deliveries
            assert ledger.get_wallet(db, user).balance == 32100
            counter.take()
            d = deliveries[0]
            body = d["body"].encode()
            sig = hmac.new(DEFAULT_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
            r = httpx.post(hook, content=body, trust_env=False, timeout=10,
                           headers={"X-Razorpay-Signature": sig, "Content-Type": "application/json",
                                    "X-Razorpay-Event-Id": d["event_id"]})
            assert r.status_code == 200
            dup_ops = counter.take()
            events = sorted(json.loads(x["body"])["event"] for x in deliveries)
            assert events == ["order.paid", "payment.captured", "payment_link.paid"], events
            assert len(first_ops) <= WEBHOOK_CREDIT + 2 * WEBHOOK_SETTLED, first_ops
            assert len(dup_ops) <= WEBHOOK_DUPLICATE, dup_ops
    finally:
        api.stop()
        sandbox.stop()


def test_a_token_revoked_elsewhere_is_refused_within_a_second(api, wire_server, monkeypatch):
    """The token cache is per process: a logout in another process (here: another client of the same
    database) is honoured within 1 s; one in this process at once."""
    c, db, _ = api
    monkeypatch.setattr(tokens, "CACHE_SECONDS", 0.5)  # the shipped value (the fixture raised it)
    user, tok = make_user(db)
    h = bearer(tok)
    assert c.get("/api/wallet/balance", headers=h).status_code == 200
    other = pymongo.MongoClient(wire_server.uri, tz_aware=True)[db.name]
    try:
        assert tokens.revoke(other, tok)
        t0 = time.monotonic()
        while c.get("/api/wallet/balance", headers=h).status_code == 200:
            assert time.monotonic() - t0 < 1.0, "a revoked token still worked after 1 s"
            time.sleep(0.05)
        assert c.get("/api/wallet/balance", headers=h).status_code == 401
    finally:
        other.client.close()
    tok2 = tokens.issue(db, user)
    h2 = bearer(tok2)
    assert c.get("/api/wallet/balance", headers=h2).status_code == 200
    tokens.revoke(db, tok2)
    assert c.get("/api/wallet/balance", headers=h2).status_code == 401  # same process: no delay


def test_settings_are_reloaded_when_their_stamp_moves(counted, wire_server, monkeypatch):
    """A stamp check is one round trip; a change through another client of the database is seen at
    the next check, one made here at once."""
    db, counter = counted
    monkeypatch.setattr(settings, "STAMP_CHECK_SECONDS", 3600.0)
    assert settings.get(db)["min_call_balance_paise"] == settings.DEFAULTS["min_call_balance_paise"]
    counter.take()
    settings.get(db)
    assert counter.take() == []
    other = pymongo.MongoClient(wire_server.uri, tz_aware=True)[db.name]
    try:
        settings.set_value(other, "min_call_balance_paise", 2500, by="test")
        assert settings.get(db)["min_call_balance_paise"] == settings.DEFAULTS["min_call_balance_paise"]
        monkeypatch.setattr(settings, "STAMP_CHECK_SECONDS", 0.0)
        assert settings.get(db)["min_call_balance_paise"] == 2500  # the stamp moved: reloaded
        counter.take()
        settings.get(db)
        assert counter.take() == ["find settings"]  # unchanged stamp: one point read, nothing reloaded
    finally:
        other.client.close()
    settings.set_value(db, "min_call_balance_paise", 3000, by="test")
    monkeypatch.setattr(settings, "STAMP_CHECK_SECONDS", 3600.0)
    assert settings.get(db)["min_call_balance_paise"] == 3000
