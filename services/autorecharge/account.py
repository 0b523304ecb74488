"""What the customer does with auto-recharge (the wallet page and `/api/auto-recharge`): set it up or change
it, pause, resume, cancel, and see where it stands with the next planned charge.

Setting it up stores the pending mandate first, then asks Razorpay for the registration link: if Razorpay
does not answer, the mandate stays pending with the error noted, the customer is told nothing was
charged, and the worker registers it later. Cancelling stops every charge not yet made, at once and
whatever Razorpay answers, then cancels the token at Razorpay (the worker retries that if it fails).
"""
from __future__ import annotations

from services import clock, config, users
from services.autorecharge import charges, mandates, planner, setup
from services.autorecharge.terms import check
from services.errors import Conflict, InvalidInput, PaymentUnavailable
from services.money import format_rupees
from services.payments import gateway


CONTACT_NEEDED = ("Enter your mobile number: Razorpay needs it to register the mandate (your bank or UPI app "
                  "sends the approval request to it).")
SETUP_LATER = ("Razorpay did not answer, so the authorisation link is not ready yet; nothing was charged. "
               "It will appear here within a few minutes.")


def configure(db, user_id: str, *, threshold, amount, monthly_cap, daily_cap=None, method="upi",
              accept_afa=False, contact=None) -> dict:
    """Set auto-recharge up (a new mandate, pending until the customer authorises it), or change the
    terms of the live one. `contact`: the customer's mobile number, needed (Razorpay's registration link
    requires one) when none is on file yet. Bad input raises before anything is written. Returns `status`."""
    users.get(db, user_id)
    terms = check(db, threshold=threshold, amount=amount, monthly_cap=monthly_cap, daily_cap=daily_cap,
                  method=method, accept_afa=accept_afa)
    mobile = users.check_mobile(contact) if contact not in (None, "") else None
    m = mandates.get(db, user_id)
    if m is not None and m["state"] in mandates.LIVE:
        _change(db, m, terms)
        if mobile:
            users.set_phone(db, user_id, mobile)
        return status(db, user_id)
    if mobile is None and users.phone(db, user_id) is None:
        raise InvalidInput(CONTACT_NEEDED)
    cfg = gateway.required()
    if mobile:
        users.set_phone(db, user_id, mobile)
    m = mandates.start(db, user_id, terms, auth_amount=setup.AUTH_AMOUNT[terms.method])
    try:
        setup.register(db, cfg, m)
    except gateway.FAILURES as exc:
        mandates.update(db, m, {"setup_error": f"{SETUP_LATER} ({exc})"[:300]})
        raise PaymentUnavailable(SETUP_LATER) from None
    return status(db, user_id)


def _change(db, m: dict, terms) -> None:
    if terms.method != m["method"]:
        raise Conflict("To change the payment method, cancel auto-recharge and set it up again.")
    if terms.amount_paise > int(m["max_amount_paise"]):
        raise InvalidInput(f"Your mandate allows at most {format_rupees(m['max_amount_paise'])} per top-up: "
                           "cancel auto-recharge and set it up again to raise it.")
    mandates.update(db, m, terms.fields())


def pause(db, user_id: str) -> dict:
    mandates.pause(db, _live(db, user_id))
    return status(db, user_id)


def resume(db, user_id: str) -> dict:
    mandates.resume(db, _live(db, user_id))
    return status(db, user_id)


def cancel(db, user_id: str) -> dict:
    """Turn auto-recharge off (idempotent: nothing set up, or already off, answers the status)."""
    users.get(db, user_id)
    m = mandates.get(db, user_id)
    if m is None or m["state"] not in mandates.LIVE:
        return status(db, user_id)
    mandates.cancel(db, m, by="you", reason="Cancelled by you.")
    m = mandates.fresh(db, user_id)
    if m.get("razorpay_open") and gateway.settings().mode != "off":
        try:
            setup.close_at_razorpay(db, gateway.settings(), m)
        except gateway.FAILURES:
            pass  # charges are stopped already; the worker cancels the token when Razorpay answers
    return status(db, user_id)


