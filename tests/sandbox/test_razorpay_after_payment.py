"""The sandbox after (and around) a payment, driven by the real SDK: refunds, convenience fees, a failed
payment captured late, auto-refunds, the payments list and its paging, the failure page."""
from __future__ import annotations

import time

import httpx
import pytest
import razorpay

from tests.support.payments import control
from tests.support.sandbox_server import (events_of, link_body,
                                          make_client, reset)


@pytest.fixture(scope="module")
def sandbox_seed() -> int:
    return 3


@pytest.fixture
def client(server, receiver):
    reset(server, receiver)
    return make_client(server.url)


def paid_link(server, client, amount=50000, **pay):
    link = client.payment_link.create(link_body(amount=amount), timeout=5)
    return link, control(server, f"links/{link['id']}/pay", **pay)


def delivered(server, receiver, name=None):
    assert server.sandbox.webhooks.wait_idle(5)
    events = events_of(receiver.ok_hits())
    return [e for e in events if name is None or e["event"] == name]


# ---------------------------------------------------------------- refunds

def test_partial_refunds_then_full_then_refused(server, client, receiver):
    _, paid = paid_link(server, client)
    pid = paid["payment_id"]
    first = client.payment.refund(pid, {"amount": 20000, "notes": {"why": "test"}, "receipt": "r-1"}, timeout=5)
    assert first["id"].startswith("rfnd_") and first["entity"] == "refund"
    assert (first["amount"], first["payment_id"], first["status"], first["receipt"]) == (20000, pid, "pending", "r-1")
    pay = client.payment.fetch(pid, timeout=5)
    assert (pay["status"], pay["amount_refunded"], pay["refund_status"]) == ("captured", 20000, "partial")

    with pytest.raises(razorpay.errors.BadRequestError, match="greater than the unrefunded amount"):
        client.payment.refund(pid, {"amount": 30001}, timeout=5)
    with pytest.raises(razorpay.errors.BadRequestError, match="greater than amount captured"):
        client.payment.refund(pid, {"amount": 50001}, timeout=5)
    rest = client.payment.refund(pid, {}, timeout=5)  # no amount: all that is left
    assert rest["amount"] == 30000
    pay = client.payment.fetch(pid, timeout=5)
    assert (pay["status"], pay["amount_refunded"], pay["refund_status"]) == ("refunded", 50000, "full")
    with pytest.raises(razorpay.errors.BadRequestError, match="fully refunded already"):
        client.payment.refund(pid, {"amount": 100}, timeout=5)

    assert client.refund.fetch(first["id"], timeout=5) == first
    listed = client.payment.fetch_multiple_refund(pid, timeout=5)
    assert listed["entity"] == "collection" and {r["id"] for r in listed["items"]} == {first["id"], rest["id"]}
    assert client.payment.fetch_refund_id(pid, rest["id"], timeout=5)["amount"] == 30000
    with pytest.raises(razorpay.errors.BadRequestError, match="does not exist"):
        client.refund.fetch("rfnd_doesnotexist00", timeout=5)

    created = delivered(server, receiver, "refund.created")
    assert [e["payload"]["refund"]["entity"]["id"] for e in created] == [first["id"], rest["id"]]
    assert set(created[0]["contains"]) == {"refund", "payment"}
    assert created[0]["payload"]["payment"]["entity"]["amount_refunded"] == 20000
    assert created[1]["payload"]["payment"]["entity"]["status"] == "refunded"


def test_refund_processed_or_failed_is_decided_later_and_failure_gives_the_amount_back(server, client, receiver):
    _, paid = paid_link(server, client)
    pid = paid["payment_id"]
    a = client.payment.refund(pid, {"amount": 10000}, timeout=5)
    b = client.payment.refund(pid, {"amount": 40000}, timeout=5)
    assert control(server, f"refunds/{a['id']}/process")["status"] == "processed"
    assert control(server, f"refunds/{b['id']}/fail")["status"] == "failed"
    r = httpx.post(f"{server.url}/sandbox/refunds/{a['id']}/fail")
    assert r.status_code == 400 and "already processed" in r.text
    assert client.refund.fetch(a["id"], timeout=5)["acquirer_data"]["arn"]
    pay = client.payment.fetch(pid, timeout=5)
    assert (pay["status"], pay["amount_refunded"], pay["refund_status"]) == ("captured", 10000, "partial")
    names = [e["event"] for e in delivered(server, receiver) if e["event"].startswith("refund.")]
    assert names == ["refund.created", "refund.created", "refund.processed", "refund.failed"]
    failed = delivered(server, receiver, "refund.failed")[0]["payload"]
    assert failed["refund"]["entity"]["status"] == "failed" and failed["payment"]["entity"]["amount_refunded"] == 10000

    control(server, "config", refund_mode="processed")
    c = client.payment.refund(pid, {"amount": 5000}, timeout=5)
    assert c["status"] == "processed"  # settled at once in this mode
    assert [e["event"] for e in delivered(server, receiver)][-2:] == ["refund.created", "refund.processed"]


