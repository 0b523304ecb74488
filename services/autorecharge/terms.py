"""What a customer asks of auto-recharge, checked in full before anything is written: the threshold, the
amount of each top-up, a monthly cap (and an optional daily one), the payment method of the mandate,
and whether they accept authenticating each debit above Rs. 15,000.

RBI's e-mandate rules let a recurring debit of up to Rs. 15,000 go through on the mandate alone; above it
the customer approves each debit in their UPI app or bank (an extra authentication, AFA). So a top-up
above Rs. 15,000 is allowed only when the customer says they accept that.
"""
from __future__ import annotations

from dataclasses import dataclass

from services import settings
from services.errors import InvalidInput
from services.money import format_rupees, parse_rupees

METHODS = {"upi": "UPI Autopay", "card": "card", "emandate": "net-banking"}  # "… mandate" in sentences
AFA_LIMIT = 1_500_000          # Rs. 15,000
# The additional-authentication rule binds UPI and card mandates; an e-mandate (NACH) allows far larger debits.
AFA_METHODS = ("upi", "card")
# A UPI mandate's ceiling per debit is its token's `max_amount`, which Razorpay's UPI docs allow from Rs. 1 to
# Rs. 99,999 (9999900 paise; Rs. 2,00,000 only for a few financial-services MCCs, not ours).
UPI_MAX_AMOUNT = 9_999_900
CAP_MAX = 1_000_000_000        # Rs. 1,00,00,000: a typo guard on caps


@dataclass(frozen=True)
class Terms:
    threshold_paise: int
    amount_paise: int
    monthly_cap_paise: int
    daily_cap_paise: int | None
    method: str
    afa_accepted: bool

    def fields(self) -> dict:
        return {"threshold_paise": self.threshold_paise, "amount_paise": self.amount_paise,
                "monthly_cap_paise": self.monthly_cap_paise, "daily_cap_paise": self.daily_cap_paise,
                "method": self.method, "afa_accepted": self.afa_accepted}


def check(db, *, threshold, amount, monthly_cap, daily_cap=None, method="upi", accept_afa=False) -> Terms:
    """The terms from user input (rupees), or InvalidAmount/InvalidInput naming the field at fault."""
    s = settings.get(db)
    if method not in METHODS:
        raise InvalidInput(f"Payment method must be one of {', '.join(METHODS)}.")
    if not isinstance(accept_afa, bool):
        raise InvalidInput("accept_afa must be true or false.")
    threshold_p = parse_rupees(threshold, maximum=s["max_amount_paise"], what="Threshold")
    amount_p = parse_rupees(amount, minimum=s["min_recharge_paise"], maximum=s["max_amount_paise"],
                            what="Recharge amount")
    if method == "upi" and amount_p > UPI_MAX_AMOUNT:
        raise InvalidInput(f"A UPI Autopay mandate debits at most {format_rupees(UPI_MAX_AMOUNT)} at a time: choose "
                           "that or less, or a net-banking mandate.")
    if amount_p > AFA_LIMIT and not accept_afa and method in AFA_METHODS:
        raise InvalidInput(f"A top-up above {format_rupees(AFA_LIMIT)} must be approved by you in your UPI app or "
                           f"bank each time (RBI's rule for e-mandates): accept that, or choose "
                           f"{format_rupees(AFA_LIMIT)} or less.")
    monthly = parse_rupees(monthly_cap, maximum=CAP_MAX, what="Monthly cap")
    if monthly < amount_p:
        raise InvalidInput(f"The monthly cap must allow at least one top-up of {format_rupees(amount_p)}.")
    daily = None
    if daily_cap is not None and daily_cap != "":
        daily = parse_rupees(daily_cap, maximum=CAP_MAX, what="Daily cap")
        if not amount_p <= daily <= monthly:
            raise InvalidInput("The daily cap must be at least one top-up and at most the monthly cap.")
    return Terms(threshold_p, amount_p, monthly, daily, method, accept_afa)
