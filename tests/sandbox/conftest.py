"""The sandbox server each module of tests/sandbox/ shares (one per module, its own seed), and the
receiver of its webhooks."""
from __future__ import annotations

import pytest

from tests.support.sandbox_server import KEY_ID, KEY_SECRET, WEBHOOK_SECRET, Receiver


@pytest.fixture(scope="module")
def sandbox_seed() -> int:
    """The seed of the module's server (a module overrides it to get its own)."""
    return 7


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.handle.stop()


@pytest.fixture(scope="module")
def server(receiver, sandbox_seed):
    from sandbox.razorpay_server import create_app, run_in_thread
    handle = run_in_thread(create_app(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, webhook_url=receiver.url,
                                      duplicate_probability=0.0, seed=sandbox_seed, webhook_backoff=0.05))
    yield handle
    handle.stop()
