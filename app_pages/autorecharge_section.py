"""The wallet page's auto-recharge section (`render`): set it up, authorise the mandate at Razorpay, see its
state and the next planned top-up, pause, resume, change or cancel it, and the recent auto-charges.
Rules live in services.autorecharge."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import app_ui as ui
from services import autorecharge, clock, names
from services.errors import WalletError
from services.money import to_rupees

STATE_LINE = {
    "pending": ":blue[:material/pending: {}]", "active": ":green[:material/autorenew: {}]",
    "paused": ":orange[:material/pause_circle: {}]", "cancelled": ":gray[:material/block: {}]",
    "rejected": ":red[:material/cancel: {}]",
}


def _state_line(state: str, m: dict) -> str:
    line = STATE_LINE[state].format(names.label(names.MANDATE_STATE, state))
    return line + (f" — {m['reason']}" if m.get("reason") else "")


def render(db, uid: str, *, can_change: bool = True) -> None:
    """The section; `can_change` False (a viewer): what is set, without the controls."""
    st.subheader("Auto-recharge")
    ui.show_flash()
    try:
        s = autorecharge.status(db, uid)
    except WalletError as exc:
        ui.show_error(exc)
        return
    st.caption(f"Tops your wallet up from a UPI Autopay, card or net-banking mandate before your balance reaches "
               f"your threshold. Each top-up is announced by e-mail and webhook (and by your bank) "
               f"{s['notice_hours']:g} hours before the debit: skip it, pause or cancel here before then.")
    m = s["mandate"]
    if m is None or s["state"] in ("cancelled", "rejected"):
        if m is not None:
            st.markdown(_state_line(s["state"], m))
        if not can_change:
            st.caption("Not set up. An owner or the finance team can set it up.")
            return
        with st.expander("Set up auto-recharge", icon=":material/autorenew:"):
            _terms_form(db, uid, m, "Set up auto-recharge", ask_contact=not s["contact"])
        _charges(s)
        return
    st.markdown(_state_line(s["state"], m))
    if s["state"] == "pending" and m.get("authorisation_url"):
        st.link_button("Authorise the mandate on Razorpay", m["authorisation_url"], type="primary",
                       icon=":material/open_in_new:")
    c = st.columns(4)
    c[0].metric("Threshold", ui.rupees(m["threshold_paise"]), border=True)
    c[1].metric("Each top-up", ui.rupees(m["amount_paise"]), border=True)
    c[2].metric("Taken this month", ui.rupees(s["taken_this_month_paise"]), border=True,
                help=f"Top-ups debited and credited this month. Monthly cap {ui.rupees(m['monthly_cap_paise'])}: "
                     f"{ui.rupees(s['used_this_month_paise'])} counts against it now (an announced top-up too).")
    c[3].metric("Daily cap", ui.rupees(m["daily_cap_paise"]) if m["daily_cap_paise"] else "Not set", border=True)
    st.caption(f"Mandate: {names.label(names.MANDATE_METHOD, m['method'])}, up to {ui.rupees(m['max_amount_paise'])} "
               "per debit.")
    _next(db, uid, s["next_charge"], can_change=can_change)
    if can_change:
        _actions(db, uid, s["state"])
        with st.expander("Change settings"):
            _terms_form(db, uid, m, "Save changes")
    _charges(s)


def _next(db, uid: str, nxt: dict | None, *, can_change: bool = True) -> None:
    """The next top-up: when it is expected, or the one announced, whether it will be taken, and Skip
    (for those who may change auto-recharge)."""
    if nxt is None:
        st.caption("No top-up planned.")
        return
    amount = ui.rupees(nxt["amount_paise"])
    if nxt["state"] == "forecast":
        wait = nxt["expected_in_seconds"]
        st.caption("No top-up planned: no recent spending." if wait is None else
                   f"Next top-up of {amount} expected {_span(wait)} at your pace.")
        return
    when = f"on or after {ui.when(nxt['debit_at'])} {clock.abbr()}" if nxt.get("debit_at") else "after its notice"
    if not nxt.get("can_skip"):
        st.info(f"Top-up of {amount}: {names.label(names.CHARGE_STATE, nxt['state']).lower()}.",
                icon=":material/autorenew:")
        return
    if nxt["needed"]:
        st.info(f"A top-up of {amount} is announced: it will be debited from your mandate {when}, because your "
                "balance is forecast to fall below your threshold.", icon=":material/autorenew:")
    else:
        st.warning(f"A top-up of {amount} was announced before your balance went up. It is no longer needed, but "
                   f"it will still be debited from your mandate {when} unless you skip it.",
                   icon=":material/autorenew:")
    if can_change and st.button(f"Skip this top-up of {amount}", key="ar_skip", icon=":material/skip_next:"):
        _do(autorecharge.skip, db, uid, f"Top-up of {amount} skipped: it will not be debited. Auto-recharge stays "
                                         "on for the next time your balance runs low after a recharge.")


def _span(seconds: int) -> str:
    """`in less than a minute`, `in about 1 minute`, `in about 5 hours`, `in about 3 days`."""
    if seconds < 60:
        return "in less than a minute"
    if seconds < 3600:
        return f"in about {ui.plural(seconds // 60, 'minute')}"
    if seconds < 2 * 86400:
        return f"in about {ui.plural(seconds // 3600, 'hour')}"
    return f"in about {ui.plural(seconds // 86400, 'day')}"


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


def _terms_form(db, uid: str, m: dict | None, label: str, *, ask_contact: bool = False) -> None:
    """The terms; `ask_contact`: no mobile number on file yet (Razorpay needs one to register a mandate)."""
    def rs(field: str, default: str) -> str:
        return str(to_rupees(m[field])) if m and m.get(field) is not None else default

    with st.form(f"ar_terms_{label}"):
        c = st.columns(4)
        threshold = c[0].text_input("Threshold (Rs.)", value=rs("threshold_paise", "100"))
        amount = c[1].text_input("Top-up amount (Rs.)", value=rs("amount_paise", "500"))
        monthly = c[2].text_input("Monthly cap (Rs.)", value=rs("monthly_cap_paise", "2000"))
        daily = c[3].text_input("Daily cap (Rs., optional)", value=rs("daily_cap_paise", ""))
        methods = list(names.MANDATE_METHOD)
        method = st.selectbox("Mandate", methods, format_func=names.MANDATE_METHOD.get,
                              index=methods.index(m["method"]) if m else 0)
        afa = st.checkbox("I will approve each top-up above Rs. 15,000 in my UPI app or bank",
                          value=bool(m and m.get("afa_accepted")))
        contact = st.text_input("Mobile number", placeholder="98123 45678",
                                help="Razorpay sends the mandate's approval request to it.") if ask_contact else None
        go = st.form_submit_button(label, type="primary", icon=":material/autorenew:")
    if go:
        try:
            autorecharge.configure(db, uid, threshold=threshold, amount=amount, monthly_cap=monthly,
                                   daily_cap=daily.strip() or None, method=method, accept_afa=afa,
                                   contact=contact)
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
    ui.table(pd.DataFrame([{
        f"Planned ({clock.abbr()})": ui.when(c["created_at"]), "Amount": ui.rupees(c["amount_paise"]),
        "Try": c["attempt"], f"Debit from ({clock.abbr()})": ui.when(c["debit_at"]) if c["debit_at"] else "—",
        "Outcome": names.label(names.CHARGE_STATE, c["state"]), "Reason": c["reason"] or ""} for c in s["charges"]]),
        pinned=("Amount", "Outcome"), wrap=("Reason",))
