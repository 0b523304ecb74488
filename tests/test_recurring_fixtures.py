"""Auto-recharge's calls to Razorpay's recurring-payments API checked against the request bodies in the
Razorpay Python SDK's own test mocks (tests/fixtures/razorpay-sdk, README there): the e-mandate
registration link, the debit's order and the recurring payment; and the Rs. 15,000 additional-
authentication rule applied to UPI and card mandates only."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from services.autorecharge import charges, setup, terms
from services.errors import InvalidInput

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
