"""Is that process still there? The one liveness test behind the ledger's key claims and the campaign
runner's lease; and the ties of the API's worker processes to their supervisor (they die with it, and a
start finds who holds its port).

A process is named by host, pid and start time (`owner()`): the start time tells a live process apart
from a newer one that reused the pid. Only this host can be asked; for another host the answer is
None and the caller falls back on time (a lease that lapses, a grace period).
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import threading
import time
from pathlib import Path

HOST = socket.gethostname()
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" if unknown: no such process, no /proc)."""
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return ""


def owner() -> str:
    """`host|pid|start time` of this process. Computed per call: a forked child is not its parent."""
    pid = os.getpid()
    return f"{HOST}|{pid}|{start_time(pid)}"


def gone(host: str | None, pid, started: str | None = None) -> bool | None:
    """True if the process `pid` (started at `started`, when known) on `host` no longer runs, False if it
    does, None if this process cannot tell (another host, or no usable pid)."""
    if host != HOST:
        return None
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        pass  # it exists, but belongs to another user
    now = start_time(pid)
    return bool(started) and bool(now) and now != started  # the pid was reused by a newer process


def owner_gone(tag: str) -> bool | None:
    """`gone` for an `owner()` tag."""
    host, _, rest = (tag or "").partition("|")
    pid, _, started = rest.partition("|")
    return gone(host, pid, started)


# ------------------------------------------------------------------------------ children and ports

def die_with_parent(parent: int, *, grace: float = 20.0) -> None:
    """End this process when `parent` (the pid that started it) exits, even by SIGKILL: the kernel sends
    SIGTERM at once (Linux prctl PR_SET_PDEATHSIG), and a watch on the parent does it anyway within a
    second (another system, or a parent that died before the prctl); if SIGTERM has not ended the
    process `grace` seconds later, it exits. A worker that outlived its supervisor kept its port, and
    every restart then failed."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no prctl here: the watch alone

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def listeners(port: int) -> list[int]:
    """The pids of this user's processes listening on TCP `port` (any address), from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{f[9]}]")
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (d / "fd").iterdir()):
                pids.append(int(d.name))
        except OSError:
            continue  # gone, or another user's
    return sorted(pids)


def environ_of(pid: int) -> dict[str, str]:
    """The environment `pid` started with ({} if it cannot be read)."""
    try:
        raw = Path(f"/proc/{int(pid)}/environ").read_bytes()
    except (OSError, ValueError):
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
