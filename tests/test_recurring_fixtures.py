"""Auto-recharge's calls to Razorpay's recurring-payments API checked against the Razorpay Python SDK's own
test mocks (tests/fixtures/razorpay-sdk, README there), and those mocks fed through the sandbox with the
real SDK: the customer and the registration link (with `customer.contact`, mandatory at Razorpay; an
e-mandate's without `frequency`), the registration link's answer, the debit's order and its look-up by
receipt, the recurring payment and its answer; the UPI mandate's `max_amount` ceiling; and the Rs. 15,000
additional-authentication rule applied to UPI and card mandates only."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import razorpay

from sandbox.razorpay_server import registration as sandbox_registration
from sandbox.razorpay_server import run_in_thread
from services.autorecharge import charges, setup, terms
from services.errors import InvalidInput
from services.payments.records import valid_id
from tests.support.payments import control
from tests.support.sandbox_server import KEY_ID, KEY_SECRET, make_client

SDK = Path(__file__).parent / "fixtures" / "razorpay-sdk"
USER = {"username": "asha", "name": "Asha Rao", "email": "asha@example.com", "contact": "+919812345678"}


def _sdk(name: str) -> dict:
    return json.loads((SDK / f"{name}.json").read_text())


def _mandate(method: str) -> dict:
    return {"method": method, "auth_amount_paise": setup.AUTH_AMOUNT[method], "max_amount_paise": 5_000_000,
            "expire_at": datetime.now(timezone.utc) + timedelta(days=3650), "frequency": "as_presented",
            "auth_ref": "wm_0123456789abcdef01234567", "user_id": "asha", "customer_id": "cust_DzYEzfJLV03rkp",
            "token_id": "token_Ia5ip8Ix07JDRm"}


def test_an_e_mandate_registration_link_has_the_sdk_fixtures_fields_and_no_frequency():
    want = _sdk("init_registration_link")
    body = setup._link_body(USER, _mandate("emandate"))
    assert set(body) <= set(want) and set(body["customer"]) <= set(want["customer"])
    reg, want_reg = body["subscription_registration"], want["subscription_registration"]
    assert "frequency" not in reg and set(reg) <= set(want_reg) and reg["method"] == want_reg["method"] == "emandate"
    assert body["amount"] == want["amount"] == 0 and body["type"] == "link"
    # UPI keeps its frequency (as_presented: several top-ups a month)
    assert setup._link_body(USER, _mandate("upi"))["subscription_registration"]["frequency"] == "as_presented"


def test_a_debits_order_carries_the_notification_for_upi_and_cards_only():
    charge = {"amount_paise": 1_000_000, "ref": "wo_0123456789abcdef01234567", "user_id": "asha", "_id": "ch1"}
    assert "notification" not in charges.order_body(_mandate("emandate"), charge, 1_900_000_000)
    for method in ("upi", "card"):
        note = charges.order_body(_mandate(method), charge, 1_900_000_000)["notification"]
        assert note == {"token_id": "token_Ia5ip8Ix07JDRm", "payment_after": 1_900_000_000}


def test_the_recurring_payment_sends_exactly_the_sdk_fixtures_fields():
    want = _sdk("init_create_recurring")
    charge = {"amount_paise": 10_000, "ref": "wo_0123456789abcdef01234567", "user_id": "asha", "_id": "ch1",
              "order_id": "order_Ia5nABHSOWXg0Q"}
    body = charges.recurring_body(USER, _mandate("upi"), charge)
    assert set(body) == set(want)
    assert {k: body[k] for k in ("amount", "currency", "order_id", "customer_id", "token", "recurring")} == \
        {k: want[k] for k in ("amount", "currency", "order_id", "customer_id", "token", "recurring")}


def test_the_15000_extra_authentication_rule_binds_upi_and_cards_not_e_mandates(edb):
    big = dict(threshold="1000", amount="50000", monthly_cap="200000")
    assert terms.check(edb, method="emandate", **big).amount_paise == 5_000_000
    for method in ("upi", "card"):
        with pytest.raises(InvalidInput, match="15,000"):
            terms.check(edb, method=method, **big)
    assert terms.check(edb, method="card", accept_afa=True, **big).afa_accepted


def test_the_customer_and_the_registration_link_carry_the_contact_as_the_sdk_fixture_does():
    want = _sdk("init_registration_link")["customer"]
    for method in ("upi", "card", "emandate"):
        body = setup._link_body(USER, _mandate(method))
        assert set(body["customer"]) == set(want) == {"name", "email", "contact"}
        assert body["customer"]["contact"] == USER["contact"]
    customer = setup.customer_body(USER, _mandate("upi"))
    assert {"name", "email", "contact"} <= set(customer) and customer["contact"] == USER["contact"]


def test_the_registration_links_answer_in_the_sdk_fixture_is_accepted_and_read():
    answer = _sdk("fake_registration_link")
    assert setup.link_answer_ok(answer, "Receipt no. 26") and not setup.link_answer_ok(answer, "wm_other")
    # what mandates.registered keeps from it
    assert {"id", "short_url", "order_id", "created_at", "customer_id"} <= set(answer)


def test_a_debits_order_has_the_sdk_fixtures_fields_and_is_found_by_receipt_in_its_list():
    want = _sdk("init_order")
    charge = {"amount_paise": 1_000_000, "ref": "wa_0123456789abcdef01234567", "user_id": "asha", "_id": "ch1"}
    assert set(want) <= set(charges.order_body(_mandate("upi"), charge, 1_900_000_000))
    listed = _sdk("order_collection")
    assert charges.order_of_receipt(listed, "12123")["id"] == "fake_order_id2"
    assert charges.order_of_receipt(listed, "no-such-receipt") is None
    # Razorpay accepts a receipt twice: the id kept on our record wins, else the first made
    twice = {"items": listed["items"] + [dict(listed["items"][0], id="fake_order_id3", created_at=1400826760)]}
    assert charges.order_of_receipt(twice, "12121")["id"] == "fake_order_id"
    assert charges.order_of_receipt(twice, "12121", known="fake_order_id3")["id"] == "fake_order_id3"


def test_the_recurring_payments_answer_in_the_sdk_fixture_names_the_payment_we_read():
    answer = _sdk("fake_create_recurring")
    assert valid_id(answer["razorpay_payment_id"]) and answer["razorpay_order_id"].startswith("order_")


def test_the_upi_mandate_ceiling_is_razorpays_documented_max_amount(edb):
    # Razorpay's UPI docs: token max_amount from 100 to 9999900 paise (Rs. 99,999) outside a few MCCs
    assert terms.UPI_MAX_AMOUNT == sandbox_registration.UPI_MAX == 9_999_900
    ok = terms.check(edb, threshold="1000", amount="99999", monthly_cap="200000", method="upi", accept_afa=True)
    assert ok.amount_paise == 9_999_900
    with pytest.raises(InvalidInput, match="99,999"):
        terms.check(edb, threshold="1000", amount="99999.01", monthly_cap="200000", method="upi", accept_afa=True)
    big = terms.check(edb, threshold="1000", amount="100000", monthly_cap="200000", method="emandate")
    assert big.amount_paise == 10_000_000  # an e-mandate allows more


@pytest.fixture
def rzp():
    handle = run_in_thread({"duplicate_probability": 0.0, "seed": 7, "key_id": KEY_ID, "key_secret": KEY_SECRET})
    yield handle
    handle.stop()


def _future(body: dict) -> dict:
    """The fixture's link with its 2020 expiry moved ahead (Razorpay, and the sandbox, refuse a past one)."""
    reg = dict(body["subscription_registration"], expire_at=int(time.time()) + 86400 * 365)
    return dict(body, subscription_registration=reg, expire_by=int(time.time()) + 86400 * 30)


