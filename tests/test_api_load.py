"""A small run of bench/api.py in CI: uvicorn in a subprocess, concurrent clients billing calls over real
HTTP while webhooks are re-delivered; no error but 402, audit clean, every wallet equals its credits minus
the costs the API reported, and each paid link credited once. No timing assertions."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_small_api_load_run_is_clean():
    lines = []
    r = _bench().run(clients=5, calls=4, wallets=2, webhook_links=2, workers=2, inprocess_calls=10, open_calls=10,
                     out=lines.append)
    report = "\n".join(lines)
    assert r["error_samples"] == [], report
    assert r["audit"] == [] and r["mismatched"] == [], report
    assert r["calls"] + r["refused"] == 5 * 4, report
    # The webhook thread stops paying links once the callers are done (two workers may finish before the
    # second link); every link it paid is credited exactly once.
    assert r["webhook_credited_once"] and r["webhook_errors"] == [] and 1 <= r["webhook_paid"] <= 2, report
    assert r["errors"] == 0, report
    assert lines[-1].startswith("api_rps=") and " errors=0 " in lines[-1]
    assert {k.split("=")[0] for k in lines[-1].split()} == {"api_rps", "p99_ms", "errors", "api_vs_inprocess",
                                                           "p99_vs_p50", "writes_per_call",
                                                           "p99_start_ms_at_half_load"}, lines[-1]
    # The open loop at half load billed its 10 calls (on wallets of their own, in the audit above).
    assert r["half_load_calls"] == 10 and r["half_load_rate"] > 0, report
    # Counted by the engine: a whole number per call (every call does the same steps), more than the ledger's
    # bare hold + settle that the calls layer wraps.
    w = r["writes_per_call"]
    assert w == int(w) and w > r["writes_per_ledger_call"] >= 2, report


@pytest.mark.slow
def test_small_usage_batch_run_is_clean():
    """bench/api.py's usage figure at CI scale: 2 batches of 100 SMS through POST /api/usage/batch."""
    lines = []
    r = _bench().usage_run(batches=2, size=100, workers=1, out=lines.append)
    report = "\n".join(lines)
    assert r["errors"] == [], report
    assert "audit clean" in report and "exactly 25 paise per event: yes" in report, report
    assert lines[-1].startswith("usage_events_per_s=") and lines[-1].endswith(" errors=0"), report
