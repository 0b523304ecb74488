"""The role matrix of issue 27: every account endpoint x who asks (a member as owner, finance, developer or
viewer; an API key with the scope calls, wallet:read or payments) x which account (their own, another)
-> the status the roles promise (docs/api.md, "Accounts, members and API keys").

Account A (`olga`, owned by Olga) has members fin (finance), dev (developer), vic (viewer) and three keys,
one per scope; account B (`zed`) has its own members, keys, links, calls and documents. "own": the caller
acts on A (a person with `X-Account: olga`, a key as itself) on A's resources; "other": the caller names B
(`X-Account: zed`) and B's resources: 404 for everyone, and B's wallet does not move. A key sent to a
person-only endpoint is 403. Then: a key (and a member) on A meeting B's resource ids is 404, whatever
the scope; a member may leave, the last owner may not; a key cannot manage keys or members.
"""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from services import accounts, calls, clock, db as dbmod, documents, ledger, payments, schema, tokens, usage
from services.accounts import invitations, keys, teams
from tests.support.api import PASSWORD, bearer
from tests.support.payments import control

OWNER, FIN, DEV, VIEW = "owner", "finance", "developer", "viewer"
PEOPLE = {OWNER: "olga", FIN: "fin", DEV: "dev", VIEW: "vic"}
KEYS = ("calls", "wallet:read", "payments")
CALLERS = (OWNER, FIN, DEV, VIEW) + tuple(f"key:{s}" for s in KEYS)
EVERYONE = {OWNER, FIN, DEV, VIEW}
_n = itertools.count(1)