def test_only_captured_payments_are_refunded_and_auto_refunds_say_not_captured(server, client, receiver):
    link = client.payment_link.create(link_body(), timeout=5)
    failed = control(server, f"links/{link['id']}/fail")
    with pytest.raises(razorpay.errors.BadRequestError, match="Only captured payments"):
        client.payment.refund(failed["payment_id"], {}, timeout=5)
    auth = control(server, f"links/{link['id']}/authorize")
    assert auth["status"] == "authorized" and auth["link_status"] == "created"
    refund = control(server, f"payments/{auth['payment_id']}/auto_refund")
    assert refund["status"] == "processed" and refund["amount"] == 50000
    events = delivered(server, receiver)
    auto = [e for e in events if e["event"].startswith("refund.")]
    assert [e["event"] for e in auto] == ["refund.created", "refund.processed"]
    assert all(e["payload"]["payment"]["entity"]["captured"] is False for e in auto)
    assert client.payment.fetch(auth["payment_id"], timeout=5)["status"] == "refunded"


# ---------------------------------------------------------------- fees, late capture, lists, pages

def test_convenience_fee_borne_by_the_payer(server, client, receiver):
    link, paid = paid_link(server, client, amount=100000, fee=2400)
    pay = client.payment.fetch(paid["payment_id"], timeout=5)
    assert (pay["amount"], pay["fee"], pay["tax"], pay["fee_bearer"]) == (102400, 2400, 366, "customer")
    after = client.payment_link.fetch(link["id"], timeout=5)
    assert (after["status"], after["amount_paid"]) == ("paid", 100000)
    assert client.order.fetch(after["order_id"], timeout=5)["amount_paid"] == 100000
    webhook = delivered(server, receiver, "payment_link.paid")[0]["payload"]
    assert webhook["payment"]["entity"]["amount"] == 102400 and webhook["payment_link"]["entity"]["amount"] == 100000
    # Without a payer fee the merchant bears Razorpay's: the payer pays the link amount.
    _, plain = paid_link(server, client, amount=100000)
    plain_pay = client.payment.fetch(plain["payment_id"], timeout=5)
    assert (plain_pay["amount"], plain_pay["fee_bearer"]) == (100000, "platform") and plain_pay["fee"] > 0
    control(server, "config", convenience_fee=500)  # the hosted page charges it too
    page = httpx.get(f"{server.url}/pay/{client.payment_link.create(link_body(), timeout=5)['id']}").text
    assert "Convenience fee: ₹5.00" in page


def test_failed_payment_captured_later_under_the_same_id(server, client, receiver):
    link = client.payment_link.create(link_body(), timeout=5)
    failed = control(server, f"links/{link['id']}/fail")
    assert failed["error_description"]
    late = control(server, f"payments/{failed['payment_id']}/capture")
    assert (late["id"], late["status"], late["captured"], late["error_code"]) == \
        (failed["payment_id"], "captured", True, None)
    after = client.payment_link.fetch(link["id"], timeout=5)
    assert after["status"] == "paid" and after["payments"][0]["payment_id"] == failed["payment_id"]
    names = [e["event"] for e in delivered(server, receiver)]
    assert names[0] == "payment.failed" and sorted(names[1:]) == ["order.paid", "payment.captured",
                                                                  "payment_link.paid"]
    r = httpx.post(f"{server.url}/sandbox/payments/{failed['payment_id']}/capture")
    assert r.status_code == 400 and "only a failed payment" in r.text


def test_payments_list_by_time_with_paging(server, client):
    real = time.time
    for i in range(5):
        server.sandbox.clock = lambda i=i: real() - 86400 + i * 60  # yesterday, a minute apart
        paid_link(server, client, amount=10000 + i * 100)
    server.sandbox.clock = real
    paid_link(server, client, amount=20000)  # today
    start = int(real()) - 86400 - 10
    window = {"from": start, "to": start + 3600}
    page1 = client.payment.all(dict(window, count=2), timeout=5)
    page2 = client.payment.all(dict(window, count=2, skip=2), timeout=5)
    page3 = client.payment.all(dict(window, count=2, skip=4), timeout=5)
    assert (page1["entity"], page1["count"], page2["count"], page3["count"]) == ("collection", 2, 2, 1)
    amounts = [p["amount"] for pg in (page1, page2, page3) for p in pg["items"]]
    assert amounts == [10400, 10300, 10200, 10100, 10000]  # newest first, each once
    assert client.payment.all({}, timeout=5)["count"] == 6
    with pytest.raises(razorpay.errors.BadRequestError, match="count"):
        client.payment.all({"count": 101}, timeout=5)


def test_failure_page_says_why_and_links_back_to_the_app(server, client):
    link = client.payment_link.create(link_body(), timeout=5)
    page = httpx.post(f"{server.url}/pay/{link['id']}/fail").text
    assert "Payment failed" in page and "declined" in page
    assert f'href="/pay/{link["id"]}"' in page and 'href="https://app.example/callback?src=wallet"' in page


def test_call_counts_per_route(server, client):
    link = client.payment_link.create(link_body(), timeout=5)
    for _ in range(3):
        client.payment_link.fetch(link["id"], timeout=5)
    calls = httpx.get(f"{server.url}/sandbox/stats").json()["calls"]
    assert calls == {"POST /v1/payment_links": 1, "GET /v1/payment_links/{id}": 3}
