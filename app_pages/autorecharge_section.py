"""The wallet page's auto-recharge section (`render`): set it up, authorise the mandate at Razorpay, see its
state and the next planned top-up, pause, resume, change or cancel it, and the recent auto-charges.
Rules live in services.autorecharge."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import app_ui as ui
from services import autorecharge, clock
from services.autorecharge.terms import METHODS
from services.errors import WalletError
from services.money import to_rupees

STATE_LINE = {
    "pending": ":blue[:material/pending: Waiting for you to authorise the mandate]",
    "active": ":green[:material/autorenew: Active]",
    "paused": ":orange[:material/pause_circle: Paused]",
    "cancelled": ":gray[:material/block: Cancelled]",
    "rejected": ":red[:material/cancel: Not authorised]",
}
CHARGE_STATE = {"planned": "planned", "notified": "announced, waiting for the notice period",
                "debiting": "debiting", "credited": "credited", "failed": "failed", "skipped": "not made"}


def render(db, uid: str, *, can_change: bool = True) -> None:
    """The section; `can_change` False (a viewer): what is set, without the controls."""
    st.subheader("Auto-recharge")
    ui.show_flash()
    try:
        s = autorecharge.status(db, uid)
    except WalletError as exc:
        ui.show_error(exc)
        return
    st.caption(f"Tops your wallet up from a UPI Autopay, card or e-mandate mandate before your balance reaches "
               f"your threshold. Each top-up is announced by e-mail and webhook (and by your bank) "
               f"{s['notice_hours']:g} hours before the debit: pause or cancel here before then to stop it.")
    m = s["mandate"]
    if m is None or s["state"] in ("cancelled", "rejected"):
        if m is not None:
            st.markdown(STATE_LINE[s["state"]] + (f" — {m['reason']}" if m.get("reason") else ""))
        if not can_change:
            st.caption("Not set up. An owner or the finance team can set it up.")
            return
        with st.expander("Set up auto-recharge", icon=":material/autorenew:"):
            _terms_form(db, uid, m, "Set up auto-recharge")
        _charges(s)
        return
    st.markdown(STATE_LINE[s["state"]] + (f" — {m['reason']}" if m.get("reason") else ""))
    if s["state"] == "pending" and m.get("authorisation_url"):
        st.link_button("Authorise the mandate on Razorpay", m["authorisation_url"], type="primary",
                       icon=":material/open_in_new:")
    c = st.columns(4)
    c[0].metric("Threshold", ui.rupees(m["threshold_paise"]), border=True)
    c[1].metric("Each top-up", ui.rupees(m["amount_paise"]), border=True)
    c[2].metric("Used this month", ui.rupees(s["used_this_month_paise"]), border=True,
                help=f"Monthly cap {ui.rupees(m['monthly_cap_paise'])}")
    c[3].metric("Daily cap", ui.rupees(m["daily_cap_paise"]), border=True)
    st.caption(f"Mandate: {METHODS[m['method']]}, up to {ui.rupees(m['max_amount_paise'])} per debit, "
               f"frequency {m['frequency']}. {_next_line(s['next_charge'])}")
    if can_change:
        _actions(db, uid, s["state"])
        with st.expander("Change settings"):
            _terms_form(db, uid, m, "Save changes")
    _charges(s)


def _next_line(nxt: dict | None) -> str:
    if nxt is None:
        return "No top-up planned."
    if nxt["state"] == "forecast":
        wait = nxt["expected_in_seconds"]
        if wait is None:
            return "No top-up planned: no recent spending."
        return f"Next top-up of {ui.rupees(nxt['amount_paise'])} expected in about {_span(wait)} at your pace."
    when = f" on {ui.when(nxt['debit_at'])} {clock.abbr()}" if nxt.get("debit_at") else ""
    return f"Top-up of {ui.rupees(nxt['amount_paise'])} {CHARGE_STATE[nxt['state']]}{when}."


def _span(seconds: int) -> str:
    if seconds < 3600:
        return f"{max(1, seconds // 60)} minutes"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} hours"
    return f"{seconds // 86400} days"


def _actions(db, uid: str, state: str) -> None:
    a, b = st.columns(2)
    if state == "active" and a.button("Pause auto-recharge", key="ar_pause", icon=":material/pause:"):
        _do(autorecharge.pause, db, uid, "Auto-recharge paused: no top-up is made until you resume it.")
    if state == "paused" and a.button("Resume auto-recharge", key="ar_resume", icon=":material/play_arrow:"):
        _do(autorecharge.resume, db, uid, "Auto-recharge resumed.")
    if b.button("Cancel auto-recharge", key="ar_cancel", icon=":material/block:"):
        _do(autorecharge.cancel, db, uid, "Auto-recharge cancelled: no top-up will be made, and the mandate is "
                                          "cancelled at Razorpay.")


def _do(fn, db, uid: str, done: str) -> None:
    try:
        fn(db, uid)
    except WalletError as exc:
        ui.show_error(exc)
    else:
        ui.flash(done)
        st.rerun()


def _terms_form(db, uid: str, m: dict | None, label: str) -> None:
    def rs(field: str, default: str) -> str:
        return str(to_rupees(m[field])) if m and m.get(field) is not None else default

    with st.form(f"ar_terms_{label}"):
        c = st.columns(4)
        threshold = c[0].text_input("Threshold (Rs.)", value=rs("threshold_paise", "100"))
        amount = c[1].text_input("Top-up amount (Rs.)", value=rs("amount_paise", "500"))
        monthly = c[2].text_input("Monthly cap (Rs.)", value=rs("monthly_cap_paise", "2000"))
        daily = c[3].text_input("Daily cap (Rs., optional)", value=rs("daily_cap_paise", ""))
        method = st.selectbox("Mandate", list(METHODS), format_func=METHODS.get,
                              index=list(METHODS).index(m["method"]) if m else 0)
        afa = st.checkbox("I will approve each top-up above Rs. 15,000 in my UPI app or bank",
                          value=bool(m and m.get("afa_accepted")))
        go = st.form_submit_button(label, type="primary", icon=":material/autorenew:")
    if go:
        try:
            autorecharge.configure(db, uid, threshold=threshold, amount=amount, monthly_cap=monthly,
                                   daily_cap=daily.strip() or None, method=method, accept_afa=afa)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            ui.flash("Auto-recharge saved." if m and m["state"] in ("active", "paused", "pending") else
                     "Auto-recharge set up: authorise the mandate on Razorpay to turn it on.")
            st.rerun()


def _charges(s: dict) -> None:
    if not s["charges"]:
        return
    st.markdown("**Recent auto-recharges**")
    st.dataframe(pd.DataFrame([{
        f"Planned ({clock.abbr()})": ui.when(c["created_at"], "%d %b %H:%M"), "Amount": ui.rupees(c["amount_paise"]),
        "Try": c["attempt"], f"Debit from ({clock.abbr()})": ui.when(c["debit_at"], "%d %b %H:%M"),
        "Outcome": CHARGE_STATE[c["state"]], "Reason": c["reason"] or ""} for c in s["charges"]]),
        hide_index=True, width="stretch")
