"""Property tests from the API's own OpenAPI schema (schemathesis).

Per operation: for generated valid and invalid requests to every operation, no 5xx, and every response
(status, content type, body) matches the schema. Authenticated as an admin with money in the wallet, so
admin and paying operations are reached; payments run against the offline Razorpay sandbox. Bounded to 25
examples per operation. Every check schemathesis has runs except positive_data_acceptance (see below).

Stateful: schemathesis follows the schema's OpenAPI links (api/links.py): sign up -> sign in -> start a
call with the token the sign-in returned -> end that call, and payment link -> its status. Every check
runs on every step; the test also asserts that the whole chain was walked, so it cannot pass vacuously.
"""
from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.main import create_app
from services import accounts, db as dbmod, schema, settings as wallet_settings, tokens, wallet

_dir = tempfile.mkdtemp(prefix="api-schema-")
DB = dbmod.open_db(uri="", name="schema", path=str(Path(_dir) / "w.sqlite"))
schema.ensure_schema(DB)
APP = create_app(db=DB)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

ADMIN = "schema-admin"
accounts.create_user(DB, ADMIN, "schema-pass-1", "Schema Admin", "sa@example.com", "admin")
wallet.admin_credit(DB, admin=ADMIN, user_id=ADMIN, amount=50_000, category="promo_credit", reason="schema run",
                    key="schema-seed")
TOKEN = tokens.issue(DB, ADMIN)
# Calls the run starts and never ends must not meet the simultaneous-call limit: a 429 that depends on
# what earlier examples left open makes the same draw answer differently, which Hypothesis calls flaky.
wallet_settings.set_value(DB, "max_concurrent_calls", 1000, by=ADMIN)
SIGNED_IN: set[str] = set()  # "Bearer <token>" of the users the stateful run signed up or in
CALLERS: dict[str, str] = {}  # call id -> the token that started it (an OpenAPI link cannot carry it on)


@pytest.fixture(scope="module", autouse=True)
def razorpay_sandbox():
    from sandbox.razorpay_server import run_in_thread
    mp = pytest.MonkeyPatch()
    sb = run_in_thread({"seed": 11})
    for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        mp.delenv(name, raising=False)
    mp.setenv("RAZORPAY_SANDBOX_URL", sb.url)
    yield sb
    sb.stop()
    mp.undo()


@schema.auth(refresh_interval=None)
class AdminToken:
    """Registered with schemathesis, so it does not fuzz the Authorization header of signed-in cases. A
    token a link put there from a sign-up or sign-in of the stateful run is kept."""

    def get(self, case, ctx):
        # logout revokes the token it is given: hand it a throwaway one so the run stays signed in
        if case.path == "/api/auth/logout":
            return tokens.issue(DB, ADMIN)
        return CALLERS.get((case.path_parameters or {}).get("call_id"), TOKEN)

    def set(self, case, data, ctx):
        if (case.headers or {}).get("Authorization") not in SIGNED_IN:
            case.headers = dict(case.headers or {}, Authorization=f"Bearer {data}")


# ----------------------------------------------------------------------------------------- stateful

SIGNUP, START, END = "POST /api/auth/signup", "POST /api/call", "POST /api/call/{call_id}/end"
_n = itertools.count(1)
WALKED: Counter = Counter()


# The operations the links join (the per-operation test above covers the rest): with fewer roots to
# start from, Hypothesis spends its steps walking the chains.
LINKED = ["auth_signup", "auth_login", "auth_me", "wallet_balance", "calls_start", "calls_end",
          "payment_create_link", "payment_link_status"]


class Flow(schema.include(operation_id=LINKED).as_state_machine()):
    """The links, walked with data that passes the business rules the schema cannot state (a username's
    alphabet, a phone number, a knowledge base id) and a valid end, so the chain reaches its last link;
    everything else (max_minutes, the generated durations in range, the other operations' inputs) is
    generated."""

    def before_call(self, case):
        label = case.operation.label
        if label == SIGNUP and isinstance(case.body, dict):
            n = next(_n)
            case.body = dict(case.body, username=f"flow{n}", password=f"flow-pass-{n}", name=f"Flow {n}",
                             email=f"flow{n}@example.com")
        elif label == START and isinstance(case.body, dict):
            case.body = dict(case.body, to_number="+919876543210", kb_id="kb_flow")
        elif label == END:
            # a generated body that fails validation ends the chain at its last link; the per-operation
            # test below sends those. Whether the walk reached this link at all was luck of the draw.
            seconds = (case.body or {}).get("duration_seconds") if isinstance(case.body, dict) else None
            valid = isinstance(seconds, int) and not isinstance(seconds, bool) and 0 <= seconds <= 86_400
            case.body = {"duration_seconds": seconds if valid else 60}

    def after_call(self, response, case):
        super().after_call(response, case)
        label, status = case.operation.label, response.status_code
        WALKED[(label, status, bool(case.headers and case.headers.get("Authorization", "").endswith(TOKEN)))] += 1
        if label == SIGNUP and status == 201:
            # a new wallet is empty: fund it so the calls it starts are billed, not refused with 402
            wallet.admin_credit(DB, admin=ADMIN, user_id=case.body["username"], amount=100,
                                category="promo_credit", reason="stateful run", key=f"flow-{case.body['username']}")
        if label in (SIGNUP, "POST /api/auth/login") and status in (200, 201):
            SIGNED_IN.add(f"Bearer {response.json()['token']}")
        if label == START and status == 200 and case.headers:
            CALLERS[response.json()["call_id"]] = case.headers["Authorization"].removeprefix("Bearer ")

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(response, additional_checks=additional_checks,
                               excluded_checks=[positive_data_acceptance], transport_kwargs=kwargs or None)


def test_stateful_links_sign_up_sign_in_start_and_end_a_call():
    WALKED.clear()
    # No shrinking: the database outlives each example, so a replay is not the same run; a failing
    # example is reported as found.
    Flow.run(settings=settings(max_examples=50, stateful_step_count=10, deadline=None, derandomize=True,
                               phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck)))
    signed_up = sum(n for (label, status, _), n in WALKED.items() if label == SIGNUP and status == 201)
    own_starts = sum(n for (label, status, admin), n in WALKED.items() if label == START and status == 200
                     and not admin)
    own_ends = sum(n for (label, status, admin), n in WALKED.items() if label == END and status == 200
                   and not admin)
    assert signed_up and own_starts and own_ends, WALKED  # the chain ran with the signed-up users' tokens
    assert not [k for k in WALKED if k[1] >= 500], WALKED


# ------------------------------------------------------------------------------------- per operation
# After the stateful run: the cases below leave state (failed sign-ins, open links) that would make
# the walk above answer differently from one example to the next.

@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema(case):
    # Not checked: "every schema-valid request is accepted". Business rules the schema cannot state (the
    # minimum recharge from settings, a username's alphabet, a known call id) rightly answer 400/402.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