# name: (method, path, body, member roles allowed, key scopes allowed, status when allowed)
# The roles are issue 27's: owner everything; finance recharges, documents, statements, refund requests,
# alerts; developer API keys, calls, campaigns, usage; viewer reads, changes nothing. Scopes: calls (calls,
# usage, terms), wallet:read (balance, transactions, documents), payments (links and orders). A key never
# manages keys or members.
ENDPOINTS = {
    "account": ("GET", "/api/account", None, EVERYONE, set(KEYS), 200),
    "balance": ("GET", "/api/wallet/balance", None, EVERYONE, {"wallet:read"}, 200),
    "terms": ("GET", "/api/wallet/terms", None, EVERYONE, {"wallet:read", "calls"}, 200),
    "transactions": ("GET", "/api/transactions", None, EVERYONE, {"wallet:read"}, 200),
    "download": ("GET", "/api/transactions/download", None, EVERYONE, {"wallet:read"}, 200),
    "receipts": ("GET", "/api/receipts", None, {OWNER, FIN, VIEW}, {"wallet:read"}, 200),
    "receipt_pdf": ("GET", "/api/receipts/{receipt}.pdf", None, {OWNER, FIN, VIEW}, {"wallet:read"}, 200),
    "statement_pdf": ("GET", "/api/statements/{month}.pdf", None, {OWNER, FIN, VIEW}, {"wallet:read"}, 200),
    "statement_csv": ("GET", "/api/statements/{month}.csv", None, {OWNER, FIN, VIEW}, {"wallet:read"}, 200),
    "razorpay_key": ("GET", "/api/payment/razorpay-key", None, {OWNER, FIN}, {"payments"}, 200),
    "create_order": ("POST", "/api/payment/create-order", {"amount": 100}, {OWNER, FIN}, {"payments"}, 200),
    "verify": ("POST", "/api/payment/verify", {"razorpay_order_id": "order_x", "razorpay_payment_id": "pay_x",
                                              "razorpay_signature": "0" * 64}, {OWNER, FIN}, {"payments"}, 400),
    "create_link": ("POST", "/api/payment/payment-link", {"amount": 250}, {OWNER, FIN}, {"payments"}, 200),
    "link_status": ("GET", "/api/payment/payment-link/{link}", None, {OWNER, FIN}, {"payments"}, 200),
    "cancel_link": ("POST", "/api/payment/payment-link/{fresh_link}/cancel", None, {OWNER, FIN}, {"payments"}, 200),
    "refunds": ("GET", "/api/refunds", None, {OWNER, FIN, VIEW}, set(), 200),
    "refundable": ("GET", "/api/refunds/refundable", None, {OWNER, FIN, VIEW}, set(), 200),
    "request_refund": ("POST", "/api/refunds", {"amount": 1}, {OWNER, FIN}, set(), 200),
    "notifications": ("GET", "/api/notifications", None, {OWNER, FIN, VIEW}, set(), 200),
    "notifications_update": ("PUT", "/api/notifications/settings", {"thresholds": [50], "runway_days": 3},
                             {OWNER, FIN}, set(), 200),
    "notifications_rotate": ("POST", "/api/notifications/webhook/rotate-secret", None, {OWNER, FIN}, set(), 400),
    "notifications_test": ("POST", "/api/notifications/webhook/test", None, {OWNER, FIN}, set(), 400),
    "notifications_deliveries": ("GET", "/api/notifications/webhook/deliveries", None, {OWNER, FIN, VIEW}, set(), 200),
    "notifications_alerts": ("GET", "/api/notifications/alerts", None, {OWNER, FIN, VIEW}, set(), 200),
    "auto_recharge": ("GET", "/api/auto-recharge", None, {OWNER, FIN, VIEW}, set(), 200),
    "auto_recharge_set": ("PUT", "/api/auto-recharge", {"threshold": 100, "amount": 500, "monthly_cap": 1000,
                                                        "contact": "9812345678"},
                          {OWNER, FIN}, set(), 200),
    "auto_recharge_off": ("DELETE", "/api/auto-recharge", None, {OWNER, FIN}, set(), 200),
    "start_call": ("POST", "/api/call", {"to_number": "+919876543210", "kb_id": "kb1", "max_minutes": 2},
                   {OWNER, DEV}, {"calls"}, 200),
    "update_call": ("POST", "/api/call/{fresh_call}/update", {"usage_seconds": 30}, {OWNER, DEV}, {"calls"}, 200),
    "end_call": ("POST", "/api/call/{fresh_call}/end", {"duration_seconds": 30}, {OWNER, DEV}, {"calls"}, 200),
    # Other services (issue 29): usage is the `calls` capability. One body each: a repeat is a replay (200).
    "usage": ("POST", "/api/usage", {"service": "sms", "quantity": 1, "idempotency_key": "roles"}, {OWNER, DEV},
              {"calls"}, 200),
    "usage_batch": ("POST", "/api/usage/batch",
                    {"events": [{"service": "sms", "quantity": 2, "idempotency_key": "rb"}]}, {OWNER, DEV}, {"calls"},
                    200),
    "subscriptions": ("GET", "/api/subscriptions", None, {OWNER, DEV}, {"calls"}, 200),
    "subscribe": ("POST", "/api/subscriptions", {"service": "number", "idempotency_key": "roles"}, {OWNER, DEV},
                  {"calls"}, 200),
    "keys_list": ("GET", "/api/keys", None, {OWNER, DEV, VIEW}, set(), 200),
    "keys_create": ("POST", "/api/keys", {"name": "matrix", "scopes": ["calls"]}, {OWNER, DEV}, set(), 201),
    "keys_revoke": ("DELETE", "/api/keys/{fresh_key}", None, {OWNER, DEV}, set(), 200),
    "keys_rotate": ("POST", "/api/keys/{fresh_key}/rotate", {"overlap_minutes": 10}, {OWNER, DEV}, set(), 200),
    "members": ("GET", "/api/account/members", None, EVERYONE, set(), 200),
    "member_role": ("PUT", "/api/account/members/{viewer}", {"role": "viewer"}, {OWNER}, set(), 200),
    "remove_member": ("DELETE", "/api/account/members/{fresh_member}", None, {OWNER}, set(), 200),
    "invitations": ("GET", "/api/account/invitations", None, EVERYONE, set(), 200),
    "invite": ("POST", "/api/account/invitations", {"email": "new@example.com", "role": "viewer"}, {OWNER}, set(),
               201),
    "withdraw_invitation": ("DELETE", "/api/account/invitations/{fresh_invitation}", None, {OWNER}, set(), 200),
    "account_audit": ("GET", "/api/account/audit", None, {OWNER}, set(), 200),
}
# A person's own business, whichever account they name: a key is refused (403).
PERSON_ONLY = {
    "accounts": ("GET", "/api/accounts", None, 200),
    "accept_invitation": ("POST", "/api/invitations/accept", {"token": "inv_0000000000000000.not-a-token"}, 400),
    "me": ("GET", "/api/auth/me", None, 200),
    "logout": ("POST", "/api/auth/logout", None, 200),
    "change_password": ("POST", "/api/auth/password", {"current_password": PASSWORD, "new_password": PASSWORD}, 200),
}


