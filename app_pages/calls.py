"""Calls: place a (simulated) AI voice call, see what each call cost, and run campaigns over many numbers
with an estimate first ("you can afford N of M calls"), a resume after a recharge, and a new estimate to
confirm when the rate changed since the campaign was estimated."""
import pandas as pd
import streamlit as st

import app_ui as ui
from app_pages import calls_history_ui
from services import calls, campaigns, names, rates
from services.errors import WalletError

acct = ui.customer_page("usage")
uid = acct.account
db = ui.get_db()

st.title("Calls")
ui.times_note()
cfg = ui.app_settings()
terms = rates.customer_terms(db, uid)
b = ui.balance_of(uid)
cap = f"a daily spend limit of {ui.rupees(terms['daily_cap_paise'])}" if terms["daily_cap_paise"] else \
    "no daily spend limit"
st.caption(f"Your rate: **{terms['description']}** (plan *{terms['plan']}*, rounded up to the paisa). "
           f"Available now: **{ui.rupees(b.available)}**. Up to **{terms['max_concurrent_calls']} calls at once**, "
           f"{cap}. A call holds {cfg['call_slice_seconds'] // 60} minutes at a time while it lasts and returns "
           "what it does not use; when the money runs out it is told the exact second to end.")

# Placing calls and running campaigns is for owners and developers; everyone reads the history.
VIEWS = ["Make a call", "Call history", "Campaigns"] if acct.may("calls") else ["Call history"]
view = st.segmented_control("Section", VIEWS, default=VIEWS[0], key="calls_view",
                            label_visibility="collapsed") or VIEWS[0]


if view == "Make a call":
    with st.form("call"):
        a, b_, c = st.columns([2, 2, 1])
        number = a.text_input("Phone number", placeholder="9876543210 or +919876543210")
        kb = b_.text_input("Knowledge base id", placeholder="kb_support")
        most = c.number_input("Max minutes", min_value=1, max_value=calls.MAX_CALL_MINUTES,
                              value=cfg["default_call_minutes"], step=1)
        d_, o_ = st.columns([3, 2])
        dur = d_.number_input("Simulated talk time (seconds, 0 = a random length)", min_value=0,
                              max_value=24 * 3600, value=0, step=1,
                              help="There is no phone network in this demo: the call is simulated.")
        outcome = o_.selectbox("Simulated outcome", calls.OUTCOMES, format_func=lambda o: names.label(names.OUTCOME, o))
        sms_price = calls.follow_up_price(db)
        sms = sms_price is not None and st.checkbox(
            f"Text the person called afterwards (SMS, {ui.rupees(sms_price)}, billed from the wallet)",
            help="Sent only when the call is answered, once per call.")
        go = st.form_submit_button("Call", type="primary", icon=":material/call:")
    if go:
        st.session_state.pop("_last_call", None)  # the last call's result must not linger under a new error
        try:
            with st.spinner("Calling…"):
                r = calls.simulate_call(db, uid, number, kb, max_minutes=int(most),
                                        duration_seconds=int(dur) or None, outcome=outcome, follow_up_sms=sms)
        except Exception as exc:
            ui.show_error(exc)
        else:
            st.session_state["_last_call"] = r
    r = st.session_state.get("_last_call")
    if r:
        mins, secs = divmod(int(r.get("billed_seconds", 0)), 60)
        with st.container(border=True):
            heard = "" if r.get("outcome", "answered") == "answered" else \
                f" ({names.label(names.OUTCOME, r['outcome']).lower()})"
            st.markdown(f"**Call {names.label(names.CALL_STATUS, r.get('status')).lower()}**{heard} · "
                        f"{mins} min {secs} s billed · "
                        f"cost **{ui.rupees(r.get('cost_paise', 0))}** · balance now "
                        f"**{ui.rupees(r.get('balance_paise', 0))}**")
            if r.get("sms_paise"):
                st.caption(f"Follow-up SMS to {r.get('to_number', '')}: {ui.rupees(r['sms_paise'])}, billed as usage "
                           "(SMS in your transactions).")
            elif r.get("sms_error"):
                st.caption("The follow-up SMS was not sent:")
                ui.show_error(r["sms_error"])
            if r.get("cut_off"):
                st.warning("The call was cut off at its maximum length or when the money ran out. Recharge for "
                           "longer calls.", icon=":material/call_end:")

