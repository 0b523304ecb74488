"""The real worker (scripts/worker.py's `main`, its endless loop) in a child process, for the tests that
SIGKILL it while it delivers alerts or makes auto-recharge charges."""
from __future__ import annotations

import os


def run_worker() -> None:
    """The worker's loop (its environment set by tests.support.processes.start), its output discarded."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    from scripts import worker
    worker.main()