def _paid_link(db, sb, account: str, rupees: int = 100) -> str:
    plink = payments.create_payment_link(db, account, rupees)["payment_link_id"]
    control(sb, f"links/{plink}/pay")
    payments.reconcile_link(db, plink, user_id=account)
    return plink


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    from sandbox.razorpay_server import run_in_thread
    mp = pytest.MonkeyPatch()
    sb = run_in_thread({"seed": 27})
    for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        mp.delenv(name, raising=False)
    mp.setenv("RAZORPAY_SANDBOX_URL", sb.url)
    db = dbmod.open_db(uri="", name="roles", path=str(tmp_path_factory.mktemp("roles") / "w.sqlite"))
    schema.ensure_schema(db)
    for name in ("olga", "fin", "dev", "vic", "zed", "zoe", "tmp"):
        accounts.create_user(db, name, PASSWORD, name.title(), f"{name}@example.com")
    olga, zed = teams.acting(db, "olga", "olga"), teams.acting(db, "zed", "zed")
    for who, role in (("fin", FIN), ("dev", DEV), ("vic", VIEW)):
        teams.add(db, "olga", who, role, by="olga")
    teams.add(db, "zed", "zoe", VIEW, by="zed")
    side = {}
    for name in ("olga", "zed"):
        _paid_link(db, sb, name, 500)
        documents.catch_up(db, name)
        side[name] = {"link": _paid_link(db, sb, name), "month": clock.today().strftime("%Y-%m"),
                      "receipt": documents.slug(documents.list_documents(db, name)[0]["number"]),
                      "viewer": "vic" if name == "olga" else "zoe"}
    key_of = {s: keys.create(db, olga, f"k-{s}", [s])[1] for s in KEYS}
    usage.define(db, "root", "sms", display_name="SMS", unit="message", price_paise=25)
    usage.define(db, "root", "number", display_name="Phone number", unit="number·month", price_paise=50_000)
    with TestClient(create_app(db=db), raise_server_exceptions=False) as client:
        yield {"db": db, "client": client, "sb": sb, "side": side, "keys": key_of,
               "acting": {"olga": olga, "zed": zed}}
    sb.stop()
    mp.undo()


@pytest.fixture(autouse=True)
def _calls_ended(ctx):
    """Calls a test left on the line end after it (each holds money and counts towards the limit)."""
    yield
    for account in ("olga", "zed"):
        for c in calls.list_calls(ctx["db"], account, limit=200):
            if c["status"] == calls.ACTIVE:
                calls.end_call(ctx["db"], account, c["call_id"], 0)


def _member(db, account: str, username: str, role: str) -> None:
    """`username` on `account` in `role`, whatever earlier tests left."""
    if teams.role_of(db, account, username) is None:
        teams.add(db, account, username, role, by=account)
    teams.set_role(db, account, username, role, by=account)


def _fresh(ctx, what: str, account: str) -> str:
    """A new resource of `account` for a request that uses it up."""
    db, acting = ctx["db"], ctx["acting"][account]
    if what == "fresh_link":
        return payments.create_payment_link(db, account, 175)["payment_link_id"]
    if what == "fresh_call":
        return calls.start_call(db, account, "+919812345678", "kb1", 2)["call_id"]
    if what == "fresh_key":
        return keys.create(db, acting, f"tmp{next(_n)}", ["calls"])[0].id
    if what == "fresh_member":
        _member(db, account, "tmp", VIEW)
        return "tmp"
    if what == "fresh_invitation":
        return invitations.invite(db, acting, f"x{next(_n)}@example.com", VIEW)[0]["id"]
    raise KeyError(what)