if view == "Call history":
    calls_history_ui.show(db, uid)


def _progress_cb(bar):
    def cb(summary: dict) -> None:
        total = int(summary.get("total") or 0)
        done = int(summary.get("done") or 0) + int(summary.get("needs_recharge") or 0) + \
            int(summary.get("spend_cap") or 0)
        if total:
            bar.progress(min(1.0, done / total), text=f"{summary.get('completed', 0):,} of {total:,} calls done")
    return cb


def _show_summary(s: dict) -> None:
    with st.container(border=True):
        st.markdown("**Campaign summary**")
        m = st.columns(5)
        m[0].metric("Completed", f"{s.get('completed', 0):,}")
        m[1].metric("Need a recharge", f"{s.get('needs_recharge', 0) + s.get('spend_cap', 0):,}")
        m[2].metric("Failed", f"{s.get('failed', 0):,}")
        m[3].metric("Cut off", f"{s.get('cut_off', 0):,}")
        m[4].metric("Spent", ui.rupees(s.get("cost_paise", 0)))
        (st.warning if s.get("status") in ("needs_recharge", "spend_cap") else st.caption)(s.get("message", ""))
        if s.get("status") == "needs_recharge":
            _recharge_for(s["campaign_id"])


def _recharge_for(cid: str) -> None:
    """"Recharge Rs. X": what the calls still to place need, filled in on the Wallet page."""
    try:
        need = campaigns.recharge_to_finish(db, uid, cid)
    except WalletError:
        return  # the campaign is gone: nothing to offer
    if need:
        ui.recharge_link(need)


def _run(cid: str, label: str, *, started: bool = False) -> None:
    bar = st.progress(0.0, text=label)
    try:
        s = campaigns.run_campaign(db, uid, cid, progress=_progress_cb(bar))
    except Exception as exc:
        ui.show_error(exc)
    else:
        st.session_state["_cmp_summary"] = s
        ui.done_key("campaign")
        if started:  # the list is spent: a second click must not start the same numbers again
            st.session_state["_cmp_clear"] = True
        st.rerun()


def _resume(cid: str) -> None:
    """Resume, unless the rate changed since the estimate: then show the new one to confirm first."""
    try:
        change = campaigns.rate_change(db, uid, cid)
    except WalletError as exc:
        ui.show_error(exc)
        return
    if change is None:
        _run(cid, "Resuming…")
    else:
        st.session_state[f"_rate_change_{cid}"] = change


def _confirm_box(cid: str) -> None:
    change = st.session_state.get(f"_rate_change_{cid}")
    if not change:
        return
    st.warning(change["message"], icon=":material/price_change:")
    if st.button("Confirm the new estimate and resume", key=f"conf_{cid}", type="primary"):
        try:
            campaigns.confirm_rate(db, uid, cid, change["new"])
        except WalletError as exc:
            ui.show_error(exc)
        else:
            st.session_state.pop(f"_rate_change_{cid}", None)
            _run(cid, "Resuming…")


RESUMABLE = ("needs_recharge", "spend_cap", "interrupted", "ready", "too_many_calls")
CAMPAIGN_STATUS = {"completed": "Finished", "needs_recharge": "Waiting for a recharge", "spend_cap":
                   "Daily limit reached", "interrupted": "Interrupted", "ready": "Not started", "running": "Running",
                   "too_many_calls": "Waiting for a free call slot"}

