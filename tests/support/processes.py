"""Child processes for the concurrency and kill tests, started warm and killed safely.

Warm: every child is forked from one forkserver that imported PRELOAD once, so a child starts in
milliseconds instead of paying 2-3 s of imports (the embedded engine, pymongo, the services) in a fresh
interpreter, and a test waits for a sign of life from it (progress in its log, a message), never for
"long enough for start-up". The forkserver is shared by the whole session: whichever test starts it
first, it has what every child here needs.

Killed safely: a child may finish its work between the test's last look and the kill. `kill` treats
that as a finished step, not an error, whatever kind of process it is (a forkserver's child is reaped by
the forkserver, so its pid may already be gone: os.kill would raise ProcessLookupError).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess

PRELOAD = ["tests.support.children.warm", "tests.support.children.ledger", "tests.support.children.calls",
           "tests.support.children.documents", "tests.support.children.worker", "tests.support.children.refund",
           "tests.support.children.staffview", "tests.support.children.transfer",
           "tests.support.children.usage", "tests.support.children.lots",
           "scripts.worker", "services.payments", "services.documents", "services.autorecharge",
           "services.alerts", "services.calls", "services.campaigns", "razorpay", "pymongo", "mongoeco",
           "mongoeco.engines", "sqlite3", "asyncio", "numpy", "shapely", "usearch", "jsonschema"]


def warm():
    """The forkserver context every child here is started from."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def start(target, *args, env: dict | None = None):
    """`target(*args)` in a warm child whose whole environment is `env` (default: this process's now,
    as a fresh interpreter would get it; the forkserver's own is that of whenever it started)."""
    p = warm().Process(target=_with_env, args=(dict(os.environ if env is None else env), target, args),
                       daemon=True)
    p.start()
    return p


def _with_env(env: dict, target, args) -> None:
    os.environ.clear()
    os.environ.update(env)
    target(*args)


def exitcode(p) -> int | None:
    return p.returncode if isinstance(p, subprocess.Popen) else p.exitcode


def kill(p, timeout: float = 60) -> bool:
    """SIGKILL `p` (a multiprocessing Process or a subprocess.Popen) and reap it. True if the kill ended
    it; False if it had already finished its work (exit status 0): a finished step. Any other end (an
    exception, a non-zero exit) fails the test: that is a real failure, not a race with the kill."""
    if isinstance(p, subprocess.Popen):
        p.send_signal(signal.SIGKILL)  # Popen skips a child it has reaped; an unreaped one is still ours
        p.wait(timeout)
    else:
        p.kill()                       # multiprocessing ignores a pid that is already gone
        p.join(timeout)
    code = exitcode(p)
    if code == -signal.SIGKILL:
        return True
    assert code == 0, f"the child ended with status {code} before the kill"
    return False
