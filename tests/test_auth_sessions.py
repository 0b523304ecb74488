"""Sessions end when they should, and what an admin needs for it (services.users, /api/admin/users).

A password change or reset, a role change and a disabled account end every API token of the user (and
every dashboard session: tests/test_dashboard_accounts.py). A disabled user cannot sign in and is told so.
"""
from __future__ import annotations

import pytest

from services import accounts, tokens, users
from services.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound
from tests.support.api import PASSWORD, bearer, make_user

NEW_PW = "another-fine-secret"


@pytest.fixture
def people(client, edb):
    admin, admin_tok = make_user(edb, "admin")
    user, _ = make_user(edb)
    # two tokens of the user: every one of them must end, not only the newest
    toks = [tokens.login(edb, user, PASSWORD, client="192.0.2.1") for _ in range(2)]
    return {"admin": admin, "h": bearer(admin_tok), "user": user, "toks": toks, "db": edb}


def _alive(client, tok) -> int:
    return client.get("/api/auth/me", headers=bearer(tok)).status_code


@pytest.mark.parametrize("change,path,body", [
    ("admin password reset", "password", {"password": NEW_PW}),
    ("role change", "role", {"role": "analyst"}),
    ("disabled account", "disable", None),
])
def test_every_token_ends(client, people, change, path, body):
    assert [_alive(client, t) for t in people["toks"]] == [200, 200]
    r = client.post(f"/api/admin/users/{people['user']}/{path}", headers=people["h"], json=body)
    assert r.status_code == 200, r.text
    assert r.json()["username"] == people["user"]
    assert [_alive(client, t) for t in people["toks"]] == [401, 401], change
    assert people["db"].tokens.count_documents({"username": people["user"]}) == 0  # deleted, not just refused
    assert people["db"].audit_log.count_documents({"actor": people["admin"], "target": people["user"]}) == 1


def test_own_password_change_ends_the_other_tokens_and_returns_a_new_one(client, people):
    old, other = people["toks"]
    r = client.post("/api/auth/password", headers=bearer(old),
                    json={"current_password": "not-it", "new_password": NEW_PW})
    assert r.status_code == 401 and _alive(client, old) == 200  # a wrong current password changes nothing
    r = client.post("/api/auth/password", headers=bearer(old),
                    json={"current_password": PASSWORD, "new_password": NEW_PW})
    assert r.status_code == 200, r.text
    assert _alive(client, old) == 401 and _alive(client, other) == 401
    assert _alive(client, r.json()["token"]) == 200
    assert client.post("/api/auth/login", json={"username": people["user"], "password": NEW_PW}).status_code == 200


def test_the_epoch_alone_ends_a_token(people):
    """A crash between the user's write and the token deletion ends nothing late: the token carries the
    epoch it was issued at, and one bump of the user's epoch refuses it."""
    db, tok = people["db"], people["toks"][0]
    db.users.update_one({"_id": people["user"]}, {"$inc": {"session_epoch": 1}})
    with pytest.raises(AuthError, match="session has ended"):
        tokens.resolve(db, tok)


def test_a_disabled_user_cannot_sign_in_and_is_told_so(client, people):
    user, h = people["user"], people["h"]
    assert client.post(f"/api/admin/users/{user}/disable", headers=h).json()["disabled"] is True
    r = client.post("/api/auth/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 403 and "disabled" in r.json()["error"]["message"], r.text
    # a wrong password stays a plain 401: the account's state is only told to who knows the password
    r = client.post("/api/auth/login", json={"username": user, "password": "wrong-password-x"})
    assert r.status_code == 401 and "disabled" not in r.text
    with pytest.raises(AuthError):
        tokens.issue(people["db"], user)
    assert client.post(f"/api/admin/users/{user}/enable", headers=h).json()["disabled"] is False
    assert client.post("/api/auth/login", json={"username": user, "password": PASSWORD}).status_code == 200


def test_a_role_change_applies_and_is_audited(client, people):
    user, db = people["user"], people["db"]
    r = client.post(f"/api/admin/users/{user}/role", headers=people["h"], json={"role": "admin"})
    assert r.json()["role"] == "admin" and users.get(db, user)["role"] == "admin"
    log = db.audit_log.find_one({"target": user, "action": "role_change"})
    assert log["actor"] == people["admin"] and log["detail"] == "user -> admin"
    # the same role again changes nothing and ends nothing
    tok = tokens.issue(db, user)
    assert client.post(f"/api/admin/users/{user}/role", headers=people["h"], json={"role": "admin"}).status_code == 200
    assert _alive(client, tok) == 200


def test_the_last_enabled_admin_stays_and_nobody_disables_themselves(edb):
    accounts.create_user(edb, "root", PASSWORD, "Root", "root@example.com", "admin")
    accounts.create_user(edb, "asha", PASSWORD, "Asha", "asha@example.com")
    with pytest.raises(Conflict, match="last enabled admin"):
        accounts.set_role(edb, "root", "user", by="root")
    with pytest.raises(Conflict, match="your own account"):
        accounts.disable(edb, "root", by="root")
    accounts.create_user(edb, "deputy", PASSWORD, "Deputy", "deputy@example.com", "admin")
    accounts.disable(edb, "deputy", by="root")
    with pytest.raises(Conflict, match="last enabled admin"):  # a disabled admin does not count
        accounts.set_role(edb, "root", "analyst", by="deputy")
    accounts.enable(edb, "deputy", by="root")
    assert accounts.set_role(edb, "root", "analyst", by="deputy")["role"] == "analyst"
    assert [u["username"] for u in users.list_all(edb, disabled=True)] == []


def test_admin_endpoints_refuse_bad_input_with_a_clear_4xx(client, people):
    h, user = people["h"], people["user"]
    cases = [
        (f"/api/admin/users/{user}/role", {"role": "root"}, 422),
        (f"/api/admin/users/{user}/role", {"role": True}, 422),
        ("/api/admin/users/nobody-here/role", {"role": "user"}, 404),
        ("/api/admin/users/nobody-here/disable", None, 404),
        (f"/api/admin/users/{user}/password", {"password": "        "}, 400),
        (f"/api/admin/users/{user}/password", {"password": "password"}, 400),
        (f"/api/admin/users/{user}/password", {"password": f"my-{user}-pass"}, 400),
        (f"/api/admin/users/{people['admin']}/disable", None, 409),
    ]
    for path, body, status in cases:
        r = client.post(path, headers=h, json=body)
        assert r.status_code == status, (path, body, r.text)
        assert set(r.json()) == {"error"}
    assert [_alive(client, t) for t in people["toks"]] == [200, 200]  # nothing refused ended anything


def test_service_errors_name_what_is_wrong(edb):
    accounts.create_user(edb, "asha", PASSWORD, "Asha", "asha@example.com")
    with pytest.raises(NotFound):
        accounts.set_password(edb, "ghost", NEW_PW, by="root")
    with pytest.raises(InvalidInput, match="Role must be one of"):
        accounts.set_role(edb, "asha", "superuser", by="root")
    with pytest.raises(AuthError):
        accounts.change_password(edb, "asha", "not-the-password", NEW_PW)
    with pytest.raises(InvalidInput, match="contain the username"):
        accounts.change_password(edb, "asha", PASSWORD, "ASHA-rocks-2024")
    accounts.disable(edb, "asha", by="root")
    with pytest.raises(Forbidden, match="disabled"):
        users.authenticate(edb, "asha", PASSWORD)
