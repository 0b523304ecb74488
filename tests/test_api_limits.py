"""Request size limits against the real server: uvicorn in a subprocess on 127.0.0.1, three concurrent
50 MB bodies -> three 413s in the error shape, and the API process's resident memory (VmRSS in
/proc/<pid>/status, sampled while the bodies stream) grows by less than 20 MB. Before the limit, three
such bodies grew the API from 124 to 581 MB."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
BODY = b'{"username": "' + b"x" * (50 * 1024 * 1024) + b'"}'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAZORPAY_", "MONGODB_", "WALLET_", "API_"))}
    env.update(WALLET_DATA_DIR=str(tmp_path_factory.mktemp("limits")), WALLET_SECRETS_FILE=os.devnull,
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/api/health", timeout=2, trust_env=False).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("uvicorn did not start:\n" + proc.stdout.read().decode(errors="replace"))
        time.sleep(0.2)
    yield proc, url
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    log = proc.stdout.read().decode(errors="replace")
    assert "Traceback" not in log, log


def _post(url: str, body) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=60) as c:
        return c.post(url + "/api/auth/signup", content=body, headers={"Content-Type": "application/json"})


def _chunks():
    view = memoryview(BODY)
    for i in range(0, len(view), 1024 * 1024):
        yield bytes(view[i:i + 1024 * 1024])


@pytest.mark.parametrize("how", ["content-length", "chunked"])
def test_three_concurrent_50mb_bodies_get_413_and_memory_stays_flat(server, how):
    proc, url = server
    # Warm every code path the refusals use (imports, the error response), so what is measured is the bodies.
    for _ in range(2):
        assert _post(url, b"x" * 100_000).status_code == 413
        assert _post(url, iter([b"x" * 70_000])).status_code == 413
    before = _rss_kib(proc.pid)
    peak, done = [before], threading.Event()

    def sample():
        while not done.is_set():
            peak.append(_rss_kib(proc.pid))
            time.sleep(0.01)
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(3) as pool:
            bodies = [BODY if how == "content-length" else _chunks() for _ in range(3)]
            answers = list(pool.map(lambda b: _post(url, b), bodies))
    finally:
        done.set()
        sampler.join()
    assert [r.status_code for r in answers] == [413, 413, 413]
    assert all(r.json()["error"]["code"] == "too_large" for r in answers)
    grown_mb = (max(peak) - before) / 1024
    assert grown_mb < 20, f"API resident memory grew {grown_mb:.1f} MB ({before // 1024} -> {max(peak) // 1024} MB)"
    # still serving, and no keep-alive connection was left in a bad state
    assert httpx.get(url + "/api/health", timeout=5, trust_env=False).json()["database"] is True
