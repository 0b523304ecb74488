"""What Razorpay's test mode accepts on its payment page, as the original design names it: card
4111 1111 1111 1111 pays and 4000 0000 0000 0002 is declined (any CVV, any expiry in the future); UPI id
success@razorpay pays and failure@razorpay fails. Anything else is refused on the page, nothing paid.
Net banking and wallets pay (the page's Fail button fails any method)."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from sandbox.razorpay_server.common import ApiError

CARD_PAYS, CARD_DECLINED = "4111111111111111", "4000000000000002"
UPI_PAYS, UPI_FAILS = "success@razorpay", "failure@razorpay"
DEFAULTS = {"card_number": "4111 1111 1111 1111", "card_expiry": "12/30", "card_cvv": "123", "vpa": UPI_PAYS}
HINT = ("Test mode: card 4111 1111 1111 1111 pays, 4000 0000 0000 0002 is declined (any CVV, any future "
        "expiry); UPI id success@razorpay pays, failure@razorpay fails.")


def pays(form: dict, now: int) -> bool:
    """True when the instrument in `form` pays, False when it is declined; ApiError when it is not a test
    instrument (a form without the fields, as the sandbox's own tests post, takes the paying defaults)."""
    method = form.get("method", "upi")
    if method == "card":
        number = re.sub(r"[\s-]", "", form.get("card_number", DEFAULTS["card_number"]))
        if number not in (CARD_PAYS, CARD_DECLINED):
            raise ApiError("Card number is invalid. " + HINT, "card[number]")
        _expiry(form.get("card_expiry", DEFAULTS["card_expiry"]), now)
        if not re.fullmatch(r"\d{3,4}", form.get("card_cvv", DEFAULTS["card_cvv"]).strip()):
            raise ApiError("CVV is invalid: 3 or 4 digits.", "card[cvv]")
        return number == CARD_PAYS
    if method == "upi":
        vpa = form.get("vpa", UPI_PAYS).strip().lower()
        if vpa not in (UPI_PAYS, UPI_FAILS):
            raise ApiError("Invalid VPA. " + HINT, "vpa")
        return vpa == UPI_PAYS
    return True


def _expiry(text: str, now: int) -> None:
    m = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", text or "")
    if not m or not 1 <= int(m.group(1)) <= 12:
        raise ApiError("Card expiry is invalid: MM/YY.", "card[expiry_month]")
    month, year = int(m.group(1)), int(m.group(2)) % 100 + 2000
    today = datetime.fromtimestamp(now, timezone.utc)
    if (year, month) < (today.year, today.month):
        raise ApiError("Your card has expired. Please use a card with a future expiry.", "card[expiry_year]")
