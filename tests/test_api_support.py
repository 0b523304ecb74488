"""Fixtures and helpers the API tests share (imported by tests/test_api*.py; holds no tests itself)."""
from __future__ import annotations

import itertools
import os

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
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
    return create_app(db=edb)


@pytest.fixture
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:  # `with`: runs startup (schema, recover)
        yield c


@pytest.fixture
def payments_off(monkeypatch):
    for name in ("RAZORPAY_SANDBOX_URL", "RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WALLET_SECRETS_FILE", os.devnull)


@pytest.fixture
def sandbox(monkeypatch):
    """The offline Razorpay sandbox on a free port, with the services pointed at it."""
    from sandbox.razorpay_server import run_in_thread
    handle = run_in_thread({"duplicate_probability": 1.0, "seed": 7})
    url = handle.url
    for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAZORPAY_SANDBOX_URL", url)
    yield handle
    handle.stop()


def sandbox_post(handle, path: str, body: dict | None = None) -> dict:
    r = httpx.post(handle.url + path, json=body or {}, timeout=10, trust_env=False)
    r.raise_for_status()
    return r.json()
