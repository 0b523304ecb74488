"""The fake Razorpay server, driven over real HTTP by the real `razorpay` SDK (no mocks)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import razorpay
import requests

from sandbox.razorpay_server import create_app, hmac_hex, run_in_thread
from tests.support.sandbox_server import (KEY_ID, KEY_SECRET, WEBHOOK_SECRET, events_of, link_body,
                                          make_client, reset)

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(autouse=True)
def clean(request):
    # Only reset when the test uses the shared server; keeps tests independent.
    if "server" in request.fixturenames:
        reset(request.getfixturevalue("server"), request.getfixturevalue("receiver"))
    yield


@pytest.fixture
def client(server):
    return make_client(server.url)


def verify_callback(client: razorpay.Client, params: dict) -> bool:
    # The SDK's trap: it wants these key names, not the raw callback ones.
    return client.utility.verify_payment_link_signature({
        "payment_link_id": params["razorpay_payment_link_id"],
        "payment_link_reference_id": params["razorpay_payment_link_reference_id"],
        "payment_link_status": params["razorpay_payment_link_status"],
        "razorpay_payment_id": params["razorpay_payment_id"],
        "razorpay_signature": params["razorpay_signature"]})


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


# ---------------------------------------------------------------- payment links

def test_signature_matches_documented_test_vector():
    assert hmac_hex("EnLs21M47BllR3X8PSFtjtbd", "plink_IH3cNucfVEgV68|TSsd1989|paid|pay_IH3d0ara9bSsjQ") == \
        "07ae18789e35093e51d0a491eb9922646f3f82773547e5b0f67ee3f2d3bf7d5b"


def test_create_fetch_list_cancel(server, client, receiver):
    body = link_body()
    link = client.payment_link.create(body, timeout=5)
    assert link["id"].startswith("plink_") and len(link["id"]) == len("plink_") + 14
    assert link["short_url"] == f"{server.url}/pay/{link['id']}"
    assert (link["status"], link["amount"], link["amount_paid"], link["payments"]) == ("created", 50000, 0, None)
    assert link["reference_id"] == body["reference_id"] and link["notes"] == {"user_id": "u1"}
    assert link["currency"] == "INR" and link["accept_partial"] is False
    assert link["callback_url"] == body["callback_url"] and link["callback_method"] == "get"
    assert link["expire_by"] == body["expire_by"] and link["created_at"] and link["updated_at"]

    assert client.payment_link.fetch(link["id"], timeout=5) == link
    listed = client.payment_link.all({"reference_id": body["reference_id"]}, timeout=5)
    assert [x["id"] for x in listed["payment_links"]] == [link["id"]]
    assert client.payment_link.all({"reference_id": "no-such-ref"}, timeout=5) == {"payment_links": []}

    edited = client.payment_link.edit(link["id"], {"notes": {"user_id": "u1", "k": "v"}}, timeout=5)
    assert edited["notes"] == {"user_id": "u1", "k": "v"}

    cancelled = client.payment_link.cancel(link["id"], timeout=5)
    assert cancelled["status"] == "cancelled"
    assert client.payment_link.fetch(link["id"], timeout=5)["status"] == "cancelled"
    # cancelled links keep their reference_id: it is unique for ever
    with pytest.raises(razorpay.errors.BadRequestError, match="reference ID already attempted"):
        client.payment_link.create(link_body(reference_id=body["reference_id"]), timeout=5)
    # and the webhook says so
    assert server.sandbox.webhooks.wait_idle(5)
    events = events_of(receiver.ok_hits())
    assert [e["event"] for e in events] == ["payment_link.cancelled"]
    assert events[0]["payload"]["payment_link"]["entity"]["status"] == "cancelled"


@pytest.mark.parametrize("overrides, message", [
    ({"amount": 99}, "atleast INR 1.00"),
    ({"amount": 100.0}, "must be an integer"),
    ({"amount": None}, "amount field is required"),
    ({"currency": "USD"}, "Currency is not supported"),
    ({"expire_by": int(time.time()) + 10 * 60}, "timestamp must be atleast 15 minutes in future"),
    ({"expire_by": int(time.time()) + 15 * 60}, "timestamp must be atleast 15 minutes in future"),
    ({"expire_by": int(time.time()) + 200 * 86400}, "6 months"),
    ({"reference_id": "x" * 41}, "reference_id may not be greater than 40"),
    ({"description": "d" * 2049}, "description may not be greater than 2048"),
    ({"notes": {f"k{i}": "v" for i in range(16)}}, "less than or equal to 15"),
    ({"notes": {"k": "v" * 256}}, "255"),
    ({"upi_link": True}, "not supported in Test Mode"),
    ({"accept_partial": "yes"}, "true or false"),
    ({"callback_method": None}, "callback_method"),
    ({"surprise": 1}, "surprise is/are not required"),
])
def test_create_validation(client, overrides, message):
    with pytest.raises(razorpay.errors.BadRequestError, match=message):
        client.payment_link.create(link_body(**overrides), timeout=5)


def test_duplicate_reference_and_unknown_id(client):
    body = link_body()
    client.payment_link.create(body, timeout=5)
    with pytest.raises(razorpay.errors.BadRequestError,
                       match="payment link creation with reference ID already attempted"):
        client.payment_link.create(dict(body, amount=700), timeout=5)
    with pytest.raises(razorpay.errors.BadRequestError, match="The id provided does not exist"):
        client.payment_link.fetch("plink_doesnotexist00", timeout=5)
    with pytest.raises(razorpay.errors.BadRequestError, match="The id provided does not exist"):
        client.payment.fetch("pay_doesnotexist0000", timeout=5)


def test_bad_auth(server):
    with pytest.raises(razorpay.errors.BadRequestError, match="Authentication failed"):
        make_client(server.url, key_secret="wrong").payment_link.create(link_body(), timeout=5)
    r = httpx.get(server.url + "/v1/payment_links")
    assert r.status_code == 401
    assert r.json() == {"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed",
                                  "field": None, "source": "NA", "step": "NA", "reason": "NA", "metadata": {}}}
    assert server.sandbox.links == {}


def test_hosted_page_pay_redirects_with_signed_params(server, client, receiver):
    link = client.payment_link.create(link_body(), timeout=5)
    page = httpx.get(link["short_url"])
    assert page.status_code == 200
    for text in ("<title>Razorpay Sandbox</title>", "Sandbox — no real money", "₹500.00", "Wallet top-up ₹500",
                 ">Pay<", ">Fail<"):
        assert text in page.text
    assert "Pay partially" not in page.text  # accept_partial is off

    r = httpx.post(f"{server.url}/pay/{link['id']}/pay", data={"method": "upi"}, follow_redirects=False)
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://app.example/callback"
    params = {k: v[0] for k, v in parse_qs(location.query, keep_blank_values=True).items()}
    assert params["src"] == "wallet"  # the callback's own query survives
    assert params["razorpay_payment_link_id"] == link["id"]
    assert params["razorpay_payment_link_reference_id"] == link["reference_id"]
    assert params["razorpay_payment_link_status"] == "paid"
    assert verify_callback(client, params) is True
    with pytest.raises(razorpay.errors.SignatureVerificationError):
        verify_callback(client, dict(params, razorpay_payment_link_status="partially_paid"))

    paid = client.payment_link.fetch(link["id"], timeout=5)
    assert (paid["status"], paid["amount_paid"]) == ("paid", 50000)
    assert paid["payments"] == [{"payment_id": params["razorpay_payment_id"], "amount": 50000,
                                 "status": "captured", "method": "upi",
                                 "created_at": paid["payments"][0]["created_at"], "plink_id": link["id"]}]
    payment = client.payment.fetch(params["razorpay_payment_id"], timeout=5)
    assert payment["id"].startswith("pay_") and len(payment["id"]) == 18
    assert (payment["entity"], payment["status"], payment["amount"], payment["captured"]) == \
        ("payment", "captured", 50000, True)
    assert payment["order_id"] == paid["order_id"] and payment["order_id"].startswith("order_")

    # a paid link can be neither paid again nor cancelled
    again = httpx.post(f"{server.url}/pay/{link['id']}/pay", follow_redirects=False)
    assert again.status_code == 400 and "not payable" in again.text
    with pytest.raises(razorpay.errors.BadRequestError,
                       match="cannot cancel or expire an already paid/partially paid link"):
        client.payment_link.cancel(link["id"], timeout=5)


def test_pay_without_callback_shows_success_page(server, client):
    link = client.payment_link.create(link_body(callback_url=None, callback_method=None), timeout=5)
    r = httpx.post(f"{server.url}/pay/{link['id']}/pay", follow_redirects=False)
    assert r.status_code == 200 and "Payment successful" in r.text and "₹500.00" in r.text


def test_webhooks_signed_and_duplicates_reuse_event_id(server, client, receiver):
    httpx.post(server.url + "/sandbox/config", json={"duplicate_probability": 1.0})
    link = client.payment_link.create(link_body(), timeout=5)
    result = httpx.post(f"{server.url}/sandbox/links/{link['id']}/pay", json={}).json()
    assert result["status"] == "paid" and result["payment_status"] == "captured"
    assert verify_callback(client, result["callback_params"])
    assert result["redirect_url"].startswith(link["callback_url"])

    hits = wait_for(lambda: len(receiver.ok_hits()) >= 4 and receiver.ok_hits())
    assert server.sandbox.webhooks.wait_idle(5)
    hits = receiver.ok_hits()
    assert len(hits) == 4
    for hit in hits:
        assert hit["headers"]["content-type"] == "application/json"
        assert client.utility.verify_webhook_signature(hit["body"].decode("utf-8"),
                                                       hit["headers"]["x-razorpay-signature"], WEBHOOK_SECRET)
        assert hit["headers"]["x-razorpay-event-id"].startswith("evt_")
        assert len(hit["headers"]["x-razorpay-event-id"]) == 18
    by_id: dict[str, list] = {}
    for hit in hits:
        by_id.setdefault(hit["headers"]["x-razorpay-event-id"], []).append(hit["body"])
    assert sorted(len(v) for v in by_id.values()) == [1, 1, 2]  # one event re-delivered under the same id
    assert all(len(set(bodies)) == 1 for bodies in by_id.values())

    events = {e["event"]: e for e in events_of(hits)}
    assert set(events) == {"payment_link.paid", "payment.captured", "order.paid"}
    paid = events["payment_link.paid"]
    assert (paid["entity"], paid["account_id"]) == ("event", "acc_sandbox")
    assert set(paid["contains"]) == {"payment_link", "order", "payment"}
    assert paid["payload"]["payment_link"]["entity"]["id"] == link["id"]
    assert paid["payload"]["payment_link"]["entity"]["status"] == "paid"
    assert "payments" not in paid["payload"]["payment_link"]["entity"]  # the real payload has no list
    order = events["order.paid"]["payload"]["order"]["entity"]
    assert order["id"] == events["payment.captured"]["payload"]["payment"]["entity"]["order_id"]
    assert (order["status"], order["receipt"]) == ("paid", link["reference_id"])  # receipt = reference_id
    assert paid["payload"]["payment"]["entity"]["id"] == result["payment_id"]
    captured = events["payment.captured"]["payload"]["payment"]["entity"]
    assert (captured["id"], captured["amount"], captured["status"]) == (result["payment_id"], 50000, "captured")

    # the log lists every delivery; redeliver re-sends each distinct event under its old id
    log = httpx.get(server.url + "/sandbox/webhooks").json()["deliveries"]
    assert len(log) == 4 and all(d["status"] == "delivered" for d in log)
    assert httpx.post(server.url + "/sandbox/webhooks/redeliver").json() == {"redelivered": 3}
    wait_for(lambda: len(receiver.ok_hits()) == 7)
    assert {h["headers"]["x-razorpay-event-id"] for h in receiver.ok_hits()} == set(by_id)


def test_webhook_order_and_duplicates_are_random_but_seeded(receiver):
    def run(seed):
        """Pay 6 links; per payment, the delivered event names in send order."""
        receiver.clear()
        with run_in_thread(create_app(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, webhook_url=receiver.url,
                                      duplicate_probability=0.5, seed=seed)) as h:
            c = make_client(h.url)
            for _ in range(6):
                link = c.payment_link.create(link_body(), timeout=5)
                httpx.post(f"{h.url}/sandbox/links/{link['id']}/pay", json={})
            assert h.sandbox.webhooks.wait_idle(5)
            per_payment: dict[str, list] = {}
            for d in h.sandbox.webhooks.snapshot():
                pay_id = json.loads(d["body"])["payload"]["payment"]["entity"]["id"]
                per_payment.setdefault(pay_id, []).append(d["event"])
            return list(per_payment.values())

    first, again = run(11), run(11)
    assert first == again  # same seed: same order and same duplicates
    assert all(set(events) == {"payment_link.paid", "payment.captured", "order.paid"} for events in first)
    assert len({events[0] for events in first}) > 1  # order varies
    assert {len(events) for events in first} == {3, 4}  # sometimes one event arrives twice


def test_webhook_retried_after_receiver_error(server, client, receiver):
    receiver.fail_next = 1
    link = client.payment_link.create(link_body(), timeout=5)
    httpx.post(f"{server.url}/sandbox/links/{link['id']}/fail", json={})
    assert server.sandbox.webhooks.wait_idle(5)
    (delivery,) = server.sandbox.webhooks.snapshot()
    assert (delivery["event"], delivery["status"], delivery["attempts"], delivery["http_status"]) == \
        ("payment.failed", "delivered", 2, 200)
    assert [h["failed"] for h in receiver.hits] == [True, False]
    assert receiver.hits[0]["headers"]["x-razorpay-event-id"] == receiver.hits[1]["headers"]["x-razorpay-event-id"]


def test_down_receiver_does_not_block_the_pay_page():
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    with run_in_thread(create_app(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, webhook_url=dead,
                                  webhook_attempts=3, webhook_backoff=0.05)) as h:
        link = make_client(h.url).payment_link.create(link_body(), timeout=5)
        started = time.monotonic()
        r = httpx.post(f"{h.url}/pay/{link['id']}/pay", follow_redirects=False)
        assert r.status_code == 303 and time.monotonic() - started < 1
        assert h.sandbox.webhooks.wait_idle(5)
        deliveries = h.sandbox.webhooks.snapshot()
        assert deliveries and all(d["status"] == "failed" and d["attempts"] == 3 for d in deliveries)
        assert all(d["error"] for d in deliveries)


def test_fail_then_partial_then_full(server, client, receiver):
    link = client.payment_link.create(link_body(amount=1001, accept_partial=True), timeout=5)
    page = httpx.get(link["short_url"]).text
    assert "Pay partially" in page and "₹10.01" in page and 'value="500"' in page

    r = httpx.post(f"{server.url}/pay/{link['id']}/fail", follow_redirects=False)
    assert r.status_code == 200 and "Payment failed" in r.text and f'href="/pay/{link["id"]}"' in r.text
    after_fail = client.payment_link.fetch(link["id"], timeout=5)
    assert (after_fail["status"], after_fail["amount_paid"], after_fail["payments"]) == ("created", 0, None)
    failed_id = server.sandbox.webhooks.wait_idle(5) and json.loads(
        server.sandbox.webhooks.snapshot()[0]["body"])["payload"]["payment"]["entity"]["id"]
    failed = client.payment.fetch(failed_id, timeout=5)
    assert failed["status"] == "failed" and failed["captured"] is False and failed["error_code"]
    assert failed["error_description"]

    r = httpx.post(f"{server.url}/pay/{link['id']}/partial", data={"amount": ""}, follow_redirects=False)
    assert r.status_code == 303
    params = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    assert params["razorpay_payment_link_status"] == "partially_paid" and verify_callback(client, params)
    partial = client.payment_link.fetch(link["id"], timeout=5)
    assert (partial["status"], partial["amount_paid"], len(partial["payments"])) == ("partially_paid", 500, 1)

    too_much = httpx.post(f"{server.url}/pay/{link['id']}/partial", data={"amount": "600"})
    assert too_much.status_code == 400
    with pytest.raises(razorpay.errors.BadRequestError, match="already paid/partially paid"):
        client.payment_link.cancel(link["id"], timeout=5)

    rest = httpx.post(f"{server.url}/sandbox/links/{link['id']}/pay", json={"method": "card"}).json()
    assert rest["status"] == "paid" and rest["amount"] == 501
    final = client.payment_link.fetch(link["id"], timeout=5)
    assert final["amount_paid"] == 1001 and [p["amount"] for p in final["payments"]] == [500, 501]
    assert final["payments"][1]["method"] == "card"

    assert server.sandbox.webhooks.wait_idle(5)
    names = [d["event"] for d in server.sandbox.webhooks.snapshot()]
    assert sorted(names) == sorted(["payment.failed", "payment_link.partially_paid", "payment.captured",
                                    "payment_link.paid", "payment.captured", "order.paid"])


def test_partial_refused_when_not_accepted(server, client):
    link = client.payment_link.create(link_body(), timeout=5)
    r = httpx.post(f"{server.url}/pay/{link['id']}/partial", data={"amount": "200"})
    assert r.status_code == 400 and "partial payment is not enabled" in r.text
    r = httpx.post(f"{server.url}/sandbox/links/{link['id']}/pay", json={"amount": 200})
    assert r.status_code == 400 and "partial" in r.json()["error"]["description"]


def test_expiry_forced_and_by_time(server, client):
    forced = client.payment_link.create(link_body(), timeout=5)
    assert httpx.post(f"{server.url}/sandbox/links/{forced['id']}/expire").json()["status"] == "expired"
    with pytest.raises(razorpay.errors.BadRequestError, match="cannot cancel or expire an expired link"):
        client.payment_link.cancel(forced["id"], timeout=5)

    timed = client.payment_link.create(link_body(), timeout=5)
    real = time.time
    server.sandbox.clock = lambda: real() + 21 * 60  # jump past expire_by
    expired = client.payment_link.fetch(timed["id"], timeout=5)
    assert expired["status"] == "expired" and expired["expired_at"]
    assert "cannot be paid" in httpx.get(timed["short_url"]).text
    assert server.sandbox.webhooks.wait_idle(5)
    assert [d["event"] for d in server.sandbox.webhooks.snapshot()] == ["payment_link.expired"] * 2


# ---------------------------------------------------------------- orders

def test_orders_flow(server, client):
    order = client.order.create({"amount": 25000, "currency": "INR", "receipt": "rcpt-1",
                                 "notes": {"user_id": "u1"}}, timeout=5)
    assert order["id"].startswith("order_") and len(order["id"]) == 20
    assert (order["entity"], order["status"], order["amount_paid"], order["amount_due"], order["attempts"]) == \
        ("order", "created", 0, 25000, 0)
    assert client.order.fetch(order["id"], timeout=5) == order
    # Razorpay accepts a receipt it has seen (it is the merchant's reference, not a key): a second order.
    again = client.order.create({"amount": 25000, "currency": "INR", "receipt": "rcpt-1"}, timeout=5)
    assert again["id"] != order["id"] and again["receipt"] == "rcpt-1"
    with pytest.raises(razorpay.errors.BadRequestError, match=r"atleast INR 1\.00"):
        client.order.create({"amount": 50, "currency": "INR", "receipt": "rcpt-2"}, timeout=5)

    checkout = httpx.post(f"{server.url}/sandbox/orders/{order['id']}/pay", json={}).json()
    assert checkout["razorpay_order_id"] == order["id"]
    assert client.utility.verify_payment_signature(checkout) is True
    with pytest.raises(razorpay.errors.SignatureVerificationError):
        make_client(server.url, key_secret="other").utility.verify_payment_signature(checkout)

    paid = client.order.fetch(order["id"], timeout=5)
    assert (paid["status"], paid["amount_paid"], paid["amount_due"], paid["attempts"]) == ("paid", 25000, 0, 1)
    payment = client.payment.fetch(checkout["razorpay_payment_id"], timeout=5)
    assert (payment["order_id"], payment["status"], payment["amount"]) == (order["id"], "captured", 25000)
    assert httpx.post(f"{server.url}/sandbox/orders/{order['id']}/pay", json={}).status_code == 400


# ---------------------------------------------------------------- faults

def test_fault_5xx_then_recovers(server, client):
    assert httpx.post(server.url + "/sandbox/fault", json={"mode": "5xx", "count": 1}).status_code == 200
    with pytest.raises(razorpay.errors.ServerError):
        client.payment_link.create(link_body(), timeout=5)
    assert server.sandbox.links == {}  # the failed call did nothing
    assert client.payment_link.create(link_body(), timeout=5)["status"] == "created"


def test_fault_5xx_after_work_done_makes_retry_hit_reference_guard(server, client):
    body = link_body()
    httpx.post(server.url + "/sandbox/fault", json={"mode": "5xx", "count": 1, "after": True})
    with pytest.raises(razorpay.errors.ServerError):
        client.payment_link.create(body, timeout=5)
    with pytest.raises(razorpay.errors.BadRequestError, match="already attempted"):
        client.payment_link.create(body, timeout=5)
    assert len(client.payment_link.all({"reference_id": body["reference_id"]}, timeout=5)["payment_links"]) == 1


def test_fault_non_json_until_reset(server, client):
    httpx.post(server.url + "/sandbox/fault", json={"mode": "non_json", "count": None})
    for _ in range(2):
        with pytest.raises(Exception) as info:
            client.payment_link.fetch("plink_whatever000000", timeout=5)
        assert not isinstance(info.value, razorpay.errors.BadRequestError)
    raw = httpx.get(server.url + "/v1/payment_links")
    assert raw.status_code == 502 and raw.headers["content-type"].startswith("text/html")
    assert httpx.get(server.url + "/sandbox/health").text == "ok"
    httpx.post(server.url + "/sandbox/fault", json={"mode": "none"})
    assert client.payment_link.all({}, timeout=5) == {"payment_links": []}


def test_fault_slow_trips_client_timeout(server, client):
    httpx.post(server.url + "/sandbox/fault", json={"mode": "slow", "count": 1, "delay": 0.6})
    with pytest.raises(requests.exceptions.Timeout):
        client.payment_link.all({}, timeout=0.2)
    time.sleep(0.5)  # let the slow request finish server-side
    assert client.payment_link.all({}, timeout=5) == {"payment_links": []}


# ---------------------------------------------------------------- persistence and CLI

def test_state_survives_restart(tmp_path, receiver):
    state = tmp_path / "razorpay.json"
    params = dict(key_id=KEY_ID, key_secret=KEY_SECRET, webhook_secret=WEBHOOK_SECRET, state_path=str(state))
    with run_in_thread(create_app(**params)) as h:
        c = make_client(h.url)
        body = link_body()
        link = c.payment_link.create(body, timeout=5)
        pay = httpx.post(f"{h.url}/sandbox/links/{link['id']}/pay", json={}).json()
        order = c.order.create({"amount": 300, "currency": "INR", "receipt": "r-1"}, timeout=5)
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert link["id"] in saved["links"] and order["id"] in saved["orders"] and pay["payment_id"] in saved["payments"]
    assert [p.name for p in tmp_path.iterdir()] == ["razorpay.json"]  # no temp files left behind

    with run_in_thread(create_app(**params)) as h:
        c = make_client(h.url)
        again = c.payment_link.fetch(link["id"], timeout=5)
        assert (again["status"], again["amount_paid"]) == ("paid", 50000)
        assert again["payments"][0]["payment_id"] == pay["payment_id"]
        assert c.payment.fetch(pay["payment_id"], timeout=5)["status"] == "captured"
        assert c.order.fetch(order["id"], timeout=5)["amount"] == 300
        with pytest.raises(razorpay.errors.BadRequestError, match="already attempted"):
            c.payment_link.create(body, timeout=5)


def test_cli_starts_and_serves(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, RAZORPAY_KEY_ID="rzp_test_cli", RAZORPAY_KEY_SECRET="cli_secret",
               SANDBOX_STATE=str(tmp_path / "state.json"))
    env.pop("SANDBOX_WEBHOOK_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.razorpay_server", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy():
            try:
                return httpx.get(url + "/sandbox/health", timeout=1).text == "ok"
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=15)
        link = make_client(url, "rzp_test_cli", "cli_secret").payment_link.create(link_body(), timeout=5)
        assert link["short_url"] == f"{url}/pay/{link['id']}"
        assert (tmp_path / "state.json").exists()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("form, outcome", [
    ({"method": "card", "card_number": "4111 1111 1111 1111", "card_expiry": "12/30", "card_cvv": "999"}, "paid"),
    ({"method": "card", "card_number": "4000-0000-0000-0002", "card_expiry": "01/2031", "card_cvv": "12"}, "refused"),
    ({"method": "card", "card_number": "4000 0000 0000 0002", "card_expiry": "01/31", "card_cvv": "321"}, "failed"),
    ({"method": "card", "card_number": "5555 5555 5555 4444", "card_expiry": "12/30", "card_cvv": "123"}, "refused"),
    ({"method": "card", "card_number": "4111111111111111", "card_expiry": "01/20", "card_cvv": "123"}, "refused"),
    ({"method": "upi", "vpa": "success@razorpay"}, "paid"), ({"method": "upi", "vpa": "failure@razorpay"}, "failed"),
    ({"method": "upi", "vpa": "asha@okhdfc"}, "refused"), ({"method": "netbanking"}, "paid")])
def test_the_pay_page_takes_razorpays_test_cards_and_upi_ids(server, client, form, outcome):
    """4111 1111 1111 1111 pays and 4000 0000 0000 0002 is declined (any CVV, a future expiry); UPI
    success@razorpay pays and failure@razorpay fails; any other instrument is refused on the page, nothing
    paid; the page offers the paying ones prefilled and says which are which."""
    link = client.payment_link.create(link_body(amount=2500), timeout=5)
    page = httpx.get(link["short_url"]).text
    assert 'value="4111 1111 1111 1111"' in page and 'value="success@razorpay"' in page and "is declined" in page
    def failures() -> int:
        return sum(p["status"] == "failed" for p in list(server.sandbox.payments.values()))

    before = failures()
    r = httpx.post(f"{server.url}/pay/{link['id']}/pay", data=form, follow_redirects=False)
    status = client.payment_link.fetch(link["id"], timeout=5)["status"]
    if outcome == "paid":
        assert r.status_code in (200, 303) and status == "paid"
    elif outcome == "failed":
        assert r.status_code == 200 and "Payment failed" in r.text and status == "created"
        assert failures() == before + 1
    else:
        assert r.status_code == 400 and "Payment not possible" in r.text and status == "created"
        assert failures() == before
