"""The sandbox's recurring payments, driven by the real SDK: customers, registration links and the hosted
authorisation page, tokens, orders with a pre-debit notification, payments/create/recurring and the
bank's answers, and the token and payment webhooks (signed like Razorpay's)."""
from __future__ import annotations

import time

import httpx
import pytest
import razorpay

from sandbox.razorpay_server import hmac_hex
from tests.support.payments import control
from tests.support.sandbox_server import KEY_SECRET, WEBHOOK_SECRET, events_of, make_client, reset


@pytest.fixture(scope="module")
def sandbox_seed() -> int:
    return 5


@pytest.fixture
def client(server, receiver):
    reset(server, receiver, predebit_notice_hours=0.0005, debit_delay=0.1)
    return make_client(server.url)


def delivered(server, receiver, name=None):
    assert server.sandbox.webhooks.wait_idle(5)
    return [e for e in events_of(receiver.ok_hits()) if name is None or e["event"] == name]


def auth_link(client, *, method="upi", frequency="as_presented", amount=100, max_amount=50_000, receipt="wm_1",
              contact="9812345678"):
    reg = {"method": method, "max_amount": max_amount, "expire_at": int(time.time()) + 86400 * 365}
    if frequency:
        reg["frequency"] = frequency
    customer = {"name": "Asha", "email": "asha@example.com"} | ({"contact": contact} if contact else {})
    return client.registration_link.create({
        "customer": customer, "type": "link", "amount": amount,
        "currency": "INR", "description": "Auto-recharge", "subscription_registration": reg, "receipt": receipt,
        "notes": {"user_id": "asha"}}, timeout=5)


def confirmed_token(server, client, **kw) -> tuple[dict, dict]:
    inv = auth_link(client, **kw)
    r = httpx.post(inv["short_url"] + "/approve")
    assert r.status_code == 200 and "confirmed" in r.text
    pay = client.payment.fetch(client.invoice.fetch(inv["id"])["payment_id"])
    return inv, client.token.fetch(inv["customer_id"], pay["token_id"])


def debit_order(client, token, amount=50_000, receipt="wa_1", after=2):
    return client.order.create({"amount": amount, "currency": "INR", "receipt": receipt, "payment_capture": True,
                                "notification": {"token_id": token["id"], "payment_after": int(time.time()) + after}})


def recurring(client, inv, token, order, amount=50_000):
    return client.payment.createRecurring({
        "email": "asha@example.com", "contact": "9812345678", "amount": amount, "currency": "INR",
        "order_id": order["id"], "customer_id": inv["customer_id"], "token": token["id"], "recurring": "1"})


def wait_status(client, pid, status, timeout=5.0):
    deadline = time.monotonic() + timeout
    while client.payment.fetch(pid)["status"] != status:
        assert time.monotonic() < deadline, client.payment.fetch(pid)
        time.sleep(0.05)


# ---------------------------------------------------------------- customers and authorisation

def test_customers_fail_existing(client):
    a = client.customer.create({"name": "Asha", "email": "a@x.in", "contact": "9812345678"})
    with pytest.raises(razorpay.errors.BadRequestError, match="already exists"):
        client.customer.create({"name": "Asha", "email": "a@x.in", "contact": "9812345678"})
    assert client.customer.create({"name": "Asha", "email": "a@x.in", "contact": "9812345678",
                                   "fail_existing": "0"})["id"] == a["id"]
    assert client.customer.fetch(a["id"])["email"] == "a@x.in"


@pytest.mark.parametrize("kw, field", [(dict(frequency="weekly"), "frequency"), (dict(frequency=None), "frequency"),
                                       (dict(max_amount=9_999_901), "max_amount"), (dict(method="wallet"), "method"),
                                       (dict(amount=0), "amount"), (dict(contact=None), "contact")])
def test_registration_links_are_checked(client, kw, field):
    with pytest.raises(razorpay.errors.BadRequestError, match=field):
        auth_link(client, **kw)


def test_a_registration_link_without_customer_contact_is_refused_as_razorpay_does(server, client):
    r = httpx.post(server.url + "/v1/subscription_registration/auth_links", auth=(client.auth[0], client.auth[1]),
                   json={"customer": {"name": "Asha", "email": "asha@example.com"}, "type": "link", "amount": 100,
                         "currency": "INR", "description": "Auto-recharge", "receipt": "wm_nc",
                         "subscription_registration": {"method": "upi", "frequency": "as_presented",
                                                       "max_amount": 50_000, "expire_at": int(time.time()) + 86400}})
    err = r.json()["error"]
    assert r.status_code == 400 and err["code"] == "BAD_REQUEST_ERROR" and "contact" in err["description"]
    assert not server.sandbox.invoices and not server.sandbox.orders  # nothing made


