"""The API's access matrix: every endpoint x (no token, expired token, the user, another user, analyst,
admin) -> the status the access rules promise (api/__init__.py has the table).

Columns: `anon` no Authorization header; `expired` the owner's token past its expiry; `owner` user A acting
on A's own data (A owns the payment link and the call below); `other` user B (also used on A's link and
call: must be 404, and A's data unchanged); `analyst`, `admin` acting on their own wallets, and on A's link
and call (also 404: admin powers live only under /api/admin and set-call-rate).
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from services import accounts, schema
from services import autorecharge, calls, clock, db as dbmod, documents, ledger, payments, settings, tokens, \
    usage, users, wallet
from services.errors import NotFound
from services.payments import screening
from tests.support.api import PASSWORD, bearer
from tests.support.payments import control

COLUMNS = ("anon", "expired", "owner", "other", "analyst", "admin")
OK, AUTH, ROLE, GONE = 200, 401, 403, 404
_n = itertools.count(1)


def everyone(ok):
    return {"anon": AUTH, "expired": AUTH, "owner": ok, "other": ok, "analyst": ok, "admin": ok}


PUBLIC = lambda ok: {c: ok for c in COLUMNS}  # noqa: E731
OWN_RESOURCE = {"anon": AUTH, "expired": AUTH, "owner": OK, "other": GONE, "analyst": GONE, "admin": GONE}
ADMIN_ONLY = {"anon": AUTH, "expired": AUTH, "owner": ROLE, "other": ROLE, "analyst": ROLE, "admin": OK}
REPORTING = {"anon": AUTH, "expired": AUTH, "owner": ROLE, "other": ROLE, "analyst": OK, "admin": OK}


def _signup(ctx, col):
    return {"username": f"new{next(_n)}{col[:3]}", "password": PASSWORD, "name": "New", "email": "n@example.com"}


def _verify(ctx, col):
    """A paid Checkout order: the caller's own, except `other`, who replays A's."""
    owner = ctx["names"]["owner" if col in ("other", "anon", "expired") else col]
    order = payments.create_order(ctx["db"], owner, 100)
    paid = control(ctx["sandbox"], f"orders/{order['order_id']}/pay")
    return {k: paid[k] for k in ("razorpay_order_id", "razorpay_payment_id", "razorpay_signature")} | {"amount": 100}


def _paid(ctx, user_id: str, rupees: int = 100) -> str:
    """A recharge of `user_id` paid on the sandbox and credited; its payment link id."""
    plink = payments.create_payment_link(ctx["db"], user_id, rupees)["payment_link_id"]
    control(ctx["sandbox"], f"links/{plink}/pay")
    payments.reconcile_link(ctx["db"], plink, user_id=user_id)
    return plink


def _refund_request(ctx, col):
    """Rs. 1 back from a recharge the caller just paid (nothing for callers who are refused anyway)."""
    if col not in ("anon", "expired"):
        _paid(ctx, ctx["names"][col])
    return {"amount": 1}


def _certificate(ctx, col):
    """A Form 16A upload: each caller's own certificate number (a repeat would be refused as uploaded already)."""
    return {"quarter": "2026-27 Q3", "certificate": f"CERT{next(_n)}{col[:3].upper()}", "amount": "20",
            "pdf_base64": base64.b64encode(b"%PDF-1.4 form 16A").decode()}


def _webhook_headers(ctx, col):
    return {"X-Razorpay-Signature": "0" * 64, "X-Razorpay-Event-Id": "evt_" + uuid.uuid4().hex[:14]}


