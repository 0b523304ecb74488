"""Razorpay keys kept only in .streamlit/secrets.toml (the README's documented alternative to the
environment): `make run`'s supervisor (scripts/run.py start_all) starts no sandbox process, points no
child at one, and the API it starts talks to the base URL configured there.

The "real account" here is the offline sandbox on a free port, named only in the secrets file as
RAZORPAY_BASE_URL, with the keys it accepts: the supervisor cannot tell it from Razorpay.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import httpx
import pytest

from sandbox.razorpay_server import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, DEFAULT_WEBHOOK_SECRET, run_in_thread
from services import config

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def runscript():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import run
        yield run
    finally:
        sys.path.remove(str(ROOT / "scripts"))


@pytest.fixture
def account():
    handle = run_in_thread({"duplicate_probability": 0.0, "seed": 3})
    yield handle
    handle.stop()


def test_keys_only_in_secrets_toml_start_no_sandbox_and_reach_the_configured_url(tmp_path, monkeypatch,
                                                                                runscript, account):
    for name in [n for n in os.environ if n.startswith(("RAZORPAY_", "WALLET_", "MONGODB_", "SANDBOX_"))]:
        monkeypatch.delenv(name)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'RAZORPAY_KEY_ID = "{DEFAULT_KEY_ID}"\nRAZORPAY_KEY_SECRET = "{DEFAULT_KEY_SECRET}"\n'
                       f'RAZORPAY_WEBHOOK_SECRET = "{DEFAULT_WEBHOOK_SECRET}"\n'
                       f'RAZORPAY_BASE_URL = "{account.url}"\n')
    monkeypatch.setenv("WALLET_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("WALLET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("API_PORT", str(_free_port()))
    monkeypatch.setenv("SANDBOX_PORT", str(_free_port()))
    cfg = config.get()
    assert (cfg.razorpay.mode, cfg.razorpay.base_url, cfg.razorpay.key_id) == ("test", account.url, DEFAULT_KEY_ID)

    sup = runscript.Supervisor(dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert runscript.start_all(sup, cfg, only_api=True) is False
        assert [name for name, _, _ in sup.procs] == ["api"]
        assert not sup.running("razorpay-sandbox")
        assert not {"RAZORPAY_SANDBOX_URL", "SANDBOX_STATE", "SANDBOX_WEBHOOK_URL"} & set(sup.env)
        api = f"http://127.0.0.1:{cfg.api_port}"
        with httpx.Client(base_url=api, trust_env=False, timeout=30) as c:
            r = c.post("/api/auth/signup", json={"username": "keysuser", "password": "a-fine-pass-phrase",
                                                 "name": "Keys", "email": "keys@example.com"})
            assert r.status_code == 201, r.text
            h = {"Authorization": f"Bearer {r.json()['token']}"}
            link = c.post("/api/payment/payment-link", headers=h, json={"amount": 150})
            assert link.status_code == 200, link.text
    finally:
        sup.stop()
    # the API's Razorpay client called the configured URL: the link exists there, for this amount
    links = account.app.state.sandbox.links
    assert link.json()["payment_link_id"] in links
    assert links[link.json()["payment_link_id"]]["amount"] == 15000