def _path(ctx, template: str, account: str) -> str:
    names = {n for n in ("fresh_link", "fresh_call", "fresh_key", "fresh_member", "fresh_invitation")
             if "{" + n + "}" in template}
    return template.format(**ctx["side"][account], **{n: _fresh(ctx, n, account) for n in names})


def _headers(ctx, caller: str, side: str) -> dict:
    cred = ctx["keys"][caller[4:]] if caller.startswith("key:") else tokens.issue(ctx["db"], PEOPLE[caller])
    h = bearer(cred)
    if side == "other":
        h["X-Account"] = "zed"
    elif not caller.startswith("key:"):
        h["X-Account"] = "olga"
    return h


def _expected(name: str, caller: str, side: str) -> int:
    _, _, _, roles_ok, scopes_ok, ok = ENDPOINTS[name]
    if side == "other":
        return 404
    if caller.startswith("key:"):
        return ok if caller[4:] in scopes_ok else 403
    return ok if caller in roles_ok else 403


@pytest.mark.parametrize("side", ("own", "other"))
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_role_matrix(ctx, name, caller, side):
    method, template, body, *_ = ENDPOINTS[name]
    db = ctx["db"]
    path = _path(ctx, template, "zed" if side == "other" else "olga")
    b_before = ledger.get_wallet(db, "zed")
    r = ctx["client"].request(method, path, json=body, headers=_headers(ctx, caller, side))
    assert r.status_code == _expected(name, caller, side), (name, caller, side, r.text)
    if r.status_code >= 400:
        assert set(r.json()) == {"error"}, r.text
    if side == "other":
        assert ledger.get_wallet(db, "zed") == b_before  # B's wallet did not move
    if r.status_code == 403:
        assert "may not" in r.json()["error"]["message"] or "API key" in r.json()["error"]["message"]
    if r.status_code == 200 and name == "account":
        assert r.json()["id"] == "olga"  # what came back is A's
    if r.status_code == 200 and name == "balance":
        assert r.json()["balance_paise"] == ledger.get_wallet(db, "olga").balance


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name", list(PERSON_ONLY))
def test_person_only_endpoints_refuse_keys(ctx, name, caller):
    method, path, body, ok = PERSON_ONLY[name]
    r = ctx["client"].request(method, path, json=body, headers=_headers(ctx, caller, "own"))
    assert r.status_code == (403 if caller.startswith("key:") else ok), (name, caller, r.text)


B_RESOURCES = {  # B's resources by id, asked for in A's name
    "link_status": ("GET", "/api/payment/payment-link/{link}", None),
    "cancel_link": ("POST", "/api/payment/payment-link/{fresh_link}/cancel", None),
    "receipt_pdf": ("GET", "/api/receipts/{receipt}.pdf", None),
    "update_call": ("POST", "/api/call/{fresh_call}/update", {"usage_seconds": 30}),
    "end_call": ("POST", "/api/call/{fresh_call}/end", {"duration_seconds": 30}),
    "keys_revoke": ("DELETE", "/api/keys/{fresh_key}", None),
    "keys_rotate": ("POST", "/api/keys/{fresh_key}/rotate", {"overlap_minutes": 1}),
    "member_role": ("PUT", "/api/account/members/{viewer}", {"role": "owner"}),
    "remove_member": ("DELETE", "/api/account/members/{viewer}", None),  # zoe: B's member only
    "withdraw_invitation": ("DELETE", "/api/account/invitations/{fresh_invitation}", None),
}


@pytest.mark.parametrize("caller", (OWNER,) + tuple(f"key:{s}" for s in KEYS))
@pytest.mark.parametrize("name", list(B_RESOURCES))
def test_nobody_on_A_reaches_Bs_data(ctx, name, caller):
    """A's owner and every key of A, in A's own name, naming B's resources: 404 (never 403: it does not
    confirm the id exists), and B's data is as it was."""
    method, template, body = B_RESOURCES[name]
    db = ctx["db"]
    path = _path(ctx, template, "zed")
    before = (ledger.get_wallet(db, "zed"), teams.get(db, "zed")["members"], sorted(k.state for k in
                                                                                    keys.list_keys(db, "zed")))
    r = ctx["client"].request(method, path, json=body, headers=_headers(ctx, caller, "own"))
    if caller.startswith("key:") and _expected(name, caller, "own") == 403:
        assert r.status_code in (403, 404), r.text  # refused for its scope before the id is looked at
    else:
        assert r.status_code == 404, (name, caller, r.text)
    assert (ledger.get_wallet(db, "zed"), teams.get(db, "zed")["members"],
            sorted(k.state for k in keys.list_keys(db, "zed"))) == before