def test_the_sdk_fixtures_go_through_the_sandbox_and_a_link_without_contact_is_refused(rzp):
    client = make_client(rzp.url)
    link = _future(_sdk("init_registration_link"))
    no_contact = dict(link, customer={k: v for k, v in link["customer"].items() if k != "contact"})
    with pytest.raises(razorpay.errors.BadRequestError, match="contact"):
        client.registration_link.create(no_contact)
    assert not rzp.sandbox.invoices
    inv = client.registration_link.create(link)
    assert setup.link_answer_ok(inv, link["receipt"]) and inv["customer_details"]["contact"] == "9123456780"
    token = control(rzp, f"auth/{inv['id']}/approve")["token"]
    control(rzp, f"tokens/{token['id']}/confirm")  # the bank confirms the e-mandate
    want = _sdk("init_create_recurring")
    order = client.order.create(dict(_sdk("init_order"), amount=want["amount"], receipt="wa_fixture"))
    body = dict(want, order_id=order["id"], customer_id=inv["customer_id"], token=token["id"])
    answer = client.payment.createRecurring(body)
    assert set(answer) >= {"razorpay_payment_id", "razorpay_order_id", "razorpay_signature"}
    assert answer["razorpay_order_id"] == order["id"] and valid_id(answer["razorpay_payment_id"])