ENDPOINTS = {
    # name: (method, path, body or body(ctx, col), extra headers(ctx, col) or None, expected per column)
    "signup": ("POST", "/api/auth/signup", _signup, None, PUBLIC(201)),
    "login": ("POST", "/api/auth/login", lambda c, col: {"username": c["names"]["owner"], "password": PASSWORD},
              None, PUBLIC(OK)),
    "logout": ("POST", "/api/auth/logout", None, None, everyone(OK)),
    "me": ("GET", "/api/auth/me", None, None, everyone(OK)),
    "balance": ("GET", "/api/wallet/balance", None, None, everyone(OK)),
    "set_call_rate": ("POST", "/api/wallet/set-call-rate?rate=10", None, None, ADMIN_ONLY),
    "razorpay_key": ("GET", "/api/payment/razorpay-key", None, None, everyone(OK)),
    "create_order": ("POST", "/api/payment/create-order", {"amount": 100}, None, everyone(OK)),
    "verify": ("POST", "/api/payment/verify", _verify, None, everyone(OK) | {"other": 400}),
    "create_link": ("POST", "/api/payment/payment-link", {"amount": "250.50"}, None, everyone(OK)),
    "link_status": ("GET", "/api/payment/payment-link/{link}", None, None, OWN_RESOURCE),
    "cancel_link": ("POST", "/api/payment/payment-link/{cancel}/cancel", None, None, OWN_RESOURCE),
    # The webhook's only credential is Razorpay's signature: a token neither helps nor is needed.
    "webhook": ("POST", "/api/payment/webhook", {"event": "payment.captured"}, _webhook_headers, PUBLIC(400)),
    "transactions": ("GET", "/api/transactions", None, None, everyone(OK)),
    "download": ("GET", "/api/transactions/download", None, None, everyone(OK)),
    "start_call": ("POST", "/api/call", {"to_number": "+919876543210", "kb_id": "kb1", "max_minutes": 2}, None,
                   everyone(OK)),
    "end_call": ("POST", "/api/call/{call}/end", {"duration_seconds": 30}, None, OWN_RESOURCE),
    "update_call": ("POST", "/api/call/{call2}/update", {"usage_seconds": 30}, None, OWN_RESOURCE),
    "terms": ("GET", "/api/wallet/terms", None, None, everyone(OK)),
    "bank_account": ("GET", "/api/wallet/bank-account", None, None, everyone(OK)),
    "upi_qr": ("POST", "/api/wallet/upi-qr", {"amount": 500}, None, everyone(OK)),
    "fixed_upi_qr": ("GET", "/api/wallet/upi-qr", None, None, everyone(OK)),
    "allowed_payers": ("PUT", "/api/wallet/bank-account/allowed-payers", {"accounts": ["50200012345678"]}, None,
                       everyone(OK)),
    "held_transfers": ("GET", "/api/admin/bank-transfers", None, None, ADMIN_ONLY),
    "tds_customer": ("PUT", "/api/admin/tds/customers/{owner}", {"rate_bp": 200}, None, ADMIN_ONLY),
    "tds_certificate": ("POST", "/api/tds/certificates", _certificate, None, everyone(OK)),
    "tds_verify": ("POST", "/api/admin/tds/certificates/nobody:NOSUCH1/verify", None, None,
                   ADMIN_ONLY | {"admin": GONE}),
    "tds_report": ("GET", "/api/admin/tds/report", None, None, REPORTING),
    # Not reconciled yet (the matrix's database has no settlement day): staff get that far, told so.
    "settlements": ("GET", "/api/admin/settlements/2026-01-01", None, None, REPORTING | {"analyst": 404, "admin": 404}),
    "settlements_csv": ("GET", "/api/admin/settlements/2026-01-01.csv", None, None,
                        REPORTING | {"analyst": 404, "admin": 404}),
    "settlements_run": ("POST", "/api/admin/settlements/2026-01-01/reconcile", None, None, ADMIN_ONLY),
    "release_transfer": ("POST", "/api/admin/bank-transfers/pay_NoSuchPayment1/release", None, None,
                         ADMIN_ONLY | {"admin": GONE}),
    "plans": ("GET", "/api/admin/plans", None, None, ADMIN_ONLY),
    "define_plan": ("PUT", "/api/admin/plans/matrix", {"rate": 9}, None, ADMIN_ONLY),
    "customer_terms": ("POST", "/api/admin/customers/{owner}/terms", {"max_concurrent_calls": 12}, None,
                       ADMIN_ONLY),
    "admin_credit": ("POST", "/api/admin/credit", lambda c, col: {"user_id": c["names"]["owner"], "amount": 1,
                                                                  "category": "promo_credit", "reason": "matrix"},
                     None, ADMIN_ONLY),
    "admin_summary": ("GET", "/api/admin/summary", None, None, REPORTING),
    # Changing one's own password to the same one: allowed, and it ends only the caller's own sessions.
    "change_password": ("POST", "/api/auth/password", {"current_password": PASSWORD, "new_password": PASSWORD},
                        None, everyone(OK)),
    # User administration acts on "tim", a user outside the matrix (disable runs before enable).
    "users_locked": ("GET", "/api/admin/users/locked", None, None, ADMIN_ONLY),
    "users_role": ("POST", "/api/admin/users/tim/role", {"role": "user"}, None, ADMIN_ONLY),
    "users_disable": ("POST", "/api/admin/users/tim/disable", None, None, ADMIN_ONLY),
    "users_enable": ("POST", "/api/admin/users/tim/enable", None, None, ADMIN_ONLY),
    "users_password": ("POST", "/api/admin/users/tim/password", {"password": "a-new-secret-1"}, None, ADMIN_ONLY),
    "users_unlock": ("POST", "/api/admin/users/tim/unlock", None, None, ADMIN_ONLY),
    "health": ("GET", "/api/health", None, None, PUBLIC(OK)),
    "notifications": ("GET", "/api/notifications", None, None, everyone(OK)),
    "notifications_update": ("PUT", "/api/notifications/settings", {"thresholds": [50], "runway_days": 3}, None,
                             everyone(OK)),
    # Each caller's own webhook: nobody in the matrix has set one, so there is nothing to rotate or test.
    "notifications_rotate": ("POST", "/api/notifications/webhook/rotate-secret", None, None, everyone(400)),
    "notifications_test": ("POST", "/api/notifications/webhook/test", None, None, everyone(400)),
    "notifications_deliveries": ("GET", "/api/notifications/webhook/deliveries", None, None, everyone(OK)),
    "notifications_alerts": ("GET", "/api/notifications/alerts", None, None, everyone(OK)),
    "auto_recharge": ("GET", "/api/auto-recharge", None, None, everyone(OK)),
    "auto_recharge_set": ("PUT", "/api/auto-recharge", {"threshold": 100, "amount": 500, "monthly_cap": 1000,
                                                        "contact": "9812345678"}, None,
                          everyone(OK)),
    "auto_recharge_off": ("DELETE", "/api/auto-recharge", None, None, everyone(OK)),
    "receipts": ("GET", "/api/receipts", None, None, everyone(OK)),
    "receipt_pdf": ("GET", "/api/receipts/{receipt}.pdf", None, None, OWN_RESOURCE),
    "statement_pdf": ("GET", "/api/statements/{month}.pdf", None, None, everyone(OK)),
    "statement_csv": ("GET", "/api/statements/{month}.csv", None, None, everyone(OK)),
    "refunds": ("GET", "/api/refunds", None, None, everyone(OK)),
    "refundable": ("GET", "/api/refunds/refundable", None, None, everyone(OK)),
    "request_refund": ("POST", "/api/refunds", _refund_request, None, everyone(OK)),
    "refund_requests": ("GET", "/api/admin/refund-requests?status=approval", None, None, ADMIN_ONLY),
    "approve_refund": ("POST", "/api/admin/refund-requests/{approve}/approve", None, None, ADMIN_ONLY),
    "reject_refund": ("POST", "/api/admin/refund-requests/{reject}/reject", {"reason": "matrix"}, None, ADMIN_ONLY),
    "amounts_due": ("GET", "/api/admin/amounts-due", None, None, ADMIN_ONLY),
    "reconciliation": ("GET", "/api/admin/reconciliation?day={day}", None, None, ADMIN_ONLY),
    # Accounts and API keys: each caller acts on the account of their own (the roles on shared accounts are
    # tests/test_api_roles.py's matrix). A's key, member and invitation are 404 to everyone else.
    "accounts": ("GET", "/api/accounts", None, None, everyone(OK)),
    "account": ("GET", "/api/account", None, None, everyone(OK)),
    "members": ("GET", "/api/account/members", None, None, everyone(OK)),
    "member_role": ("PUT", "/api/account/members/alice", {"role": "owner"}, None, OWN_RESOURCE),
    "remove_member": ("DELETE", "/api/account/members/tim", None, None, everyone(GONE)),
    "invitations": ("GET", "/api/account/invitations", None, None, everyone(OK)),
    "invite": ("POST", "/api/account/invitations", {"email": "friend@example.com", "role": "viewer"}, None,
               everyone(201)),
    "withdraw_invitation": ("DELETE", "/api/account/invitations/{invitation}", None, None, OWN_RESOURCE),
    "accept_invitation": ("POST", "/api/invitations/accept", {"token": "inv_0000000000000000.not-a-real-token"},
                          None, everyone(400)),
    "account_audit": ("GET", "/api/account/audit", None, None, everyone(OK)),
    "keys_create": ("POST", "/api/keys", {"name": "matrix", "scopes": ["calls"]}, None, everyone(201)),
    "keys_list": ("GET", "/api/keys", None, None, everyone(OK)),
    "keys_revoke": ("DELETE", "/api/keys/{key}", None, None, OWN_RESOURCE),
    "keys_rotate": ("POST", "/api/keys/{key2}/rotate", {"overlap_minutes": 10}, None, OWN_RESOURCE),
    "wallet_lots": ("GET", "/api/wallet/lots", None, None, everyone(OK)),
    "balance_at": ("GET", "/api/wallet/balance?at=2026-01-01T00:00:00%2B05:30", None, None, everyone(OK)),
    "credit_batch": ("POST", "/api/admin/credit/batch", {"csv": "username,amount\ntim,1\n", "reason": "matrix"},
                     None, ADMIN_ONLY),
    "credit_void": ("POST", "/api/admin/credit/void", lambda c, col: {"user_id": "tim", "lot": c["paths"]["grant"],
                                                                      "reason": "matrix"}, None, ADMIN_ONLY),
    "customer_lots": ("GET", "/api/admin/lots/{owner}", None, None, ADMIN_ONLY),
    "breakage": ("GET", "/api/admin/breakage", None, None, REPORTING),
    "burn_rule": ("GET", "/api/admin/burn-rule", None, None, REPORTING),
    "burn_rule_set": ("PUT", "/api/admin/burn-rule", {"rule": "promo_first"}, None, ADMIN_ONLY),
    # Other services billed from the wallet (the `calls` capability), and their catalogue (the admin's).
    "usage": ("POST", "/api/usage", lambda c, col: {"service": "sms", "quantity": 1, "idempotency_key": f"m-{col}"},
              None, everyone(OK)),
    "usage_batch": ("POST", "/api/usage/batch", lambda c, col: {"events": [
        {"service": "sms", "quantity": 2, "idempotency_key": f"mb-{col}"}]}, None, everyone(OK)),
    "subscriptions": ("GET", "/api/subscriptions", None, None, everyone(OK)),
    "subscribe": ("POST", "/api/subscriptions", lambda c, col: {"service": "number", "idempotency_key": f"m-{col}"},
                  None, everyone(OK)),
    "subscription_end": ("POST", "/api/subscriptions/{sub}/end", None, None, OWN_RESOURCE),
    "services": ("GET", "/api/admin/services", None, None, REPORTING),
    "service_define": ("PUT", "/api/admin/services/sms", {"display_name": "SMS", "unit": "message",
                                                          "price_paise": 25}, None, ADMIN_ONLY),
    "service_change_cancel": ("DELETE", "/api/admin/services/sms/changes/{svc_change}", None, None, ADMIN_ONLY),
    "business": ("GET", "/api/admin/business", None, None, REPORTING),
    "business_set": ("PUT", "/api/admin/business", {"signatory": "Matrix Signer"}, None, ADMIN_ONLY),
    # No GSTIN yet: staff are let in and told so (400); customers never get that far.
    "gstr1": ("GET", "/api/admin/gst/gstr1/2026-11.json", None, None, REPORTING | {"analyst": 400, "admin": 400}),
    "gstr1_csv": ("GET", "/api/admin/gst/gstr1/2026-11/b2cs.csv", None, None,
                  REPORTING | {"analyst": 400, "admin": 400}),
    "issue_invoices": ("POST", "/api/admin/gst/invoices/2026-11", None, None, ADMIN_ONLY),
}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    from sandbox.razorpay_server import run_in_thread
    mp = pytest.MonkeyPatch()
    sb = run_in_thread({"seed": 3})
    for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        mp.delenv(name, raising=False)
    mp.setenv("RAZORPAY_SANDBOX_URL", sb.url)
    db = dbmod.open_db(uri="", name="access", path=str(tmp_path_factory.mktemp("access") / "w.sqlite"))
    schema.ensure_schema(db)
    names = {"owner": "alice", "other": "bob", "analyst": "ana", "admin": "root"}
    roles = {"owner": "user", "other": "user", "analyst": "analyst", "admin": "admin"}
    for col, name in names.items():
        accounts.create_user(db, name, PASSWORD, name.title(), f"{name}@example.com", roles[col])
        wallet.admin_credit(db, admin="root", user_id=name, amount=100, category="promo_credit",
                            reason="setup", key=f"setup-{name}")
    accounts.create_user(db, "tim", PASSWORD, "Tim", "tim@example.com")  # the user-admin endpoints' target
    link = payments.create_payment_link(db, "alice", 150)["payment_link_id"]
    call = calls.start_call(db, "alice", "+919812345678", "kb1", 2)["call_id"]
    call2 = calls.start_call(db, "alice", "+919812345679", "kb1", 10)["call_id"]
    ledger.post(db, "alice", key="access-recharge", type="credit", category="recharge", amount=100, source="pay_acc")
    documents.catch_up(db, "alice")
    receipt = documents.slug(documents.list_documents(db, "alice")[0]["number"])
    expired = tokens.issue(db, "alice", lifetime=timedelta(seconds=-1))
    alice = accounts.teams.acting(db, "alice", "alice")
    key, key2 = (accounts.keys.create(db, alice, n, ["calls"])[0].id for n in ("k1", "k2"))
    invitation = accounts.invitations.invite(db, alice, "pal@example.com", "viewer")[0]["id"]
    usage.define(db, "root", "sms", display_name="SMS", unit="message", price_paise=25)
    usage.define(db, "root", "number", display_name="Phone number", unit="number·month", price_paise=50_000)
    sub = usage.subscribe(db, "alice", "number", key="matrix")["_id"]
    svc_change = usage.prices.schedule(db, "root", "sms", clock.now() + timedelta(days=30), price_paise=30)["id"]
    app = create_app(db=db)
    with TestClient(app, raise_server_exceptions=False) as client:
        c = {"db": db, "client": client, "names": names, "link": link, "call": call, "call2": call2,
             "expired": expired, "sandbox": sb, "receipt": receipt}
        c["paths"] = {"link": link, "call": call, "call2": call2, "owner": names["owner"], "receipt": receipt,
                      "key": key, "key2": key2, "invitation": invitation, "sub": sub,
                      "svc_change": svc_change,
                      "month": clock.today().strftime("%Y-%m"), **_refund_setup(c)}
        yield c
    sb.stop()
    mp.undo()


