"""`make run` as issue 23's red team met it: two copies on one machine, `kill -9` of the API supervisor,
the mail sink's files, and the first visitor's wait.

Two copies start at the same moment, each with its own data folder and its own PORT, API_PORT and
SANDBOX_PORT, under umask 022:
- both come up, every URL their banners print answers, and their mail sinks sit on ports of their own
  (not the fixed 8925/8926 of main: the second copy collided there) [Must show; item 5];
- the sink's folder is 0700 and every message 0600, also a folder and a message an older run left 0755
  and 0644 [item 5];
- each dashboard ran its script once before its URL was printed (Streamlit's own metrics count the
  session and the database opened by the script) [item 9];
- `kill -9` of one copy's API supervisor takes its workers with it, and `make run` again comes up on the
  same ports, while the other copy serves on [item 2]; workers that could not die with it (stopped when
  it was killed) are named and taken over by the next start [item 2].
On main the sink's files were 0755/0644 and on 8925, no session had run, and the workers outlived the
supervisor: the next `make run` failed with "127.0.0.1:<API_PORT> is in use".
"""
from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import socket
import stat
import subprocess
import time
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest

from services import procs

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
BANNER_END = "Ctrl-C stops everything"


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _get(url: str, timeout: float = 20) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode(errors="replace")