def skip(db, user_id: str) -> dict:
    """Skip the top-up under way if it is not being debited yet (planned or announced): it is not taken,
    and auto-recharge goes on (the next fall towards the threshold after a new credit plans a new one).
    Idempotent: with nothing to skip, or skipped already, it answers the status. Raises Conflict when the
    debit has begun, or a worker holds the charge this very moment."""
    users.get(db, user_id)
    m = mandates.get(db, user_id)
    c = charges.get(db, m.get("in_flight")) if m is not None else None
    if c is None or c["state"] in charges.FINAL:
        return status(db, user_id)
    if c["state"] == charges.DEBITING:
        raise Conflict("This top-up is already being debited from your mandate: it can no longer be skipped.")
    c = charges.skip(db, c)
    if c["state"] == charges.SKIPPED:  # done with it, as the worker would be (services.autorecharge.worker)
        mandates.set_in_flight(db, mandates.fresh(db, user_id), None, was=c["_id"])
    elif c["state"] == charges.DEBITING:
        raise Conflict("This top-up is already being debited from your mandate: it can no longer be skipped.")
    elif c["state"] not in charges.FINAL:
        raise Conflict("This top-up is being worked on this very moment; try again in a few seconds.")
    return status(db, user_id)


def _live(db, user_id: str) -> dict:
    m = mandates.get(db, user_id)
    if m is None or m["state"] not in mandates.LIVE:
        raise Conflict("Auto-recharge is not set up.")
    return m


def status(db, user_id: str) -> dict:
    """Where auto-recharge stands for the customer: the mandate's terms and state, what this month and
    today have used of the caps, the next planned charge and the recent ones."""
    users.get(db, user_id)
    m = mandates.get(db, user_id)
    notice_hours = config.get().predebit_notice_hours
    contact = users.phone(db, user_id)  # None: setting up asks for one
    if m is None:
        return {"state": "off", "label": mandates.LABELS["off"], "notice_hours": notice_hours, "mandate": None,
                "contact": contact,
                "used_this_month_paise": 0, "used_today_paise": 0, "taken_this_month_paise": 0, "next_charge": None,
                "charges": []}
    now = clock.now()
    return {"state": m["state"], "label": mandates.LABELS[m["state"]], "notice_hours": notice_hours,
            "mandate": mandates.public(m), "contact": contact,
            # used: what counts against the caps (top-ups taken, and the one announced); taken: credited only
            "used_this_month_paise": charges.committed(db, user_id, since=planner.month_start(now)),
            "taken_this_month_paise": charges.taken(db, user_id, since=planner.month_start(now)),
            "used_today_paise": charges.committed(db, user_id, since=planner.day_start(now)),
            "next_charge": next_charge(db, m), "charges": charges.of_user(db, user_id, 10)}


def next_charge(db, m: dict) -> dict | None:
    """The charge under way, or when the forecast expects to plan one (None: nothing planned). A charge
    not yet debited says whether the forecast still calls for it (`needed`: a recharge by hand since it
    was announced may have lifted the balance; it is taken all the same unless skipped) and that it can
    be skipped (`can_skip`)."""
    c = charges.get(db, m.get("in_flight"))
    if c is not None:
        waiting = c["state"] in (charges.PLANNED, charges.NOTIFIED)
        needed = planner.forecast(db, m["user_id"]).reaches(int(m["threshold_paise"])) if waiting else True
        return {"state": c["state"], "amount_paise": int(c["amount_paise"]),
                "debit_at": clock.as_utc(c.get("debit_at")), "attempt": int(c["attempt"]), "expected_in_seconds": 0,
                "needed": needed, "can_skip": waiting}
    if m["state"] != mandates.ACTIVE:
        return None
    wait = planner.seconds_until_planned(m, planner.forecast(db, m["user_id"]))
    return {"state": "forecast", "amount_paise": int(m["amount_paise"]), "debit_at": None, "attempt": 1,
            "expected_in_seconds": wait, "needed": True, "can_skip": False}