def _refund_setup(ctx) -> dict:
    """A link of A's to cancel; two refund requests waiting for an admin (of users outside the columns);
    yesterday's reconciliation report."""
    db = ctx["db"]
    out = {"cancel": payments.create_payment_link(db, "alice", 175)["payment_link_id"]}
    settings.set_value(db, "refund_approval_required", 1, by="root")
    for who, action in (("carol", "approve"), ("dave", "reject")):
        accounts.create_user(db, who, PASSWORD, who.title(), f"{who}@example.com", "user")
        _paid(ctx, who)
        out[action] = payments.request_refund(db, who, 1, key="matrix")["request_id"]
    settings.set_value(db, "refund_approval_required", 0, by="root")
    day = (clock.now() - timedelta(days=1)).date()
    payments.reconcile_day(db, day)
    out["day"] = day.isoformat()
    out["grant"] = wallet.admin_credit(db, admin="root", user_id="tim", amount=5, category="promo_credit",
                                       reason="to void", key="matrix-void")["n"]   # the void endpoint's lot
    return out


@pytest.fixture(autouse=True)
def _forgeries_forgotten():
    """The matrix sends one forged webhook per column from one address: each must be judged alone (a
    sixth within a minute would rightly be told to slow down)."""
    screening._forged_by.clear()
    yield
    screening._forged_by.clear()