class Copy:
    """One `make run` of this checkout with its own ports and data folder; restartable."""

    def __init__(self, tmp: Path, name: str):
        self.tmp, self.name = tmp, name
        self.port, self.api_port, self.sandbox_port = _free_ports(3)
        self.data = tmp / "data"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("WALLET_", "RAZORPAY_", "MONGODB_", "SANDBOX_", "API_", "SMTP_"))}
        self.env.update(PORT=str(self.port), API_PORT=str(self.api_port), SANDBOX_PORT=str(self.sandbox_port),
                        WALLET_DATA_DIR=str(self.data), WALLET_SECRETS_FILE=os.devnull, API_WORKERS="2",
                        PYTHONUNBUFFERED="1")
        self.groups: list[int] = []
        self.proc: subprocess.Popen | None = None
        self.log: Path | None = None

    def start(self) -> None:
        self.log = self.tmp / f"run-{len(self.groups) + 1}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True, umask=0o022)
        self.groups.append(self.proc.pid)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_banner(self, seconds: float = 300) -> str:
        deadline = time.time() + seconds
        while time.time() < deadline:
            text = self.text()
            if BANNER_END in text or self.proc.poll() is not None:
                break
            time.sleep(0.5)
        text = self.text()
        assert BANNER_END in text and self.proc.poll() is None, f"{self.name} did not come up:\n{text[-4000:]}"
        assert "did not come up" not in text and "Traceback" not in text, text[-4000:]
        return text[text.rindex("== AI calling wallet is running =="):]

    def sink(self) -> tuple[str, int]:
        """(the sink's page URL, its SMTP port) as the banner prints them."""
        m = re.search(r"smtp-sink\s+(http://127\.0\.0\.1:\d+)/.*SMTP on 127\.0\.0\.1:(\d+)", self.text())
        assert m, self.text()[-3000:]
        return m.group(1), int(m.group(2))

    def supervisor(self) -> int:
        """The pid of this copy's API supervisor (api.serve on its port)."""
        want = b"\x00".join([b"api.serve", b"--host", b"127.0.0.1", b"--port", str(self.api_port).encode(), b""])
        for d in Path("/proc").iterdir():
            try:
                if d.name.isdigit() and want in (d / "cmdline").read_bytes():
                    return int(d.name)
            except OSError:
                continue
        raise AssertionError(f"no api.serve on {self.api_port}")

    def stop(self) -> None:
        for pgid in self.groups:
            for sig in (signal.SIGTERM, signal.SIGCONT):
                try:
                    os.killpg(pgid, sig)
                except ProcessLookupError:
                    pass
        if self.proc is not None:
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
        for pgid in self.groups:
            try:  # whatever outlived the polite stop
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid and \
                    b"spawn_main" in (d / "cmdline").read_bytes():
                out.append(int(d.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_until(cond, seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while not cond():
        assert time.time() < deadline, what
        time.sleep(0.2)


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    a = Copy(tmp_path_factory.mktemp("copy-a"), "copy A")
    b = Copy(tmp_path_factory.mktemp("copy-b"), "copy B")
    # An older run left B's mail folder and a message readable by everyone.
    old = b.data / "smtp_sink"
    old.mkdir(parents=True)
    old.chmod(0o755)
    (old / "0000000000001-00001.eml").write_bytes(b"Subject: left by an older run\r\nTo: x@y.in\r\n\r\nold\r\n")
    (old / "0000000000001-00001.eml").chmod(0o644)
    try:
        a.start()
        b.start()  # at the same moment: their sinks look for ports together
        a.wait_banner()
        b.wait_banner()
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_9_each_dashboard_ran_its_script_before_its_url_was_printed(copies):
    """Nobody has visited yet: Streamlit's metrics already count one session, and the database the
    script opens (app_ui._open, a cache_resource) was opened once."""
    for c in copies:
        _, metrics = _get(f"http://127.0.0.1:{c.port}/_stcore/metrics")
        connects = re.search(r'session_events_total\{type="connect"\} (\d+)', metrics)
        assert connects and int(connects.group(1)) >= 1, metrics[:2000]
        assert re.search(r'cache_lookups_total\{cache="app_ui._open",cache_type="st_cache_resource",'
                         r'result="miss"\} 1', metrics), metrics[:2000]


def test_two_copies_on_one_machine_both_come_up_on_their_own_ports(copies):
    sinks = []
    for c in copies:
        banner = c.wait_banner(1)
        for url in re.findall(r"https?://[^\s)]+", banner):
            assert _get(url)[0] < 400, (c.name, url)
        assert f"http://127.0.0.1:{c.port}" in banner and f":{c.api_port}/api/health" in banner
        page, smtp_port = c.sink()
        assert _get(page + "/health")[0] == 200
        sinks.append((page, smtp_port))
    (page_a, smtp_a), (page_b, smtp_b) = sinks
    assert page_a != page_b and smtp_a != smtp_b
    assert not {smtp_a, smtp_b, int(page_a.rsplit(":", 1)[1]), int(page_b.rsplit(":", 1)[1])} & {8925, 8926}


def _send_mail(smtp_port: int, subject: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alerts@wallet.test", "finance@shop.in", subject
    msg.set_content("Your balance is low.")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as s:
        s.send_message(msg)


def _modes(folder: Path) -> tuple[str, dict]:
    return oct(stat.S_IMODE(folder.stat().st_mode)), {p.name: oct(stat.S_IMODE(p.stat().st_mode))
                                                      for p in folder.iterdir()}


def test_5_the_mail_sinks_folder_is_0700_and_its_messages_0600(copies):
    a, b = copies
    assert _modes(a.data / "smtp_sink") == ("0o700", {})  # made by the sink, under umask 022
    assert _modes(b.data / "smtp_sink") == ("0o700", {"0000000000001-00001.eml": "0o600"})  # fixed at start
    for c in copies:
        page, smtp_port = c.sink()
        _send_mail(smtp_port, f"low balance at {c.name}")
        _wait_until(lambda c=c, page=page: any(m["subject"] == f"low balance at {c.name}"
                                for m in json.loads(_get(page + "/messages")[1])), 30, "the mail never landed")
        folder_mode, modes = _modes(c.data / "smtp_sink")
        assert folder_mode == "0o700" and len(modes) >= 2 and set(modes.values()) == {"0o600"}, modes
    listed = json.loads(_get(b.sink()[0] + "/messages")[1])
    assert any(m["subject"] == "left by an older run" for m in listed)  # kept, only its mode changed


def test_2_kill_9_of_the_api_supervisor_takes_its_workers_and_make_run_comes_up_again(copies):
    a, b = copies
    sup = a.supervisor()
    workers = _children(sup)
    assert len(workers) == 2, workers
    os.kill(sup, signal.SIGKILL)
    a.proc.wait(120)  # make run sees its API gone and stops the rest
    _wait_until(lambda: not any(_alive(w) for w in workers), 30, f"workers outlived the supervisor: {workers}")
    assert procs.listeners(a.api_port) == []
    assert _get(f"http://127.0.0.1:{b.api_port}/api/health")[0] == 200  # the other copy serves on

    a.start()  # make run again, same ports, same data
    a.wait_banner()
    assert "in use" not in a.text()
    assert _get(f"http://127.0.0.1:{a.api_port}/api/health")[0] == 200
    assert _get(f"http://127.0.0.1:{b.api_port}/api/health")[0] == 200


def test_2_a_start_names_orphans_of_its_own_on_its_port_and_takes_it_over(copies):
    """Workers that cannot act when their supervisor is killed (stopped: SIGSTOP) outlive it and keep
    the port; the next start says so, stops them and comes up."""
    a, _ = copies
    if a.proc.poll() is not None:
        a.start()
        a.wait_banner()
    sup = a.supervisor()
    workers = _children(sup)
    assert len(workers) == 2, workers
    for w in workers:
        os.kill(w, signal.SIGSTOP)
    os.kill(sup, signal.SIGKILL)
    a.proc.wait(120)
    assert all(_alive(w) for w in workers) and sorted(procs.listeners(a.api_port)) == sorted(workers)

    a.start()
    a.wait_banner()
    said = a.text()
    assert "orphaned API worker(s)" in said and all(str(w) in said for w in workers), said[-3000:]
    assert not any(_alive(w) for w in workers)
    assert _get(f"http://127.0.0.1:{a.api_port}/api/health")[0] == 200