def test_upi_max_amount_up_to_rs_99999_is_accepted(client):
    assert auth_link(client, max_amount=9_999_900)["status"] == "issued"


def test_order_receipts_may_repeat_as_at_razorpay(client):
    a = client.order.create({"amount": 50_000, "currency": "INR", "receipt": "wa_same"})
    b = client.order.create({"amount": 50_000, "currency": "INR", "receipt": "wa_same"})
    assert a["id"] != b["id"] and a["receipt"] == b["receipt"] == "wa_same"
    assert {o["id"] for o in client.order.all({"receipt": "wa_same"})["items"]} == {a["id"], b["id"]}


def test_approve_on_the_hosted_page_confirms_a_token_with_signed_webhooks(server, client, receiver):
    inv = auth_link(client)
    assert inv["status"] == "issued" and inv["short_url"].endswith(f"/auth/{inv['id']}")
    page = httpx.get(inv["short_url"]).text
    assert "Approve mandate" in page and "as_presented" in page and "500.00" in page
    inv, token = confirmed_token(server, client, receipt="wm_2")
    assert token["recurring_details"]["status"] == "confirmed" and token["max_amount"] == 50_000
    assert token["frequency"] == "as_presented" and token["customer_id"] == inv["customer_id"]
    names = {e["event"] for e in delivered(server, receiver)}
    assert {"payment.captured", "order.paid", "invoice.paid", "token.confirmed"} <= names
    # Razorpay's token webhooks carry no customer_id; the authorisation payment names the token
    for e in delivered(server, receiver):
        assert "customer_id" not in e["payload"].get("token", {}).get("entity", {})
    paid = [e for e in delivered(server, receiver, "payment.captured")
            if e["payload"]["payment"]["entity"]["order_id"] == inv["order_id"]]
    assert paid and paid[0]["payload"]["payment"]["entity"]["token_id"] == token["id"]
    for hit in receiver.ok_hits():
        assert hit["headers"]["x-razorpay-signature"] == hmac_hex(WEBHOOK_SECRET, hit["body"])
    assert client.invoice.fetch(inv["id"])["status"] == "paid"
    assert [t["id"] for t in client.token.all(inv["customer_id"])["items"]] == [token["id"]]


def test_reject_and_an_e_mandate_the_bank_confirms_later(server, client, receiver):
    inv = auth_link(client)
    control(server, f"auth/{inv['id']}/reject")
    ev = {e["event"]: e for e in delivered(server, receiver)}
    assert ev["token.rejected"]["payload"]["token"]["entity"]["recurring_details"]["status"] == "rejected"
    assert ev["payment.failed"]["payload"]["payment"]["entity"]["token_id"]
    inv = auth_link(client, method="emandate", frequency=None, amount=0, receipt="wm_e")
    token = control(server, f"auth/{inv['id']}/approve")["token"]
    assert token["recurring_details"]["status"] == "initiated"
    assert control(server, f"tokens/{token['id']}/confirm")["recurring_details"]["status"] == "confirmed"


# ---------------------------------------------------------------- debits

def test_the_notice_is_honoured_and_a_debit_is_captured_once(server, client, receiver):
    inv, token = confirmed_token(server, client)
    with pytest.raises(razorpay.errors.BadRequestError, match="payment_after"):
        debit_order(client, token, after=0)  # less than the notice period ahead
    order = debit_order(client, token)
    assert order["notification"]["id"].startswith("notification_")
    with pytest.raises(razorpay.errors.BadRequestError, match="payment_after"):
        recurring(client, inv, token, order)
    time.sleep(2.1)
    res = recurring(client, inv, token, order)
    assert res["razorpay_signature"] == hmac_hex(KEY_SECRET, f"{order['id']}|{res['razorpay_payment_id']}")
    with pytest.raises(razorpay.errors.BadRequestError, match="already has a payment"):
        recurring(client, inv, token, order)
    wait_status(client, res["razorpay_payment_id"], "captured")
    assert client.order.fetch(order["id"])["status"] == "paid"
    captured = [e for e in delivered(server, receiver, "payment.captured")
                if e["payload"]["payment"]["entity"]["id"] == res["razorpay_payment_id"]]
    assert len(captured) == 1 and captured[0]["payload"]["payment"]["entity"]["recurring"] is True


def test_one_debit_in_flight_per_token_and_razorpays_own_notice(server, client, receiver):
    inv, token = confirmed_token(server, client)
    control(server, "config", predebit_notice_hours=0.0005)
    plain = client.order.create({"amount": 50_000, "currency": "INR", "receipt": "wa_plain", "payment_capture": True})
    first = recurring(client, inv, token, plain)["razorpay_payment_id"]
    other = client.order.create({"amount": 50_000, "currency": "INR", "receipt": "wa_other"})
    with pytest.raises(razorpay.errors.BadRequestError, match="no final status"):
        recurring(client, inv, token, other)
    assert client.payment.fetch(first)["status"] == "created"  # Razorpay notifies, then waits the notice
    wait_status(client, first, "captured", timeout=6)
    assert recurring(client, inv, token, other)["razorpay_payment_id"]


