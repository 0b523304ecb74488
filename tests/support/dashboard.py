"""The Streamlit dashboard driven by AppTest against the embedded engine: its database (with a user of
each role), an app signed in on a page, and readers of what a run drew."""
from __future__ import annotations

import os

import pytest

from services import accounts, ledger, schema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP = os.path.join(ROOT, "app.py")
PW = "correct-horse"
COOKIE_KEY = "k" * 40


@pytest.fixture
def adb(tmp_path, monkeypatch):
    """The embedded database the app uses (through app_ui's hook), with a user of each role."""
    import app_ui
    from services import db as dbmod
    edb = dbmod.open_db(uri="", name="dash", path=str(tmp_path / "wallet.sqlite"))
    schema.ensure_schema(edb)
    monkeypatch.setattr(app_ui, "TEST_DB", edb)
    monkeypatch.delenv("RAZORPAY_SANDBOX_URL", raising=False)
    for env in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("WALLET_SECRETS_FILE", os.path.join(ROOT, "tests", "no-such-secrets.toml"))
    monkeypatch.setenv("WALLET_COOKIE_KEY", COOKIE_KEY)
    accounts.create_user(edb, "asha", PW, "Asha Rao", "asha@example.com", "user")
    accounts.create_user(edb, "boss", PW, "Big Boss", "boss@example.com", "admin")
    accounts.create_user(edb, "ana", PW, "Ana Lyst", "ana@example.com", "analyst")
    app_ui.invalidate()
    yield edb
    dbmod.client_of(edb).close()


def app():
    from streamlit.testing.v1 import AppTest
    return AppTest.from_file(APP, default_timeout=60)


def signed_in(username: str, role: str, page: str | None = None):
    """An app with a session already signed in (what the cookie restores), optionally on a page
    (its script under app_pages/, e.g. "admin/rates")."""
    at = app()
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state["name"] = username
    at.session_state["roles"] = [role]
    at.session_state["logout"] = None
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def login(at, username: str, password: str):
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    return at


def texts(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def markdown(at) -> str:
    return texts(at.markdown) + " | " + texts(at.caption)


def fund(db, uid: str, paise: int, key: str = "seed") -> None:
    ledger.post(db, uid, key=f"{key}:{uid}", type="credit", category="manual_credit", amount=paise,
                source="test")