def _token(ctx, col):
    if col == "anon":
        return None
    if col == "expired":
        return ctx["expired"]
    return tokens.issue(ctx["db"], ctx["names"][col])  # fresh: `logout` revokes the one it is given


# Owner last: the others' attempts on A's link and call must find them untouched.
@pytest.mark.parametrize("col", ("anon", "expired", "other", "analyst", "admin", "owner"))
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_access(ctx, name, col):
    method, path, body, extra, expected = ENDPOINTS[name]
    db = ctx["db"]
    path = path.format(**ctx["paths"])
    headers = {}
    tok = _token(ctx, col)
    if tok:
        headers.update(bearer(tok))
    if extra:
        headers.update(extra(ctx, col))
    if callable(body):
        body = body(ctx, col)
    a_before = ledger.get_wallet(db, "alice")
    r = ctx["client"].request(method, path, json=body, headers=headers)
    assert r.status_code == expected[col], (name, col, r.text)
    if r.status_code >= 400:
        assert set(r.json()) == {"error"} and {"code", "message"} <= set(r.json()["error"])
        if r.status_code == 401:
            assert r.headers.get("www-authenticate") == "Bearer"
    if col not in ("owner", "admin") and method in ("POST", "PUT") and r.status_code >= 400:
        # a refused request by anyone but A (or the admin crediting A) leaves A's wallet as it was
        assert ledger.get_wallet(db, "alice") == a_before
    if r.status_code == 200 and col != "anon":
        me = ctx["names"][col] if col != "expired" else None
        _only_own(name, r, me, db)


