"""The offline Razorpay sandbox's own tests (tests/sandbox/): its keys, a webhook recorder that can be told
to fail, the real SDK pointed at it, and a reset between tests that share one server."""
from __future__ import annotations

import json
import threading
import time

import httpx
import razorpay
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.razorpay_server import run_in_thread

KEY_ID = "rzp_test_unit"
KEY_SECRET = "unit_key_secret"
WEBHOOK_SECRET = "unit_webhook_secret"


class Receiver:
    """A tiny webhook receiver: records raw bodies and headers; can be told to fail N times."""

    def __init__(self):
        self.lock = threading.Lock()
        self.hits: list[dict] = []
        self.fail_next = 0

        async def hook(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                failing = self.fail_next > 0
                self.fail_next -= failing
                self.hits.append({"body": body, "headers": dict(request.headers), "failed": failing})
            return Response("nope" if failing else "ok", status_code=500 if failing else 200)

        self.handle = run_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
        self.url = self.handle.url + "/hook"

    def ok_hits(self) -> list[dict]:
        with self.lock:
            return [h for h in self.hits if not h["failed"]]

    def clear(self) -> None:
        with self.lock:
            self.hits.clear()
            self.fail_next = 0


def reset(server, receiver, **config) -> None:
    """Between tests sharing one server: no webhook of the last test in flight, its state gone, webhooks
    to `receiver` once each (plus `config`), the real clock, nothing recorded."""
    server.sandbox.webhooks.wait_idle(5)
    httpx.post(server.url + "/sandbox/reset")
    httpx.post(server.url + "/sandbox/config", json={"duplicate_probability": 0.0, "webhook_url": receiver.url,
                                                     **config})
    server.sandbox.clock = time.time
    receiver.clear()


def make_client(url: str, key_id: str = KEY_ID, key_secret: str = KEY_SECRET) -> razorpay.Client:
    session = requests.Session()
    session.trust_env = False  # never route 127.0.0.1 through a proxy from the environment
    return razorpay.Client(session=session, auth=(key_id, key_secret), base_url=url)


def link_body(**overrides):
    body = {"amount": 50000, "currency": "INR", "reference_id": f"topup-{time.monotonic_ns()}",
            "description": "Wallet top-up ₹500", "customer": {"name": "Asha", "contact": "+919812345678"},
            "notes": {"user_id": "u1"}, "callback_url": "https://app.example/callback?src=wallet",
            "callback_method": "get", "expire_by": int(time.time()) + 20 * 60}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def events_of(hits: list[dict]) -> list[dict]:
    return [json.loads(h["body"]) for h in hits]