if view == "Campaigns":
    s = st.session_state.get("_cmp_summary")
    if s:
        _show_summary(s)
    st.subheader("New campaign")
    if st.session_state.pop("_cmp_clear", False):  # started: an empty form for the next one
        st.session_state["cmp_text"] = ""
        st.session_state["cmp_upload"] = st.session_state.get("cmp_upload", 0) + 1
    src = st.radio("Numbers", ["Paste them", "Upload a CSV"], horizontal=True, key="cmp_src")
    numbers, bad = [], []
    try:
        if src == "Paste them":
            text = st.text_area("One number per line (or separated by commas); 10-digit Indian numbers or with "
                                "the country code", key="cmp_text", placeholder="9876543210\n+919812345678")
            if text.strip():
                numbers, bad = campaigns.parse_numbers(text)
        else:
            up = st.file_uploader("CSV with a to_number column", type=["csv", "txt"],
                                  key=f"cmp_file_{st.session_state.get('cmp_upload', 0)}")
            if up is not None:
                numbers, bad = campaigns.parse_csv(up.getvalue())
    except WalletError as exc:
        ui.show_error(exc)
    a, b_ = st.columns(2)
    kb = a.text_input("Knowledge base id", key="cmp_kb", placeholder="kb_sales")
    mpc = b_.number_input("Minutes per call (each call is capped there)", min_value=1,
                          max_value=calls.MAX_CALL_MINUTES, value=cfg["default_call_minutes"], step=1, key="cmp_mpc")
    if bad:
        with st.expander(f"{len(bad)} row(s) skipped"):
            st.dataframe(pd.DataFrame(bad), hide_index=True)
    if numbers:
        try:
            est = campaigns.estimate(db, uid, len(numbers), int(mpc))
        except WalletError as exc:
            ui.show_error(exc)
            est = None
        if est:
            msg = (f"You can afford **{est['affordable']:,} of {est['calls']:,} calls** at "
                   f"{ui.rupees(est['cost_per_call_paise'])} each ({int(mpc)} min, {est['terms']}): "
                   f"{ui.rupees(est['total_paise'])} for all, {ui.rupees(est['available_paise'])} available. "
                   "The campaign keeps this price.")
            short = est["affordable"] < est["calls"] and est.get("shortfall_paise")
            if short:
                msg += f" Recharge {ui.rupees(est['shortfall_paise'])} to cover them all."
            (st.success if est["affordable"] >= est["calls"] else st.warning)(msg, icon=":material/calculate:")
            if short:
                ui.recharge_link(est["shortfall_paise"])
            if st.button("Start campaign", type="primary", icon=":material/campaign:",
                         disabled=est["affordable"] == 0):
                try:
                    # One key per filled-in form: a double click creates one campaign, not two.
                    c = campaigns.create_campaign(db, uid, numbers, kb, int(mpc), key=ui.new_key("campaign"))
                except WalletError as exc:
                    ui.show_error(exc)
                else:
                    _run(c["campaign_id"], "Starting…", started=True)

    st.subheader("Your campaigns")
    try:
        mine = campaigns.list_campaigns(db, uid, limit=20)
    except WalletError as exc:
        ui.show_error(exc)
        mine = []
    if not mine:
        st.caption("No campaigns yet.")
    for c in mine:
        cid = c["campaign_id"]
        with st.container(border=True):
            x, y, z = st.columns([4, 4, 2], vertical_alignment="center")
            x.markdown(f"**{c['name']}** · `{c['kb_id']}`")
            x.caption(f"{c['total']:,} numbers · {c['minutes_per_call']} min each · "
                      f"{ui.when(c['created_at'])}")
            y.markdown(f"{CAMPAIGN_STATUS.get(c['status'], c['status'])} · {c['completed']:,} completed · "
                       f"{ui.rupees(c['cost_paise'])} spent")
            if c["status"] in RESUMABLE and z.button("Resume", key=f"res_{cid}", icon=":material/play_arrow:",
                                                     width="stretch"):
                _resume(cid)
            if c["status"] == "needs_recharge":
                _recharge_for(cid)
            _confirm_box(cid)