def _only_own(name, r, me, db):
    """What a caller got back is theirs alone."""
    if name == "balance":
        assert r.json()["balance_paise"] == ledger.get_wallet(db, me).balance
    elif name == "transactions":
        ids = [t["id"] for t in r.json()["transactions"]]
        assert ids and all(ledger.get_entry(db, i)["user_id"] == me for i in ids)
    elif name == "download":
        rows = r.text.strip().splitlines()[1:]
        assert rows and all(row.split(",")[2] == me for row in rows)
    elif name == "me":
        assert r.json()["username"] == me
    elif name.startswith("auto_recharge"):
        assert r.json()["state"] == autorecharge.status(db, me)["state"]  # the caller's own mandate
    elif name == "notifications":
        assert r.json()["emails"] == [users.get(db, me)["email"]]  # the caller's own address, nobody else's
    elif name == "receipts":
        assert all(documents.get_document(db, d["number"])["user_id"] == me for d in r.json()["receipts"])
    elif name == "statement_csv":
        assert f"Opening balance {clock.today():%Y-%m},{me}" in r.text
    elif name == "terms":
        assert r.json()["max_concurrent_calls"] == settings.limits_for(db, me)["max_concurrent_calls"]
    elif name == "refunds":
        assert all(q["user_id"] == me for q in r.json()["requests"])
        assert all(payments.get_refund(db, f["refund_id"], me) for f in r.json()["refunds"])
    elif name == "request_refund":
        assert r.json()["user_id"] == me and r.json()["status"] == "done"


