"""GST: state codes, GSTIN and PAN checks, and THE tax computation of a recharge document.

A GSTIN has 15 characters: the 2-digit state code, the holder's PAN (5 letters, 4 digits, 1 letter), the
registration number within the state (1-9 or A-Z), `Z`, and a check character (Luhn mod 36 over the first
14: values 0-9 then A-Z = 10-35, every second character from the left doubled, each product counted as
quotient + remainder of 36; the check makes the total a multiple of 36).

Tax: amounts in paise, rounded half up, so taxable + CGST + SGST + round-off (or + IGST) = total to the
paisa. CGST and SGST are each half the rate on the taxable value (always equal; the paisa by which they
miss the whole tax is a round-off line) when the customer is in the business's state; IGST otherwise.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from services.errors import InvalidInput

# GST state codes (the first two characters of a GSTIN).
STATES = {
    "01": "Jammu and Kashmir", "02": "Himachal Pradesh", "03": "Punjab", "04": "Chandigarh",
    "05": "Uttarakhand", "06": "Haryana", "07": "Delhi", "08": "Rajasthan", "09": "Uttar Pradesh",
    "10": "Bihar", "11": "Sikkim", "12": "Arunachal Pradesh", "13": "Nagaland", "14": "Manipur",
    "15": "Mizoram", "16": "Tripura", "17": "Meghalaya", "18": "Assam", "19": "West Bengal",
    "20": "Jharkhand", "21": "Odisha", "22": "Chhattisgarh", "23": "Madhya Pradesh", "24": "Gujarat",
    "25": "Daman and Diu", "26": "Dadra and Nagar Haveli and Daman and Diu", "27": "Maharashtra",
    "28": "Andhra Pradesh (before 2014)", "29": "Karnataka", "30": "Goa", "31": "Lakshadweep", "32": "Kerala",
    "33": "Tamil Nadu", "34": "Puducherry", "35": "Andaman and Nicobar Islands", "36": "Telangana",
    "37": "Andhra Pradesh", "38": "Ladakh", "97": "Other Territory",
}
MODES = ("off", "inclusive", "exclusive")
MODE_LABELS = {"off": "Off: no tax lines (receipts)", "inclusive": "Inclusive: GST inside what is paid",
               "exclusive": "Exclusive: the payer pays amount + GST"}
_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PAN = re.compile(r"^[A-Z]{5}[0-9]{4}[A-Z]$")


def state_name(code: str | None) -> str:
    return STATES.get(code or "", "")


def check_state(code, *, what: str = "State") -> str:
    if not isinstance(code, str) or code not in STATES:
        raise InvalidInput(f"{what}: pick a state or union territory from the list.")
    return code


def check_pan(value, *, what: str = "PAN") -> str:
    pan = _clean(value)
    if not _PAN.match(pan):
        raise InvalidInput(f"{what} must be 5 letters, 4 digits and 1 letter, like AAPFU0939F (got {pan[:20]!r}).")
    return pan


def check_character(first14: str) -> str:
    """The GSTIN check character for its first 14 characters (Luhn mod 36)."""
    total = 0
    for i, ch in enumerate(first14):
        product = _CHARS.index(ch) * (2 if i % 2 else 1)
        total += product // 36 + product % 36
    return _CHARS[(36 - total % 36) % 36]


def check_gstin(value, *, state: str | None = None) -> str:
    """A GSTIN, upper-cased without spaces, or InvalidInput saying what is wrong with it. With `state`,
    its state code must be that state's."""
    g = _clean(value)
    if len(g) != 15:
        raise InvalidInput(f"A GSTIN has 15 characters; this one has {len(g)}.")
    if g[:2] not in STATES:
        raise InvalidInput(f"A GSTIN starts with a 2-digit state code (27 for Maharashtra, 29 for Karnataka...); "
                           f"{g[:2]!r} is not one.")
    if not _PAN.match(g[2:12]):
        raise InvalidInput(f"Characters 3 to 12 of a GSTIN are the holder's PAN (5 letters, 4 digits, 1 letter); "
                           f"{g[2:12]!r} is not a PAN.")
    if not re.match(r"^[1-9A-Z]$", g[12]):
        raise InvalidInput("The 13th character of a GSTIN (the registration number in the state) is 1-9 or A-Z.")
    if g[13] != "Z":
        raise InvalidInput(f"The 14th character of a GSTIN is Z; this one has {g[13]!r}.")
    if any(ch not in _CHARS for ch in g[14]) or check_character(g[:14]) != g[14]:
        raise InvalidInput("The GSTIN's check character (the last one) does not match the rest: please look "
                           "for a typo.")
    if state is not None and g[:2] != state:
        raise InvalidInput(f"This GSTIN is registered in {state_name(g[:2])} (code {g[:2]}), but the state "
                           f"given is {state_name(state) or state} (code {state}).")
    return g


