"""With live Razorpay keys, a pre-debit notice shorter than 24 hours is refused at start: `make run`
(scripts/run.py) and the worker say so and start nothing, and auto-recharge announces and debits nothing
if the configuration changes to that while running. Test keys keep the short notice the tests use."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from services import autorecharge, config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def keys(monkeypatch, tmp_path):
    """Only what this test sets counts (no secrets file, no sandbox); returns a setter for key id and notice."""
    for name in [n for n in os.environ if n.startswith(("RAZORPAY_", "WALLET_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WALLET_SECRETS_FILE", os.devnull)
    monkeypatch.setenv("WALLET_DATA_DIR", str(tmp_path / "data"))

    def use(key_id: str, hours: str | None) -> config.Config:
        monkeypatch.setenv("RAZORPAY_KEY_ID", key_id)
        monkeypatch.setenv("RAZORPAY_KEY_SECRET", "secret")
        if hours is None:
            monkeypatch.delenv("WALLET_PREDEBIT_NOTICE_HOURS", raising=False)
        else:
            monkeypatch.setenv("WALLET_PREDEBIT_NOTICE_HOURS", hours)
        return config.get()
    return use


@pytest.mark.parametrize("key_id, hours, refused", [
    ("rzp_live_AbCdEf123456", "0.0005", True), ("rzp_live_AbCdEf123456", "23.9", True),
    ("rzp_live_AbCdEf123456", "24", False), ("rzp_live_AbCdEf123456", None, False),  # the 25-hour default
    ("rzp_test_AbCdEf123456", "0.0005", False)])
def test_live_keys_need_a_notice_of_at_least_24_hours(keys, key_id, hours, refused):
    cfg = keys(key_id, hours)
    found = config.problems(cfg)
    assert bool(found) is refused
    if refused:
        assert "at least 24 hours" in found[0] and "WALLET_PREDEBIT_NOTICE_HOURS" in found[0]


def test_make_run_refuses_to_start_and_says_why(keys, monkeypatch, capsys, tmp_path):
    keys("rzp_live_AbCdEf123456", "1")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import run
        monkeypatch.setattr(sys, "argv", ["run.py"])
        assert run.main() == 2
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert "!! configuration:" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # refused before anything was made or started


def test_the_worker_refuses_to_start(keys):
    keys("rzp_live_AbCdEf123456", "2")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import worker
        with pytest.raises(SystemExit, match="at least 24 hours"):
            worker.main()
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def test_auto_recharge_stops_when_the_configuration_turns_unfit_while_running(keys, edb):
    keys("rzp_live_AbCdEf123456", "0.5")
    out = autorecharge.run(edb)  # no Razorpay call is made: the keys here reach nothing
    assert out["errors"] == 1 and out["planned"] == 0