def test_the_banks_answers(server, client, receiver):
    inv, token = confirmed_token(server, client)
    control(server, f"tokens/{token['id']}/debits", outcomes=["insufficient_funds", "mandate_revoked"])
    a = debit_order(client, token, receipt="wa_a", after=2)
    b = debit_order(client, token, receipt="wa_b", after=2)
    time.sleep(2.1)
    pa = recurring(client, inv, token, a)["razorpay_payment_id"]
    wait_status(client, pa, "failed")
    assert client.payment.fetch(pa)["error_reason"] == "insufficient_funds"
    pb = recurring(client, inv, token, b)["razorpay_payment_id"]
    wait_status(client, pb, "failed")
    assert client.payment.fetch(pb)["error_reason"] == "mandate_revoked"
    assert client.token.fetch(inv["customer_id"], token["id"])["recurring_details"]["status"] == "cancelled"
    names = [e["event"] for e in delivered(server, receiver)]
    assert "token.cancelled" in names and names.count("payment.failed") >= 2
    with pytest.raises(razorpay.errors.BadRequestError, match="cancelled"):
        debit_order(client, token, receipt="wa_c")


def test_a_monthly_token_allows_one_debit_a_month_as_presented_does_not_limit(server, client, receiver):
    for frequency, expect in (("monthly", ["captured", "failed"]), ("as_presented", ["captured", "captured"])):
        inv, token = confirmed_token(server, client, frequency=frequency, receipt=f"wm_{frequency}")
        statuses = []
        for i in range(2):
            order = debit_order(client, token, receipt=f"wa_{frequency}{i}", after=2)
            time.sleep(2.1)
            pid = recurring(client, inv, token, order)["razorpay_payment_id"]
            wait_status(client, pid, expect[i])
            statuses.append(client.payment.fetch(pid)["status"])
        assert statuses == expect, frequency
        if frequency == "monthly":
            assert client.payment.fetch(pid)["error_reason"] == "debit_limit_exceeded"


def test_above_rs_15000_the_customer_authenticates_the_debit(server, client):
    inv, token = confirmed_token(server, client, max_amount=2_000_000)
    order = debit_order(client, token, amount=1_600_000, after=2)
    time.sleep(2.1)
    pid = recurring(client, inv, token, order, amount=1_600_000)["razorpay_payment_id"]
    time.sleep(0.4)
    assert client.payment.fetch(pid)["status"] == "created" and server.sandbox.payments[pid]["afa"] == "required"
    assert control(server, f"recurring/{pid}/approve")["status"] == "captured"


def test_tokens_paused_resumed_and_cancelled_through_cancellation_initiated(server, client, receiver):
    control(server, "config", cancel_delay=30)  # NPCI confirms on the control call, or once the clock passes it
    inv, token = confirmed_token(server, client)
    assert control(server, f"tokens/{token['id']}/pause")["recurring_details"]["status"] == "paused"
    assert control(server, f"tokens/{token['id']}/resume")["recurring_details"]["status"] == "confirmed"
    cancelled = client.token.cancel(inv["customer_id"], token["id"])
    assert cancelled["recurring_details"]["status"] == "cancellation_initiated"
    assert client.token.fetch(inv["customer_id"], token["id"])["recurring_details"]["status"] == \
        "cancellation_initiated"
    with pytest.raises(razorpay.errors.BadRequestError, match="cannot be cancelled"):
        client.token.cancel(inv["customer_id"], token["id"])
    assert control(server, f"tokens/{token['id']}/confirm_cancel")["recurring_details"]["status"] == "cancelled"
    names = [e["event"] for e in delivered(server, receiver) if e["event"].startswith("token.")]
    # no token.resumed (Razorpay has none: a resumed token is confirmed again), one token.cancelled at the end
    assert names[-3:] == ["token.paused", "token.confirmed", "token.cancelled"] and "token.resumed" not in names
    assert client.token.delete(inv["customer_id"], token["id"]) == {"deleted": True}


def test_a_cancellation_is_confirmed_when_the_clock_passes_ncpis_delay(server, client, receiver):
    control(server, "config", cancel_delay=3600)
    inv, token = confirmed_token(server, client)
    assert client.token.cancel(inv["customer_id"], token["id"])["recurring_details"]["status"] == \
        "cancellation_initiated"
    start = time.time()
    server.sandbox.clock = lambda: start + 3601
    assert client.token.fetch(inv["customer_id"], token["id"])["recurring_details"]["status"] == "cancelled"
    assert [e["event"] for e in delivered(server, receiver, "token.cancelled")] == ["token.cancelled"]
