from decimal import Decimal

import pytest

from services.errors import BelowMinimum, InvalidAmount
from services.money import cost_paise, covered_seconds, format_rupees, parse_rupees, require_paise, to_rupees


@pytest.mark.parametrize("value,paise", [
    ("100", 10000), ("99.50", 9950), (100, 10000), (Decimal("1.5"), 150), ("0.01", 1), (" 1,000.5 ", 100050),
    ("₹250", 25000), ("Rs.10", 1000), (99.5, 9950), (0.1, 10), ("100000", 10_000_000), (".5", 50),
])
def test_parse_good(value, paise):
    assert parse_rupees(value) == paise


@pytest.mark.parametrize("value,fragment", [
    ("-1", "negative"), (-5, "negative"), ("0", "more than zero"), (0, "more than zero"),
    ("1.001", "2 decimal"), ("99.999", "2 decimal"), ("nan", "finite"), ("inf", "finite"),
    (float("nan"), "finite"), (float("inf"), "finite"), ("abc", "number"), ("", "number"), ("1e3", "number"),
    (True, "number"), (False, "number"), (None, "number"), ([], "number"), ({}, "number"),
    ("100000.01", "maximum"), (10**9, "maximum"), ("1" * 40, "too large"),
])
def test_parse_bad(value, fragment):
    with pytest.raises(InvalidAmount) as exc:
        parse_rupees(value)
    if fragment:
        assert fragment in exc.value.message


def test_minimum_and_zero():
    with pytest.raises(BelowMinimum, match=r"minimum of Rs\. 10\.00"):
        parse_rupees("9.99", minimum=1000)
    assert parse_rupees("10", minimum=1000) == 1000
    assert parse_rupees("0", allow_zero=True) == 0


@pytest.mark.parametrize("paise,text", [
    (0, "Rs. 0.00"), (5, "Rs. 0.05"), (100, "Rs. 1.00"), (99999, "Rs. 999.99"), (100000, "Rs. 1,000.00"),
    (12345650, "Rs. 1,23,456.50"), (10_000_000, "Rs. 1,00,000.00"), (1_234_567_890, "Rs. 1,23,45,678.90"),
    (-150, "-Rs. 1.50"),
])
def test_format(paise, text):
    assert format_rupees(paise) == text


def test_require_paise_and_to_rupees():
    assert require_paise(5) == 5
    for bad in (0, -1, 1.5, True, "5", None):
        with pytest.raises(InvalidAmount):
            require_paise(bad)
    assert to_rupees(12345) == Decimal("123.45")
    assert str(to_rupees(100)) == "1.00"


def test_covered_seconds_is_the_longest_call_an_amount_pays_for():
    for rate in (1, 50, 725, 1000, 1500):
        for amount in (0, 1, 9, 1234, 10_000):
            s = covered_seconds(amount, rate)
            assert cost_paise(s, rate) <= amount < cost_paise(s + 1, rate)


@pytest.mark.parametrize("value,paise", [
    ("1,00,000", 10_000_000), ("12,34,567", 1_234_567_00), ("100,000", 10_000_000), ("1,234,567", 1_234_567_00),
    ("1,000.50", 100050), ("99,999", 9_999_900),
])
def test_a_comma_groups_thousands_the_indian_or_the_international_way(value, paise):
    assert parse_rupees(value, maximum=10**12) == paise


@pytest.mark.parametrize("value", ["99,50", "15,5", "1,2,3", "1,0000", "10,00,00", ",100", "100,", "1,,000",
                                   "12,34,5678", "1 00", "１００", "١٠٠", "१००"])
def test_anything_else_is_refused_showing_what_was_typed(value):
    with pytest.raises(InvalidAmount) as exc:
        parse_rupees(value, maximum=10**12)
    assert repr(value) in exc.value.message or "0-9" in exc.value.message, exc.value.message
