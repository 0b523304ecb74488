"""Money: integer paise inside, rupees only at the edges, and the price of a call.

`parse_rupees` is the one way user input becomes paise; `format_rupees` the one way paise become text;
`cost_paise` the default tariff's price of a call (and `covered_seconds` its inverse), both asking
services.pricing, which owns the arithmetic of every tariff.
"""
from decimal import Decimal
import re

from services.errors import InvalidAmount, BelowMinimum
from services.pricing import Tariff, affordable_seconds, call_price

PAISE_PER_RUPEE = 100
# Default ceiling for one operation (Rs. 1,00,000); settings may lower or raise it.
DEFAULT_MAX_PAISE = 100_000 * PAISE_PER_RUPEE

# Beyond any int64 balance: rejected before arithmetic so Decimal never rounds.
_ABSURD = Decimal(10) ** 15
# ASCII digits only ([0-9], never \d: that also matches Devanagari, Arabic-Indic and full-width digits).
# A comma only groups thousands: plain 100000, international 100,000 or Indian 1,00,000.
_WHOLE = r"(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,2}(?:,[0-9]{2})*,[0-9]{3})"
_NUMBER = re.compile(rf"^[+-]?(?:{_WHOLE}(?:\.[0-9]*)?|\.[0-9]+)$")
_CURRENCY = re.compile(r"^(?:₹|rs\.?)\s*", re.IGNORECASE)


def parse_rupees(value, *, minimum: int | None = None, maximum: int | None = DEFAULT_MAX_PAISE,
                 allow_zero: bool = False, what: str = "Amount") -> int:
    """Turn rupees from a user (`"100"`, `"99.50"`, `"1,00,000"`, `"₹250"`, `100`, `Decimal("1.5")`) into
    exact paise.

    Rejects, with a message naming `what` (and, for text, showing what was typed): booleans, non-numbers,
    NaN/inf, negatives, zero unless allowed, more than 2 decimals, below `minimum` or above `maximum`
    (both in paise). Text rules (`_from_text`): a comma only as a thousands separator in valid Indian
    (`1,00,000`) or international (`100,000`) grouping, so `"99,50"`, `"15,5"` and `"1,2,3"` are refused,
    never read as 9950, 155 or 123; no space inside the number (`"1 00"` is refused: a space is no
    grouping mark here, and it may stand for a lost point); the digits 0-9 only (Devanagari,
    Arabic-Indic and full-width digits are refused, not normalised: some look like other digits, e.g.
    Bengali 4 like an 8, and for money what the person sees must be exactly what is charged).
    """
    dec = _as_decimal(value, what)
    if not dec.is_finite():
        raise InvalidAmount(f"{what} must be a finite number.")
    if dec < 0:
        raise InvalidAmount(f"{what} cannot be negative.")
    if dec >= _ABSURD:
        raise InvalidAmount(f"{what} is far too large.")
    # Read the digits, not arithmetic: Decimal rounds a product to 28 digits, so 1.000...0001 (31
    # decimals) times 100 would come out a whole 100 paise.
    _, digits, exponent = dec.as_tuple()
    assert isinstance(exponent, int)  # finite (checked above): 'n', 'N' and 'F' mark only NaN and infinity
    if exponent < -2 and any(digits[exponent + 2:]):
        raise InvalidAmount(f"{what} can have at most 2 decimal places (paise).")
    paise = int(dec * PAISE_PER_RUPEE)  # exact now: below _ABSURD with at most 2 decimals is < 28 digits
    if paise == 0 and not allow_zero:
        raise InvalidAmount(f"{what} must be more than zero.")
    if minimum is not None and paise < minimum:
        raise BelowMinimum(f"{what} is below the minimum of {format_rupees(minimum)}.")
    if maximum is not None and paise > maximum:
        raise InvalidAmount(f"{what} is above the maximum of {format_rupees(maximum)} per operation.")
    return paise


def _as_decimal(value, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidAmount(f"{what} must be a number of rupees, like 100 or 99.50.")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # JSON numbers arrive as floats: their shortest repr is what the sender wrote ("99.5").
        return _from_text(repr(value), what)
    if isinstance(value, str):
        return _from_text(value, what)
    raise InvalidAmount(f"{what} must be a number of rupees, like 100 or 99.50.")


def _from_text(text: str, what: str) -> Decimal:
    typed = repr(text[:40])
    cleaned = _CURRENCY.sub("", text.strip(), count=1)
    if cleaned.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise InvalidAmount(f"{what} must be a finite number.")
    if _NUMBER.match(cleaned):
        return Decimal(cleaned.replace(",", ""))
    if any(ch.isdigit() and not "0" <= ch <= "9" for ch in cleaned):
        raise InvalidAmount(f"{what} must be written with the digits 0-9 (got {typed}).")
    if any(ch.isspace() for ch in cleaned):
        raise InvalidAmount(f"{what} cannot have a space inside the number (got {typed}); write 100, 1,000 "
                            "or 99.50.")
    if "," in cleaned:
        raise InvalidAmount(f"{what}: a comma can only separate thousands, as in 1,000 or 1,00,000; for paise "
                            f"use a point, like 99.50 (got {typed}).")
    raise InvalidAmount(f"{what} must be a number of rupees, like 100 or 99.50 (got {typed}).")


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
        pairs: list[str] = []
        while len(head) > 2:
            pairs.insert(0, head[-2:])
            head = head[:-2]
        digits = ",".join([head] + pairs + [tail])
    return f"{sign}Rs. {digits}.{frac:02d}"


def format_rupees_short(paise: int) -> str:
    """A chart axis's rupees, in the lakh/crore style: `Rs. 75,000` below a lakh, then `Rs. 1.5 lakh`,
    `Rs. 2.25 crore` (at most two decimals, trailing zeros dropped). Display only."""
    rupees = Decimal(int(paise)) / PAISE_PER_RUPEE
    for unit, size in (("crore", 10_000_000), ("lakh", 100_000)):
        if abs(rupees) >= size:
            text = f"{(rupees / size).quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
            return f"Rs. {text} {unit}"
    whole = format_rupees(int(paise))
    return whole[:-3] if whole.endswith(".00") else whole


# ------------------------------------------------------------------------------------- the price

def cost_paise(seconds: int, rate_paise_per_min: int) -> int:
    """ceil(seconds x rate / 60), in integers (a started paisa is charged): the default tariff's price.
    The arithmetic is services.pricing.call_price's, the one owner of call prices."""
    return call_price(seconds, Tariff(rate_paise_per_min))


def covered_seconds(amount_paise: int, rate_paise_per_min: int) -> int:
    """The longest call `amount_paise` pays for: the largest s with cost_paise(s, rate) <= amount."""
    return affordable_seconds(amount_paise, Tariff(rate_paise_per_min))
