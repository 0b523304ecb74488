"""Is that process still there? The one liveness test behind the ledger's key claims and the campaign
runner's lease.

A process is named by host, pid and start time (`owner()`): the start time tells a live process apart
from a newer one that reused the pid. Only this host can be asked; for another host the answer is
None and the caller falls back on time (a lease that lapses, a grace period).
"""
from __future__ import annotations

import os
import socket

HOST = socket.gethostname()


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
