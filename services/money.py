"""Money: integer paise inside, rupees only at the edges, and the price of a call.

`parse_rupees` is the one way user input becomes paise; `format_rupees` the one way paise become text;
`cost_paise` the one rounding rule of a call's price (and `covered_seconds` its inverse).
"""
from decimal import Decimal, InvalidOperation
import re

from services.checks import whole_number
from services.errors import InvalidAmount, BelowMinimum

PAISE_PER_RUPEE = 100
# Default ceiling for one operation (Rs. 1,00,000); settings may lower or raise it.
DEFAULT_MAX_PAISE = 100_000 * PAISE_PER_RUPEE

# Beyond any int64 balance: rejected before arithmetic so Decimal never rounds.
_ABSURD = Decimal(10) ** 15
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def parse_rupees(value, *, minimum: int | None = None, maximum: int | None = DEFAULT_MAX_PAISE,
                 allow_zero: bool = False, what: str = "Amount") -> int:
    """Turn rupees from a user (`"100"`, `"99.50"`, `100`, `Decimal("1.5")`) into exact paise.

    Rejects, with a message naming `what`: booleans, non-numbers, NaN/inf, negatives, zero unless
    allowed, more than 2 decimals, below `minimum` or above `maximum` (both in paise).
    """
    if isinstance(value, bool) or value is None:
        raise InvalidAmount(f"{what} must be a number of rupees, like 100 or 99.50.")
    if isinstance(value, int):
        dec = Decimal(value)
    elif isinstance(value, Decimal):
        dec = value
    elif isinstance(value, float):
        # JSON numbers arrive as floats: their shortest repr is what the sender wrote ("99.5").
        dec = _from_text(repr(value), what)
    elif isinstance(value, str):
        dec = _from_text(value, what)
    else:
        raise InvalidAmount(f"{what} must be a number of rupees, like 100 or 99.50.")
    if not dec.is_finite():
        raise InvalidAmount(f"{what} must be a finite number.")
    if dec < 0:
        raise InvalidAmount(f"{what} cannot be negative.")
    if dec >= _ABSURD:
        raise InvalidAmount(f"{what} is far too large.")
    scaled = dec * PAISE_PER_RUPEE  # exact: Decimal keeps 28 digits and _ABSURD bounds the size
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"{what} can have at most 2 decimal places (paise).")
    paise = int(scaled)
    if paise == 0 and not allow_zero:
        raise InvalidAmount(f"{what} must be more than zero.")
    if minimum is not None and paise < minimum:
        raise BelowMinimum(f"{what} is below the minimum of {format_rupees(minimum)}.")
    if maximum is not None and paise > maximum:
        raise InvalidAmount(f"{what} is above the maximum of {format_rupees(maximum)} per operation.")
    return paise


def _from_text(text: str, what: str) -> Decimal:
    cleaned = text.strip().replace(",", "").replace("₹", "").replace(" ", "")
    if cleaned.lower().startswith("rs."):
        cleaned = cleaned[3:]
    if cleaned.lower() in ("nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"):
        raise InvalidAmount(f"{what} must be a finite number.")
    if not _NUMBER.match(cleaned):
        raise InvalidAmount(f"{what} must be a number of rupees, like 100 or 99.50 (got {text[:40]!r}).")
    try:
        return Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the regex already guards this
        raise InvalidAmount(f"{what} must be a number of rupees.")


def require_paise(value, *, what: str = "Amount", allow_zero: bool = False) -> int:
    """Check an amount that is already in paise (internal callers, `*_paise` API fields)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(f"{what} must be a whole number of paise.")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidAmount(f"{what} must be {'zero or more' if allow_zero else 'more than zero'} paise.")
    return value


def to_rupees(paise: int) -> Decimal:
    """Exact rupees with 2 decimals, for the API's JSON edge."""
    return (Decimal(int(paise)) / PAISE_PER_RUPEE).quantize(Decimal("0.01"))


def format_rupees(paise: int) -> str:
    """`Rs. 1,23,456.50`: Indian digit grouping (last three digits, then pairs)."""
    paise = int(paise)
    sign = "-" if paise < 0 else ""
    rupees, frac = divmod(abs(paise), PAISE_PER_RUPEE)
    digits = str(rupees)
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        pairs = []
        while len(head) > 2:
            pairs.insert(0, head[-2:])
            head = head[:-2]
        digits = ",".join([head] + pairs + [tail])
    return f"{sign}Rs. {digits}.{frac:02d}"


# ------------------------------------------------------------------------------------- the price

def cost_paise(seconds: int, rate_paise_per_min: int) -> int:
    """THE rounding rule: ceil(seconds x rate / 60), in integers (a started paisa is charged)."""
    whole_number(seconds, 0, what="Seconds")
    whole_number(rate_paise_per_min, 0, what="Rate")
    return -(-(seconds * rate_paise_per_min) // 60)


def covered_seconds(amount_paise: int, rate_paise_per_min: int) -> int:
    """The longest call `amount_paise` pays for: the largest s with cost_paise(s, rate) <= amount."""
    return amount_paise * 60 // rate_paise_per_min
