"""The API's processes: `python -m api.serve --host H --port P [--workers N] [--log-level L] [--no-access-log]`.

uvicorn's own `--workers` shares one listening socket among its processes, and the kernel hands a new
connection to whichever process reaches accept() first. A client that opens its keep-alive connections
together (the voice platform's connection pool, bench/api.py's callers) then lands them all on one process:
22 connections of 22 on one worker, measured, while the other core idled. Here every process listens on a
socket of its own with SO_REUSEPORT, and the kernel spreads new connections across them by a hash of the
client's address and port. A process that dies is started again; SIGTERM or SIGINT stops them all.
"""
from __future__ import annotations

import argparse
import multiprocessing
import signal
import socket
import sys
import time


def listen(host: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, port))
    s.listen(2048)
    return s


def serve(host: str, port: int, log_level: str, access_log: bool, shared: bool) -> None:
    """One API process on `host:port` (its own SO_REUSEPORT socket when `shared`)."""
    import uvicorn
    config = uvicorn.Config("api.main:app", host=host, port=port, log_level=log_level, access_log=access_log)
    server = uvicorn.Server(config)
    server.run(sockets=[listen(host, port)] if shared else None)


def _check_free(host: str, port: int) -> None:
    """Refuse a port another program listens on: SO_REUSEPORT would otherwise share it with them."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            sys.exit(f"api.serve: {host}:{port} is in use ({exc.strerror})")


def run(host: str, port: int, workers: int, log_level: str = "info", access_log: bool = True) -> None:
    if workers <= 1:
        serve(host, port, log_level, access_log, shared=False)
        return
    _check_free(host, port)
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter each: no database handle crosses a fork

    def start(name: str):
        p = ctx.Process(target=serve, args=(host, port, log_level, access_log, True), name=name)
        p.start()
        return p

    procs = [start(f"api-{i}") for i in range(workers)]
    stopping: list[bool] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    while not stopping:
        procs = [p if p.is_alive() or stopping else start(p.name) for p in procs]
        time.sleep(0.5)
    _stop(procs)


def _stop(procs) -> None:
    for p in procs:
        p.terminate()  # uvicorn shuts down gracefully on SIGTERM
    deadline = time.monotonic() + 20
    for p in procs:
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
