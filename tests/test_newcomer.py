"""`make run` as a newcomer meets it: a copy of the tracked files (no data/), no WALLET_/RAZORPAY_/MONGODB_
variables, free ports. Every URL the banner prints must answer, the demo login it prints must work, and
Ctrl-C must leave no process behind.

No fixture prepares anything here on purpose: a fixture that made the data folder would hide exactly the
first-run crash this test exists for.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _tracked_copy(dest: Path) -> None:
    """What a clone holds: tracked files (and new ones not yet committed but not ignored)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         check=True, capture_output=True).stdout.decode()
    for rel in filter(None, out.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _clean_env(ports: list[int]) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WALLET_", "RAZORPAY_", "MONGODB_", "SANDBOX_", "API_"))}
    env.update(PORT=str(ports[0]), API_PORT=str(ports[1]), SANDBOX_PORT=str(ports[2]))
    env.pop("PYTHONPATH", None)
    return env


def _session_pids(sid: int) -> set[int]:
    """Processes still in the session run.py leads (it was started as a session leader)."""
    pids = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state; after ")" come state, ppid, pgrp, session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.add(int(d.name))
    return pids


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=20) as r:
        return r.status


def test_make_run_from_a_fresh_copy(tmp_path):
    work = tmp_path / "clone"
    work.mkdir()
    _tracked_copy(work)
    assert not (work / "data").exists()
    ports = _free_ports(3)
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "scripts/run.py"], cwd=work, env=_clean_env(ports),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 240
        text = ""
        while time.time() < deadline:
            text = log.read_text(errors="replace")
            if "Ctrl-C stops everything" in text or proc.poll() is not None:
                break
            time.sleep(0.5)
        assert "is running" in text and proc.poll() is None, f"make run did not come up:\n{text[-3000:]}"
        assert "Traceback" not in text, text[-3000:]
        assert "did not come up" not in text, text[-3000:]

        banner = text[text.index("is running"):]
        urls = re.findall(r"https?://[^\s)]+", banner)
        assert any(f":{ports[0]}" in u for u in urls), banner
        assert all("_stcore" not in u for u in urls), banner
        for u in urls:
            assert _get(u) < 400, u

        # The demo logins it printed, and where it says they are kept (the real folder, not a guess).
        where = re.search(r"demo logins \(also in (.+?)\):", banner)
        assert where, banner
        assert Path(where.group(1)) == work / "data" / "demo_credentials.txt"
        assert Path(where.group(1)).exists()
        logins = dict(re.findall(r"^\s+(demo|admin|analyst)\s+(\S+)\s+\(", banner, re.M))
        assert set(logins) == {"demo", "admin", "analyst"}, banner
        req = urllib.request.Request(f"http://127.0.0.1:{ports[1]}/api/auth/login", method="POST",
                                     data=json.dumps({"username": "demo", "password": logins["demo"]}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=20) as r:
            assert r.status == 200 and json.loads(r.read())["token"]
        assert "sandbox" in banner.lower()  # no keys anywhere: the offline sandbox, said so

        children = _session_pids(proc.pid) - {proc.pid}
        assert len(children) >= 4, f"expected sandbox, api, worker and dashboard: {children}"
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(60)
        end = time.time() + 30
        while _session_pids(proc.pid) and time.time() < end:
            time.sleep(0.5)
        assert not _session_pids(proc.pid), f"left behind: {_session_pids(proc.pid)}"
    finally:
        if proc.poll() is None or _session_pids(proc.pid):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
