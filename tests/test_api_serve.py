"""api/serve.py: the API's worker processes each listen on their own SO_REUSEPORT socket, so keep-alive
connections opened together spread over the workers (with uvicorn's shared socket, 22 of 22 landed on one
worker); a worker that dies is started again; a port in use is refused; SIGTERM stops them all."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    """The worker processes of `pid` (its spawned children, not multiprocessing's resource tracker)."""
    found = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in cmd:
            found.add(int(d.name))
    return found


def _sockets(pid: int, port: int, state: str) -> int:
    """How many TCP sockets on local `port` in `state` (01 established, 0A listening) process `pid` holds
    (from /proc: its socket inodes)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    n = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port and f[3] == state and f[9] in inodes:
            n += 1
    return n


def _wait_healthy(url: str, proc: subprocess.Popen, limit: float = 180) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, "api.serve exited"
        try:
            if httpx.get(url + "/api/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the API did not answer")


@pytest.fixture
def served(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAZORPAY_", "MONGODB_"))}
    env.update(WALLET_DATA_DIR=str(tmp_path), WALLET_SECRETS_FILE=os.devnull, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "api.serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
           "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        deadline = time.monotonic() + 120  # the second worker may still be importing the app
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        yield proc, url, port, cmd, env
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


@pytest.mark.slow
def test_workers_share_the_load_restart_and_stop_together(served):
    proc, url, port, cmd, env = served
    workers = _children(proc.pid)
    assert len(workers) == 2
    deadline = time.monotonic() + 120  # each listens on its own socket once it has imported the app
    while not all(_sockets(w, port, "0A") for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    clients = [httpx.Client(base_url=url, trust_env=False) for _ in range(16)]  # a pool opened together
    try:
        assert all(c.get("/api/health").status_code == 200 for c in clients)
        per_worker = {w: _sockets(w, port, "01") for w in workers}
        assert sum(per_worker.values()) == 16 and all(per_worker.values()), per_worker  # 2 x 2^-16 to fail
    finally:
        for c in clients:
            c.close()

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = _children(proc.pid)
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.2)
    assert len(now) == 2 and victim not in now, now
    assert httpx.get(url + "/api/health", timeout=10, trust_env=False).status_code == 200

    # Another API on the same port is refused, not silently sharing it.
    other = subprocess.run(cmd, cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=120, check=False)
    assert other.returncode != 0 and "in use" in other.stderr

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    time.sleep(0.5)
    assert not any(Path(f"/proc/{w}").exists() and b"spawn_main" in Path(f"/proc/{w}/cmdline").read_bytes()
                   for w in now)