def _clean(value) -> str:
    if not isinstance(value, str):
        raise InvalidInput("Enter the number as text.")
    return re.sub(r"[\s-]", "", value).upper()


# ------------------------------------------------------------------------------------------------ tax

@dataclass(frozen=True)
class Tax:
    """A recharge's figures in paise: `total` is what the payer paid, `wallet` what the wallet got."""
    mode: str
    rate_bp: int          # basis points: 1800 = 18 %
    intra: bool           # CGST + SGST (customer in the business's state), else IGST
    taxable: int
    cgst: int
    sgst: int
    igst: int
    total: int
    wallet: int
    round_off: int = 0    # intra-state: total - taxable - CGST - SGST (-1, 0 or 1 paisa)

    @property
    def tax(self) -> int:
        return self.cgst + self.sgst + self.igst


def amounts(tax: Tax) -> dict:
    """A document's `amounts` from its figures."""
    return {"taxable": tax.taxable, "cgst": tax.cgst, "sgst": tax.sgst, "igst": tax.igst, "tax": tax.tax,
            "round_off": tax.round_off, "total": tax.total, "wallet": tax.wallet}


AMOUNT_KEYS = ("taxable", "cgst", "sgst", "igst", "tax", "round_off", "total", "wallet")


def add(*many: dict) -> dict:
    """The sum of several `amounts`, field by field."""
    keys = AMOUNT_KEYS
    return {k: sum(int(a.get(k, 0)) for a in many) for k in keys}


def _half_up(num: int, den: int) -> int:
    return (2 * num + den) // (2 * den)


def gst_on_top(amount: int, rate_bp: int) -> int:
    """The GST a payer adds to `amount` in `exclusive` mode (rounded once, half up)."""
    return _half_up(amount * rate_bp, 10_000)


def wallet_part(charged: int, rate_bp: int) -> int:
    """The amount of which `charged` is amount + GST on top: `charged` / (1 + rate), rounded half up. For a
    charge made by `gst_on_top` it gives back that amount exactly (the GST's rounding is under half a paisa
    of the result)."""
    return _half_up(charged * 10_000, 10_000 + rate_bp)


def compute(mode: str, rate_bp: int, wallet: int, *, intra: bool, charged_gst: int | None = None) -> Tax:
    """THE figures of a recharge that put `wallet` paise in the wallet. `off`: no tax; `inclusive`: the
    tax is inside `wallet` (the payer paid `wallet`); `exclusive`: the payer paid `wallet` + GST
    (`charged_gst` when the payment link fixed it, else computed)."""
    if mode not in MODES:
        raise InvalidInput(f"GST mode must be one of {', '.join(MODES)}.")
    if mode == "off":
        return Tax(mode, 0, intra, wallet, 0, 0, 0, wallet, wallet)
    if mode == "inclusive":
        total = wallet
        taxable = _half_up(total * 10_000, 10_000 + rate_bp)
    else:
        taxable = wallet
        total = wallet + (gst_on_top(wallet, rate_bp) if charged_gst is None else charged_gst)
    tax = total - taxable
    if not intra:
        return Tax(mode, rate_bp, intra, taxable, 0, 0, tax, total, wallet)
    # CGST and SGST are each half the rate on the taxable value, so always equal; the paisa the two halves
    # may differ from the tax by is a round-off line, not tax.
    half = _half_up(taxable * rate_bp, 20_000)
    return Tax(mode, rate_bp, intra, taxable, half, half, 0, total, wallet, tax - 2 * half)


def rate_text(rate_bp: int) -> str:
    """`18%`, `9%`, `2.5%` from basis points."""
    whole, frac = divmod(rate_bp, 100)
    return f"{whole}%" if not frac else f"{whole}.{frac:02d}".rstrip("0") + "%"
