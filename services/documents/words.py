"""Amounts in words, in the Indian system (thousand, lakh, crore), as Indian invoices write them:
`Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Fifty Paise Only`."""
from __future__ import annotations

from services.money import require_paise

_ONES = ("Zero One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve Thirteen Fourteen Fifteen "
         "Sixteen Seventeen Eighteen Nineteen").split()
_TENS = "_ _ Twenty Thirty Forty Fifty Sixty Seventy Eighty Ninety".split()
# (size, name) from the largest: a crore is 100 lakh, a lakh 100 thousand.
_SCALES = ((10_000_000, "Crore"), (100_000, "Lakh"), (1_000, "Thousand"), (100, "Hundred"))


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def number_words(n: int) -> str:
    """A whole number in Indian-system words (`1,00,00,000` -> `One Crore`; beyond 99 crore the crores
    are counted in the same words: `One Lakh Crore`)."""
    if n < 100:
        return _below_hundred(n)
    for size, name in _SCALES:
        if n >= size:
            head, rest = divmod(n, size)
            words = f"{number_words(head)} {name}"
            return f"{words} {number_words(rest)}" if rest else words
    raise AssertionError("unreachable")


def rupees_in_words(paise: int) -> str:
    """`Rupees ... and ... Paise Only` for an amount in paise."""
    require_paise(paise, allow_zero=True)
    rupees, p = divmod(paise, 100)
    text = f"Rupees {number_words(rupees)}"
    if p:
        text += f" and {_below_hundred(p)} Paise"
    return text + " Only"
