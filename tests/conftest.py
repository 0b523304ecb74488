"""The suite's fixtures: the database targets here, the rest registered from tests/support (one module
per concern) so that no test module imports another."""
from __future__ import annotations

import sys

import pytest

from services import passwords
from tests.support.targets import TARGETS, WireServer, make_target

PRODUCT_ROUNDS = passwords.ROUNDS

pytest_plugins = ["tests.support.api", "tests.support.payments", "tests.support.dashboard",
                  "tests.support.alerts", "tests.support.autorecharge", "tests.support.browser"]


@pytest.fixture(autouse=True, scope="session")
def _cheap_bcrypt():
    """bcrypt at its lowest cost in the test processes: a hash at cost 10 takes 60 ms, and the suite made
    thousands (15% of the time of the modules that sign people up). Processes the tests start (the API,
    make run, warm children) keep the real cost; tests that time logins restore it (`real_bcrypt`)."""
    passwords.ROUNDS = 4
    passwords._dummy_hash.cache_clear()
    yield
    passwords.ROUNDS = PRODUCT_ROUNDS
    passwords._dummy_hash.cache_clear()


@pytest.fixture
def real_bcrypt(monkeypatch):
    """The product's bcrypt cost, for a test that compares the time of logins."""
    monkeypatch.setattr(passwords, "ROUNDS", PRODUCT_ROUNDS)
    passwords._dummy_hash.cache_clear()
    yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture(autouse=True)
def _restore_main_module():
    """AppTest runs app.py as `__main__` and leaves it there; a later multiprocessing "spawn" child
    would then re-run app.py instead of pytest's main. Put pytest's back after every test."""
    main = sys.modules.get("__main__")
    saved = {k: getattr(main, k) for k in ("__file__", "__spec__") if hasattr(main, k)}
    yield
    if main is not None:
        sys.modules["__main__"] = main
        for k, v in saved.items():
            setattr(main, k, v)


@pytest.fixture
def wire_server(tmp_path_factory):
    """A wire server of the test's own (~50 ms to start). One for the session served every test's database
    from one file, and the engine's scans cover every database in its file: the last wire tests of a run
    ran 5-10x slower than alone (8 threads racing one wallet: 11 s alone, 121 s in the suite)."""
    srv = WireServer(str(tmp_path_factory.mktemp("wire") / "wire.sqlite"))
    yield srv
    srv.stop()


@pytest.fixture(params=TARGETS)
def target(request, tmp_path):
    """(db, spec) on each target."""
    return make_target(request.param, tmp_path, request)


@pytest.fixture(params=TARGETS)
def db(request, tmp_path):
    return make_target(request.param, tmp_path, request)[0]


@pytest.fixture
def edb(tmp_path, request):
    """The embedded engine only: for tests of behaviour above the data layer."""
    return make_target("embedded", tmp_path, request)[0]
