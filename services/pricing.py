"""THE price of a call: one function (`call_price`) owns the arithmetic; everything else asks it.

A tariff is a per-minute rate (paise) plus telecom billing increments: the first `initial` seconds are
charged as a block, then every started block of `subsequent` seconds (1/1 = per second, 6/6, 30/6,
60/60 = per started minute ...); an answered call is charged at least `min_billable` seconds; an
unanswered or failed attempt costs `attempt_fee` paise and nothing else. The rupee amount is
ceil(billable seconds x rate / 60), in integers: a started paisa is charged. The default tariff
(Rs. 10/min, 1/1, no minimum, no fee) is the original price, ceil(seconds x rate / 60).

Examples (checked by tests/test_pricing.py, which reads this table):

    seconds  rate  rule   min  fee  outcome    paise
    0        1000  1/1    0    0    answered   0
    1        1000  1/1    0    0    answered   17
    61       1000  1/1    0    0    answered   1017
    180      1000  1/1    0    0    answered   3000
    1        1000  6/6    0    0    answered   100
    7        1000  6/6    0    0    answered   200
    29       1000  30/6   0    0    answered   500
    31       1000  30/6   0    0    answered   600
    61       1000  60/60  0    0    answered   2000
    61       1000  60/1   0    0    answered   1017
    5        1000  1/1    30   0    answered   500
    31       1000  1/1    30   0    answered   517
    45       1500  1/1    0    0    answered   1125
    1        50    1/1    0    0    answered   1
    61       1000  1/1    0    150  answered   1017
    0        1000  1/1    0    0    no-answer  0
    40       1000  60/60  0    150  busy       150
    0        1000  6/6    60   150  failed     150
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from services.checks import whole_number
from services.errors import InvalidInput

ANSWERED, NO_ANSWER, BUSY, FAILED = "answered", "no-answer", "busy", "failed"
OUTCOMES = (ANSWERED, NO_ANSWER, BUSY, FAILED)
# The billing increments (initial / subsequent seconds) an admin can choose for a plan.
INCREMENT_RULES = ((1, 1), (6, 6), (30, 6), (30, 30), (60, 1), (60, 60))
MAX_RATE_PAISE = 100_000          # Rs. 1,000 per minute
MAX_MIN_BILLABLE = 3600
MAX_ATTEMPT_FEE_PAISE = 100_000   # Rs. 1,000


@dataclass(frozen=True)
class Tariff:
    """What a call costs: fixed for a call when it starts (a later change never reprices it)."""
    rate_paise: int                 # paise per minute
    initial_seconds: int = 1
    subsequent_seconds: int = 1
    min_billable_seconds: int = 0
    attempt_fee_paise: int = 0
    plan: str = "standard"

    def __post_init__(self):
        whole_number(self.rate_paise, 0, MAX_RATE_PAISE, what="Rate", unit="of paise per minute")
        if (self.initial_seconds, self.subsequent_seconds) not in INCREMENT_RULES:
            rules = ", ".join(f"{a}/{b}" for a, b in INCREMENT_RULES)
            raise InvalidInput(f"Billing increments must be one of {rules} (initial/subsequent seconds).")
        whole_number(self.min_billable_seconds, 0, MAX_MIN_BILLABLE, what="Minimum billable duration",
                     unit="of seconds")
        whole_number(self.attempt_fee_paise, 0, MAX_ATTEMPT_FEE_PAISE, what="Attempt fee", unit="of paise")

    @property
    def rule(self) -> str:
        return f"{self.initial_seconds}/{self.subsequent_seconds}"

    def to_doc(self) -> dict:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict) -> "Tariff":
        fields: dict[str, Any] = {k: (str(v) if k == "plan" else int(v)) for k, v in doc.items()
                                  if k in cls.__dataclass_fields__}
        return cls(**fields)


def billable_seconds(seconds: int, tariff: Tariff) -> int:
    """The seconds an answered call of `seconds` is charged for (0 stays 0: nothing was said)."""
    whole_number(seconds, 0, what="Seconds")
    if seconds == 0:
        return 0
    s = max(seconds, tariff.min_billable_seconds)
    first, step = tariff.initial_seconds, tariff.subsequent_seconds
    if s <= first:
        return first
    return first + -(-(s - first) // step) * step


def call_price(seconds: int, tariff: Tariff, outcome: str = ANSWERED) -> int:
    """Paise for a call of `seconds` with this outcome: answered -> ceil(billable x rate / 60);
    no-answer, busy, failed -> the attempt fee only. The module docstring has a table of examples."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"Call outcome must be one of {', '.join(OUTCOMES)}.")
    if outcome != ANSWERED:
        whole_number(seconds, 0, what="Seconds")
        return tariff.attempt_fee_paise
    return -(-(billable_seconds(seconds, tariff) * tariff.rate_paise) // 60)


def affordable_seconds(amount_paise: int, tariff: Tariff, most: int | None = None) -> int:
    """The longest answered call `amount_paise` pays for (the largest s <= `most` with call_price(s) <=
    amount): the second at which a call whose money is `amount_paise` must end."""
    whole_number(amount_paise, 0, what="Amount", unit="of paise")
    # call_price(s) >= s x rate / 60, so no s past amount x 60 / rate can be afforded.
    hi = amount_paise * 60 // tariff.rate_paise if tariff.rate_paise else (most or 0)
    if most is not None:
        hi = min(hi, most)
    lo = 0
    while lo < hi:  # call_price is non-decreasing in s: binary search for the last affordable second
        mid = (lo + hi + 1) // 2
        if call_price(mid, tariff) <= amount_paise:
            lo = mid
        else:
            hi = mid - 1
    return lo
