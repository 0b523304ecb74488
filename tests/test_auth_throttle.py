"""The sign-in throttle (services.tokens): it slows guessing and cannot be used to keep the owner out.

Time is frozen (services.clock.now) so every wait is exact whatever the machine's load.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from services import accounts, clock, tokens
from services.errors import AuthError, RateLimited
from tests.support.api import PASSWORD, bearer, make_user
from tests.support.timing import fastest_of_each

OWNER_HOME = "192.0.2.10"


class Clock:
    def __init__(self):
        self.t = clock.now()

    def __call__(self):
        return self.t

    def advance(self, seconds: float):
        self.t += timedelta(seconds=seconds)


@pytest.fixture
def now(monkeypatch):
    c = Clock()
    monkeypatch.setattr(clock, "now", c)
    return c


@pytest.fixture
def asha(edb):
    accounts.create_user(edb, "asha", PASSWORD, "Asha", "asha@example.com")
    return edb


def _fail(db, address, name="asha"):
    with pytest.raises(AuthError):
        tokens.sign_in(db, name, "wrong-password!", client=address)


def _wait_of(db, address, password=PASSWORD, name="asha") -> int:
    with pytest.raises(RateLimited) as exc:
        tokens.sign_in(db, name, password, client=address)
    return exc.value.retry_after


def test_an_address_waits_longer_after_each_failure_up_to_a_cap(asha, now):
    for _ in range(tokens.FREE_FAILURES):
        _fail(asha, "10.0.0.1")
    waits = []
    for _ in range(12):
        waits.append(_wait_of(asha, "10.0.0.1"))  # refused before any password check, the right one too
        now.advance(waits[-1])
        _fail(asha, "10.0.0.1")
    assert waits[:5] == [2, 4, 8, 16, 32]
    assert max(waits) == waits[-1] == tokens.MAX_DELAY.total_seconds() == 900
    # refused attempts are not counted: asking again does not lengthen the wait
    first = _wait_of(asha, "10.0.0.1")
    assert _wait_of(asha, "10.0.0.1") == first
    # the owner elsewhere is not held back at all
    assert tokens.sign_in(asha, "asha", PASSWORD, client=OWNER_HOME)["username"] == "asha"
    # a day without failures forgets the address
    now.advance(tokens.PAIR_MEMORY.total_seconds() + 1)
    _fail(asha, "10.0.0.1")
    _fail(asha, "10.0.0.1")
    assert tokens.sign_in(asha, "asha", PASSWORD, client="10.0.0.1")


def test_a_success_clears_its_address(asha, now):
    for _ in range(tokens.FREE_FAILURES - 1):
        _fail(asha, "10.0.0.2")
    tokens.sign_in(asha, "asha", PASSWORD, client="10.0.0.2")
    for _ in range(tokens.FREE_FAILURES):
        _fail(asha, "10.0.0.2")  # three fresh free failures: the count started again
    assert _wait_of(asha, "10.0.0.2") == 2


def test_many_addresses_guard_the_username_but_the_owner_still_gets_in(asha, now):
    tokens.sign_in(asha, "asha", PASSWORD, client=OWNER_HOME)  # a device the owner used before
    for i in range(tokens.MAX_FAILED_LOGINS):
        _fail(asha, f"203.0.113.{i}")
    # guarded: a new address waits GUARD_DELAY before its first attempt, whatever the password
    assert _wait_of(asha, "198.51.100.1", password="wrong-password!") == 30
    assert _wait_of(asha, "198.51.100.2") == 30
    # the owner's known address is not slowed by the guard (a typo there costs nothing more)
    _fail(asha, OWNER_HOME)
    for _ in range(3):
        assert tokens.sign_in(asha, "asha", PASSWORD, client=OWNER_HOME)
    # the owner on a new device gets in after the short delay, however busy the attacker is
    now.advance(29)
    assert _wait_of(asha, "198.51.100.2") == 1
    now.advance(1)
    _fail(asha, "203.0.113.1")  # its own 30 s are over too: one more guess, which changes nothing for others
    assert tokens.sign_in(asha, "asha", PASSWORD, client="198.51.100.2")
    # an attacking address under the guard: one attempt per GUARD_DELAY at most
    now.advance(30)
    _fail(asha, "198.51.100.1")
    assert _wait_of(asha, "198.51.100.1", password="wrong-password!") == 30
    # the guard ends with its window
    now.advance(tokens.FAILED_LOGIN_WINDOW.total_seconds())
    assert tokens.sign_in(asha, "asha", PASSWORD, client="198.51.100.77")


def test_other_usernames_and_unknown_ones_are_counted_apart(asha, now):
    accounts.create_user(asha, "ravi", PASSWORD, "Ravi", "ravi@example.com")
    for _ in range(tokens.FREE_FAILURES):
        _fail(asha, "10.0.0.3", name="nobody-here")  # an unknown username is throttled like a known one
    assert _wait_of(asha, "10.0.0.3", name="nobody-here") == 2
    assert tokens.sign_in(asha, "ravi", PASSWORD, client="10.0.0.3")
    with pytest.raises(AuthError):  # a malformed username is refused like a wrong password, counted nowhere
        tokens.sign_in(asha, "NO SUCH !!", "x", client="10.0.0.3")
    assert asha.login_attempts.count_documents({"username": "no such !!"}) == 0


def test_admins_see_locked_usernames_and_clear_them_over_http(client, edb, now):
    admin, admin_tok = make_user(edb, "admin")
    user, tok = make_user(edb)
    h = bearer(admin_tok)
    assert client.get("/api/admin/users/locked", headers=h).json() == []
    # three failures from one address (it now waits 2 s), then one each from seven more: 10, the guard
    for i in [0] * tokens.FREE_FAILURES + list(range(1, tokens.MAX_FAILED_LOGINS - tokens.FREE_FAILURES + 1)):
        with TestClient(client.app, client=(f"203.0.113.{i}", 1000)) as c:
            r = c.post("/api/auth/login", json={"username": user, "password": "wrong-password!"})
            assert r.status_code == 401, r.text
    with TestClient(client.app, client=("203.0.113.0", 1000)) as c:
        r = c.post("/api/auth/login", json={"username": user, "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
    rows = client.get("/api/admin/users/locked", headers=h).json()
    assert [r["username"] for r in rows] == [user]
    assert rows[0]["guarded_until"] is not None and rows[0]["failures"] == tokens.MAX_FAILED_LOGINS
    assert rows[0]["addresses"] == [{"address": "203.0.113.0", "failures": 3, "wait_seconds": 2}]
    r = client.post(f"/api/admin/users/{user}/unlock", headers=h)
    assert r.status_code == 200 and r.json() == {"username": user, "cleared": 9}  # 8 addresses + the username
    assert client.get("/api/admin/users/locked", headers=h).json() == []
    assert edb.audit_log.count_documents({"action": "unlock", "target": user, "actor": admin}) == 1
    with TestClient(client.app, client=("203.0.113.0", 1000)) as c:
        assert c.post("/api/auth/login", json={"username": user, "password": PASSWORD}).status_code == 200
    # a user token may not see or clear locks
    assert client.get("/api/admin/users/locked", headers=bearer(tok)).status_code == 403


def test_an_unknown_username_takes_as_long_as_a_wrong_password(real_bcrypt, asha):
    """Measured 14 ms (unknown) against 184 ms (wrong password) before: the username's existence leaked.
    Now both spend one bcrypt check and the same throttle reads and writes. Each call comes from its own
    address, so the throttle never answers early."""
    n = iter(range(10_000))

    def attempt(name):
        def run():
            i = next(n)
            with pytest.raises(AuthError):
                tokens.sign_in(asha, name, "wrong-password!", client=f"10.1.{i // 250}.{i % 250}")
        return run

    attempt("nobody-here")()  # warm: the dummy hash is made once per process
    unknown, wrong = fastest_of_each(attempt("nobody-here"), attempt("asha"))
    assert 0.5 < unknown / wrong < 2, (unknown, wrong)
