"""Building and running the sandbox app: `create_app`, `run_in_thread` (tests), `main` (the CLI)."""
from __future__ import annotations

import argparse
import logging
import os
import socket
import threading
import time
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from sandbox.razorpay_server import control, http, paypage, recurring_routes
from sandbox.razorpay_server.common import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, DEFAULT_WEBHOOK_SECRET
from sandbox.razorpay_server.state import Sandbox


def create_app(key_id: str = DEFAULT_KEY_ID, key_secret: str = DEFAULT_KEY_SECRET,
               webhook_secret: str = DEFAULT_WEBHOOK_SECRET, webhook_url: str | None = None,
               state_path: str | None = None, public_url: str | None = None, *,
               duplicate_probability: float = 0.5, seed: int | None = None, webhook_timeout: float = 5.0,
               webhook_attempts: int = 4, webhook_backoff: float = 0.5) -> Starlette:
    """Build the sandbox app. The Sandbox state object is at `app.state.sandbox`."""
    sb = Sandbox(key_id, key_secret, webhook_secret, webhook_url, state_path, public_url,
                 duplicate_probability, seed, webhook_timeout, webhook_attempts, webhook_backoff)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        sb.webhooks.close()  # let the worker thread end with the server

    pages = [Route("/pay/{id}", paypage.pay_page, methods=["GET"]),
             Route("/pay/{id}/{action:str}", paypage.pay_page_action, methods=["POST"])]
    app = Starlette(routes=recurring_routes.ROUTES + http.ROUTES + pages + control.ROUTES, lifespan=lifespan)
    app.state.sandbox = sb
    return app


class ServerHandle:
    """A uvicorn server running in a daemon thread; `.url`, `.port`, `.app`, `.sandbox`, `.stop()`."""

    def __init__(self, app: Starlette, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket):
        self.app, self.server, self.thread, self.sock = app, server, thread, sock
        self.host, self.port = sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"

    @property
    def sandbox(self) -> Sandbox | None:
        return getattr(self.app.state, "sandbox", None)

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_in_thread(app_or_params: Starlette | dict | None = None, port: int = 0,
                  host: str = "127.0.0.1", timeout: float = 10.0) -> ServerHandle:
    """Serve an app (or `create_app(**params)`) on host:port (0 = any free port) in a daemon thread."""
    app = app_or_params if isinstance(app_or_params, Starlette) else create_app(**(app_or_params or {}))
    # Bind the socket ourselves so port 0 resolves before uvicorn starts and nothing races for it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.01)
    return ServerHandle(app, server, thread, sock)


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Offline fake Razorpay server for development and tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env("SANDBOX_PORT", "8787")))
    parser.add_argument("--key-id", default=env("RAZORPAY_KEY_ID", DEFAULT_KEY_ID))
    parser.add_argument("--key-secret", default=env("RAZORPAY_KEY_SECRET", DEFAULT_KEY_SECRET))
    # The configuration may list several secrets (current first, for rotation): Razorpay signs with the current.
    secret = (env("RAZORPAY_WEBHOOK_SECRET") or DEFAULT_WEBHOOK_SECRET).split(",")[0].strip()
    parser.add_argument("--webhook-secret", default=secret or DEFAULT_WEBHOOK_SECRET)
    parser.add_argument("--webhook-url", default=env("SANDBOX_WEBHOOK_URL") or None)
    parser.add_argument("--state", default=env("SANDBOX_STATE") or None, help="JSON file to persist state in")
    parser.add_argument("--public-url", default=env("SANDBOX_PUBLIC_URL") or None,
                        help="base of short_url (default: the URL the API was called on)")
    parser.add_argument("--duplicate-probability", type=float,
                        default=float(env("SANDBOX_DUPLICATE_PROBABILITY", "0.5")))
    parser.add_argument("--seed", type=int, default=int(env("SANDBOX_SEED")) if env("SANDBOX_SEED") else None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(args.key_id, args.key_secret, args.webhook_secret, args.webhook_url, args.state,
                     args.public_url, duplicate_probability=args.duplicate_probability, seed=args.seed)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