def test_members_leave_but_the_last_owner_stays_and_keys_manage_nothing(ctx):
    db, cl = ctx["db"], ctx["client"]
    _member(db, "olga", "tmp", DEV)
    tok = tokens.issue(db, "tmp")
    r = cl.delete("/api/account/members/tmp", headers=bearer(tok) | {"X-Account": "olga"})
    assert r.status_code == 200 and teams.role_of(db, "olga", "tmp") is None
    assert cl.get("/api/wallet/balance", headers=bearer(tok) | {"X-Account": "olga"}).status_code == 404
    r = cl.delete("/api/account/members/olga", headers=bearer(tokens.issue(db, "olga")) | {"X-Account": "olga"})
    assert r.status_code == 409 and "last owner" in r.json()["error"]["message"]
    r = cl.put("/api/account/members/olga", json={"role": "viewer"},
               headers=bearer(tokens.issue(db, "olga")) | {"X-Account": "olga"})
    assert r.status_code == 409 and teams.role_of(db, "olga", "olga") == OWNER
    for s in KEYS:  # whatever its scope, a key makes no key and no member
        h = bearer(ctx["keys"][s])
        assert cl.post("/api/keys", json={"name": "sneaky", "scopes": list(KEYS)}, headers=h).status_code == 403
        assert cl.post("/api/account/invitations", json={"email": "a@example.com", "role": "owner"},
                       headers=h).status_code == 403
        assert cl.put("/api/account/members/vic", json={"role": "owner"}, headers=h).status_code == 403
    assert teams.role_of(db, "olga", "vic") == VIEW


def test_a_key_outlives_its_makers_departure_and_ends_when_revoked(ctx):
    db, cl = ctx["db"], ctx["client"]
    _member(db, "olga", "tmp", DEV)
    dev = teams.acting(db, "olga", "tmp")
    k, secret = keys.create(db, dev, "left-behind", ["wallet:read"], expires_at=clock.now() + timedelta(days=1))
    teams.remove(db, "olga", "tmp", by="olga")
    assert cl.get("/api/wallet/balance", headers=bearer(secret)).status_code == 200  # the account's key
    keys.revoke(db, ctx["acting"]["olga"], k.id)
    r = cl.get("/api/wallet/balance", headers=bearer(secret))
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert r.headers.get("www-authenticate") == "Bearer"


def test_the_openapi_document_lists_accounts_keys_and_scopes(ctx):
    doc = ctx["client"].get("/openapi.json").json()
    paths = doc["paths"]
    for path, methods in {"/api/keys": {"get", "post"}, "/api/keys/{key_id}": {"delete"},
                          "/api/keys/{key_id}/rotate": {"post"}, "/api/accounts": {"get"}, "/api/account": {"get"},
                          "/api/account/members": {"get"}, "/api/account/members/{username}": {"put", "delete"},
                          "/api/account/invitations": {"get", "post"},
                          "/api/account/invitations/{invitation_id}": {"delete"},
                          "/api/invitations/accept": {"post"}, "/api/account/audit": {"get"}}.items():
        assert methods <= set(paths[path]), (path, set(paths[path]))
    key_in = doc["components"]["schemas"]["KeyIn"]["properties"]
    assert key_in["scopes"]["items"]["enum"] == ["calls", "wallet:read", "payments"]
    assert {"name", "expires_at", "daily_cap", "monthly_cap", "max_concurrent_calls"} <= set(key_in)
    assert "secret" in doc["components"]["schemas"]["NewKeyOut"]["properties"]
    start = paths["/api/call"]["post"]
    assert any(p["name"].lower() == "x-account" and p["in"] == "header" for p in start["parameters"])
    assert "API key" in doc["components"]["securitySchemes"]["HTTPBearer"]["description"]