def test_others_could_not_touch_alices_call_and_link(ctx):
    """After the matrix: A's call was ended by A alone (billed once), A's other call was updated by A
    alone, A's link is still A's."""
    c = calls.get_call(ctx["db"], "alice", ctx["call"])
    assert c["status"] == "completed"
    assert c.get("billed_seconds") == 30
    assert calls.get_call(ctx["db"], "alice", ctx["call2"])["usage_seconds"] == 30
    for who in ("bob", "ana", "root"):
        with pytest.raises(NotFound):
            calls.get_call(ctx["db"], who, ctx["call"])
        with pytest.raises(NotFound):
            payments.get_link(ctx["db"], ctx["link"], user_id=who)


def test_garbage_and_wrong_scheme_tokens_are_401(ctx):
    cl = ctx["client"]
    for headers in ({"Authorization": "Bearer not-a-real-token-at-all-000000"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer "}, {"Authorization": "Bearer " + "x" * 5000}):
        r = cl.get("/api/wallet/balance", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text


def test_token_is_stored_hashed_and_dies_on_logout(ctx):
    db, cl = ctx["db"], ctx["client"]
    tok = cl.post("/api/auth/login", json={"username": "bob", "password": PASSWORD}).json()["token"]
    assert db.tokens.find_one({"_id": tok}) is None
    assert db.tokens.find_one({"_id": hashlib.sha256(tok.encode()).hexdigest()})["username"] == "bob"
    assert cl.post("/api/auth/logout", headers=bearer(tok)).status_code == 200
    assert cl.get("/api/wallet/balance", headers=bearer(tok)).status_code == 401


def test_a_role_change_takes_effect_on_the_next_request(ctx):
    """Roles are read per request, not baked into the token."""
    db, cl = ctx["db"], ctx["client"]
    accounts.create_user(db, "temp-admin", PASSWORD, "Temp", "t@example.com", "admin")
    tok = tokens.issue(db, "temp-admin")
    assert cl.get("/api/admin/summary", headers=bearer(tok)).status_code == 200
    db.users.update_one({"_id": "temp-admin"}, {"$set": {"role": "user"}})
    assert cl.get("/api/admin/summary", headers=bearer(tok)).status_code == 403


def test_the_matrix_names_every_endpoint(ctx):
    """A new endpoint without a row here would escape the access rules' test."""
    import re

    listed = {(m.lower(), p.split("?")[0]) for m, p, *_ in ENDPOINTS.values()}
    served = {(m, p) for p, ops in ctx["client"].app.openapi()["paths"].items() for m in ops
              if m in ("get", "post", "put", "patch", "delete")}

    def covered(method: str, template: str) -> bool:
        pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        return any(m == method and pattern.match(p) for m, p in listed)

    missing = {(m, p) for m, p in served if not covered(m, p)}
    assert missing == set(), missing
