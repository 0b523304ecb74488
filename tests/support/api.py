"""The API tests' fixtures and helpers: an app on the embedded engine, its TestClient, users with tokens."""
from __future__ import annotations

import itertools
import os

import pytest

from services import accounts, tokens

PASSWORD = "correct-horse-9"
_n = itertools.count(1)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def make_user(db, role: str = "user", name: str | None = None) -> tuple[str, str]:
    """(username, token) of a fresh user with `role`."""
    name = name or f"{role[:5]}{next(_n)}x"
    accounts.create_user(db, name, PASSWORD, name.title(), f"{name}@example.com", role)
    return name, tokens.issue(db, name)


@pytest.fixture
def app(edb):
    from api.main import create_app
    return create_app(db=edb)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient
    with TestClient(app, raise_server_exceptions=False) as c:  # `with`: runs startup (schema, recover)
        yield c


@pytest.fixture
def payments_off(monkeypatch):
    for name in ("RAZORPAY_SANDBOX_URL", "RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WALLET_SECRETS_FILE", os.devnull)
