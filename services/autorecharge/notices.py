"""What auto-recharge tells the customer, through the low-balance alerts' channels (services.alerts.notices:
the same e-mail addresses and signed webhook, retried the same way). Each message is keyed by what it is
about, so it goes out once however often the worker passes by:

- the pre-debit notice, one per debit: amount, date, how to stop it (`wallet.autorecharge.scheduled`);
- a failed top-up, one per crossing: Razorpay's reason, the one retry to come (or none), and a payment
  link for doing it by hand now (`wallet.autorecharge.failed`);
- a cap reached, once per month (or day) (`wallet.autorecharge.cap_reached`), with a payment link;
- the mandate revoked at the bank: auto-recharge is off (`wallet.autorecharge.off`), with a payment link.
"""
from __future__ import annotations

from services import clock, config
from services.alerts import notices
from services.autorecharge.terms import METHODS
from services.money import format_rupees


def _when(t) -> str:
    return f"{clock.fmt(t)} {clock.abbr()}"  # as people read it (the business zone)


def _wallet_url() -> str:
    return config.get().public_url.rstrip("/") + "/wallet"


def predebit(db, m: dict, c: dict) -> bool:
    at = clock.as_utc(c["debit_at"])
    amount, when = format_rupees(c["amount_paise"]), _when(at)
    text = (f"Your wallet will be topped up with {amount} from your {METHODS[m['method']]} mandate on or after "
            f"{when}, because its balance is forecast to fall below {format_rupees(m['threshold_paise'])}. "
            f"To stop this debit, pause or cancel auto-recharge on your wallet page before then: {_wallet_url()}")
    return notices.notify(db, c["user_id"], f"autorecharge:{c['_id']}:scheduled",
                          event_type="wallet.autorecharge.scheduled",
                          headline=f"Auto-recharge: {amount} will be debited on {when}", text=text,
                          data={"charge_id": c["_id"], "amount_paise": int(c["amount_paise"]),
                                "debit_at": at.isoformat(), "attempt": int(c["attempt"])})


def failed(db, m: dict, c: dict, *, retry: bool) -> bool:
    amount = format_rupees(c["amount_paise"])
    if retry:
        hours = config.get().predebit_notice_hours
        then = (f"We will try once more after a new pre-debit notice (about {hours:g} hours from now); "
                "pause auto-recharge on your wallet page to stop it.")
    else:
        then = "We will not try again for this top-up."
    text = (f"We could not debit {amount} for your wallet's auto-recharge: {c.get('reason') or 'the bank refused'}. "
            f"{then} To keep your calls going, recharge now with the link below.")
    return notices.notify(db, c["user_id"], f"autorecharge:{c['_id'].rsplit(':', 1)[0]}:failed",
                          event_type="wallet.autorecharge.failed", headline=f"Auto-recharge of {amount} failed",
                          text=text, with_link=True, link_amount_paise=int(c["amount_paise"]),
                          data={"charge_id": c["_id"], "amount_paise": int(c["amount_paise"]),
                                "reason": c.get("reason"), "error_reason": c.get("error_reason"), "retry": retry})


def off(db, m: dict, reason: str, c: dict | None = None) -> bool:
    """The mandate is gone (revoked at the bank): one message per mandate, with a charge's failure if one
    was under way."""
    failed_now = f"We could not debit {format_rupees(c['amount_paise'])}: {c.get('reason')}. " if c else ""
    text = (f"{failed_now}{reason} No more automatic top-ups will be made. To keep your calls going, recharge "
            f"with the link below, and set auto-recharge up again on your wallet page if you want it back.")
    return notices.notify(db, m["user_id"], f"autorecharge:{m['user_id']}:{m['no']}:off",
                          event_type="wallet.autorecharge.off", headline="Auto-recharge is off: mandate revoked",
                          text=text, with_link=True, link_amount_paise=int(m["amount_paise"]),
                          data={"mandate_no": int(m["no"]), "reason": reason,
                                "charge_id": c["_id"] if c else None})


def cap_reached(db, m: dict, period: str, label: str, used: int) -> bool:
    cap = int(m["monthly_cap_paise"] if period == "month" else m["daily_cap_paise"])
    until, adjective = ("next month", "monthly") if period == "month" else ("tomorrow", "daily")
    text = (f"Auto-recharge has topped up {format_rupees(used)} this {period}, and another "
            f"{format_rupees(m['amount_paise'])} would pass your {adjective} cap of {format_rupees(cap)}. No more "
            f"automatic top-ups until {until}; raise the cap on your wallet page, or recharge with the link below.")
    return notices.notify(db, m["user_id"], f"autorecharge:{m['user_id']}:cap:{label}",
                          event_type="wallet.autorecharge.cap_reached",
                          headline=f"Auto-recharge stopped: {adjective} cap of {format_rupees(cap)} reached",
                          text=text, with_link=True, link_amount_paise=int(m["amount_paise"]),
                          data={"period": period, "cap_paise": cap, "used_paise": int(used), "label": label})
