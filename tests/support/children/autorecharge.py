"""The real worker (scripts/worker.py's `main`) in a child process, for tests/test_autorecharge_kill.py.

The kill test forks it from a forkserver that has imported PRELOAD: a fresh interpreter spends several
seconds importing the services before its first tick, which ten restarts would pay again each time (and
the kills would land in imports, not in auto-recharge work)."""
from __future__ import annotations

import os

PRELOAD = ["tests.support.children.autorecharge", "scripts.worker", "services.autorecharge", "services.payments",
           "services.alerts", "services.documents", "razorpay", "pymongo", "mongoeco", "mongoeco.engines", "sqlite3",
           "asyncio"]


def run_worker(env: dict) -> None:
    """The worker's endless loop with `env` as its whole environment, its output discarded."""
    os.environ.clear()
    os.environ.update(env)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    from scripts import worker
    worker.main()
