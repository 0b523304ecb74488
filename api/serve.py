"""The API's processes: `python -m api.serve --host H --port P [--workers N] [--log-level L] [--no-access-log]`.

uvicorn's own `--workers` shares one listening socket among its processes, and the kernel hands a new
connection to whichever process reaches accept() first. A client that opens its keep-alive connections
together (the voice platform's connection pool, bench/api.py's callers) then lands them all on one process:
22 connections of 22 on one worker, measured, while the other core idled. Here every process listens on a
socket of its own with SO_REUSEPORT, and the kernel spreads new connections across them by a hash of the
client's address and port. A process that dies is started again; SIGTERM or SIGINT stops them all.

The processes die with the supervisor, even a SIGKILLed one (services.procs.die_with_parent): orphans
kept the port, and every restart failed with "in use". A start that finds its port held by orphans of
an API supervisor on the same address that no longer runs (each worker carries `WALLET_API_SUPERVISOR`,
its address and its supervisor, in its environment) says so and takes the port over: it stops them.
Any other holder is refused, a live API's workers included.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import socket
import sys
import time

from services import procs

MARK = "WALLET_API_SUPERVISOR"  # "<host>:<port> <procs.owner() of the supervisor>", in each worker's environment


def listen(host: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, port))
    s.listen(2048)
    return s


def serve(host: str, port: int, log_level: str, access_log: bool, shared: bool, parent: int | None = None) -> None:
    """One API process on `host:port` (its own SO_REUSEPORT socket when `shared`); with `parent`, it
    ends when that supervisor does."""
    if parent is not None:
        procs.die_with_parent(parent)
    import uvicorn
    config = uvicorn.Config("api.main:app", host=host, port=port, log_level=log_level, access_log=access_log)
    server = uvicorn.Server(config)
    server.run(sockets=[listen(host, port)] if shared else None)


def _bind_probe(host: str, port: int) -> OSError | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None


def orphans(host: str, port: int, holders: list[int]) -> list[int]:
    """The holders that are API workers on this very address whose supervisor no longer runs."""
    out = []
    for pid in holders:
        where, _, owner = procs.environ_of(pid).get(MARK, "").partition(" ")
        if where == f"{host}:{port}" and procs.owner_gone(owner) is True:
            out.append(pid)
    return out


def _check_free(host: str, port: int, grace: float = 20.0) -> None:
    """Refuse a port another program listens on (SO_REUSEPORT would otherwise share it with them), but
    take it over from orphaned workers of a killed API supervisor of our own."""
    exc = _bind_probe(host, port)
    if exc is None:
        return
    holders = procs.listeners(port)
    lost = orphans(host, port, holders)
    if not holders or len(lost) < len(holders):
        who = f" by pid {', '.join(map(str, holders))}" if holders else ""
        sys.exit(f"api.serve: {host}:{port} is in use{who} ({exc.strerror})")
    print(f"api.serve: {host}:{port} is held by {len(lost)} orphaned API worker(s) (pid "
          f"{', '.join(map(str, lost))}) of a supervisor that no longer runs: stopping them and taking the port "
          "over", file=sys.stderr, flush=True)
    _end(lost, grace)
    exc = _bind_probe(host, port)
    if exc is not None:
        sys.exit(f"api.serve: {host}:{port} is still in use after stopping the orphans ({exc.strerror})")


def _end(pids: list[int], grace: float) -> None:
    """SIGTERM (and SIGCONT: a stopped process acts on nothing), then SIGKILL what is still there after
    `grace` seconds."""
    for sigs, wait in (((signal.SIGTERM, signal.SIGCONT), grace), ((signal.SIGKILL,), 5.0)):
        for pid in pids:
            for sig in sigs:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(procs.gone(procs.HOST, pid) is False for pid in pids):
            time.sleep(0.1)


def run(host: str, port: int, workers: int, log_level: str = "info", access_log: bool = True) -> None:
    _check_free(host, port)
    if workers <= 1:
        serve(host, port, log_level, access_log, shared=False)
        return
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter each: no database handle crosses a fork
    os.environ[MARK] = f"{host}:{port} {procs.owner()}"  # the workers inherit it: a later start knows them
    me = os.getpid()

    def start(name: str):
        p = ctx.Process(target=serve, args=(host, port, log_level, access_log, True, me), name=name)
        p.start()
        return p

    children = [start(f"api-{i}") for i in range(workers)]
    stopping: list[bool] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    while not stopping:
        children = [p if p.is_alive() or stopping else start(p.name) for p in children]
        time.sleep(0.5)
    _stop(children)


def _stop(children) -> None:
    for p in children:
        p.terminate()  # uvicorn shuts down gracefully on SIGTERM
    deadline = time.monotonic() + 20
    for p in children:
        p.join(max(0.1, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--log-level", default="info")
    p.add_argument("--no-access-log", action="store_true")
    a = p.parse_args(argv)
    run(a.host, a.port, a.workers, a.log_level, not a.no_access_log)


if __name__ == "__main__":
    main()
