"""The one pricing function: every billing increment rule x the durations around its boundaries, with the
expected paise worked out by hand; the docstring's table of examples; the inverse (affordable seconds)."""
from __future__ import annotations

import pytest

from services import money, pricing
from services.errors import InvalidInput
from services.pricing import Tariff, affordable_seconds, billable_seconds, call_price

DURATIONS = (0, 1, 5, 6, 7, 29, 30, 31, 59, 60, 61, 3599)

# At Rs. 10 / min (1000 paise): paise = ceil(billable seconds x 1000 / 60), billable seconds by hand:
#   1/1    the seconds themselves
#   6/6    up to the next multiple of 6
#   30/6   30, then up to 30 + the next multiple of 6
#   30/30  up to the next multiple of 30
#   60/1   60, then every second
#   60/60  up to the next whole minute
BY_HAND = {
    (1, 1):   (0, 17, 84, 100, 117, 484, 500, 517, 984, 1000, 1017, 59984),
    (6, 6):   (0, 100, 100, 100, 200, 500, 500, 600, 1000, 1000, 1100, 60000),
    (30, 6):  (0, 500, 500, 500, 500, 500, 500, 600, 1000, 1000, 1100, 60000),
    (30, 30): (0, 500, 500, 500, 500, 500, 500, 1000, 1000, 1000, 1500, 60000),
    (60, 1):  (0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1017, 59984),
    (60, 60): (0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 2000, 60000),
}
CASES = [(rule, d, paise) for rule, row in BY_HAND.items() for d, paise in zip(DURATIONS, row, strict=True)]


def test_the_table_covers_every_rule_an_admin_can_choose():
    assert set(BY_HAND) == set(pricing.INCREMENT_RULES)


@pytest.mark.parametrize("rule,seconds,paise", CASES, ids=[f"{a}/{b}-{d}s" for (a, b), d, _ in CASES])
def test_price_by_rule_and_duration(rule, seconds, paise):
    t = Tariff(1000, *rule)
    assert call_price(seconds, t) == paise
    # The same answered call never costs less than per-second billing, nor more than one block extra.
    assert call_price(seconds, Tariff(1000)) <= paise <= call_price(seconds + max(rule), Tariff(1000))


MINIMUM_BY_HAND = [  # (rule, minimum billable seconds, seconds, paise) at Rs. 10 / min
    ((1, 1), 30, 0, 0), ((1, 1), 30, 1, 500), ((1, 1), 30, 29, 500), ((1, 1), 30, 30, 500), ((1, 1), 30, 31, 517),
    ((6, 6), 60, 7, 1000), ((6, 6), 60, 61, 1100), ((60, 60), 90, 1, 2000), ((30, 6), 45, 31, 800),
]


@pytest.mark.parametrize("rule,minimum,seconds,paise", MINIMUM_BY_HAND)
def test_minimum_billable_duration(rule, minimum, seconds, paise):
    assert call_price(seconds, Tariff(1000, *rule, min_billable_seconds=minimum)) == paise


def test_unanswered_and_failed_attempts_cost_the_fee_only():
    t = Tariff(1000, 60, 60, min_billable_seconds=60, attempt_fee_paise=150)
    for outcome in ("no-answer", "busy", "failed"):
        assert call_price(0, t, outcome) == 150
        assert call_price(45, t, outcome) == 150  # ringing time is not talk
    assert call_price(45, t) == 1000  # answered: the time only, no fee
    assert call_price(0, Tariff(1000), "busy") == 0  # the default plan: free
    with pytest.raises(InvalidInput, match="outcome"):
        call_price(10, t, "hung-up")


def test_the_docstring_table_is_what_the_function_says():
    lines = pricing.__doc__.split("seconds  rate  rule")[1].strip().splitlines()[1:]
    rows = [ln.split() for ln in lines if ln.strip()]
    assert len(rows) >= 15
    for seconds, rate, rule, minimum, fee, outcome, paise in rows:
        a, b = (int(x) for x in rule.split("/"))
        t = Tariff(int(rate), a, b, int(minimum), int(fee))
        assert call_price(int(seconds), t, outcome) == int(paise), (seconds, rate, rule, minimum, fee, outcome)


def test_money_cost_paise_is_the_default_tariff():
    for s in DURATIONS + (180, 3600):
        for rate in (1, 50, 725, 1000, 1500):
            assert money.cost_paise(s, rate) == call_price(s, Tariff(rate)) == -(-(s * rate) // 60)


@pytest.mark.parametrize("rule", pricing.INCREMENT_RULES)
def test_affordable_seconds_is_the_last_second_the_money_pays_for(rule):
    for rate in (50, 725, 1000, 1500):
        for minimum in (0, 45):
            t = Tariff(rate, *rule, min_billable_seconds=minimum)
            for amount in (0, 1, 99, 1000, 1234, 5000, 10_000):
                s = affordable_seconds(amount, t)
                assert call_price(s, t) <= amount < call_price(s + 1, t)
                assert affordable_seconds(amount, t, most=30) == min(s, 30)


def test_billable_seconds_and_bad_tariffs():
    assert billable_seconds(61, Tariff(1000, 30, 6)) == 66
    for bad in (dict(rate_paise=-1), dict(rate_paise=True), dict(rate_paise=1000, initial_seconds=7),
                dict(rate_paise=1000, min_billable_seconds=-1), dict(rate_paise=1000, attempt_fee_paise=1.5),
                dict(rate_paise=10**9)):
        with pytest.raises(InvalidInput):
            Tariff(**bad)
    for bad in (-1, 1.5, True, None):
        with pytest.raises(InvalidInput):
            call_price(bad, Tariff(1000))
