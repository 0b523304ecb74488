"""Wallet: the balance at a glance, the low-balance warning, recharge through Razorpay, and every
payment link with its status, so nobody has to wonder whether a payment went through."""
import streamlit as st

import app_ui as ui
from services import payments
from services.errors import WalletError

user = ui.require_role("user")
uid = user["username"]
db = ui.get_db()
sandbox = ui.payment_mode() == "sandbox"

st.title("Wallet")

# --- The payment callback: Razorpay redirects here with razorpay_* parameters after a payment.
params = {k: st.query_params[k] for k in st.query_params.keys()}
if any(k.startswith("razorpay_") for k in params):
    try:
        res = payments.handle_callback(db, uid, params)
    except WalletError as exc:
        st.session_state["_callback_result"] = {"outcome": "error", "message": exc.message}
    except Exception as exc:  # unexpected: show it once, keep the URL clean
        ui.show_error(exc)
    else:
        st.session_state["_callback_result"] = res
    # Parameters are consumed once: a reload must not re-submit them.
    st.query_params.clear()

# Kept until dismissed: the browser reruns the page right after a callback (the sign-in cookie's
# component answers), and a message popped in the first run would flash and vanish.
res = st.session_state.get("_callback_result")
if res:
    amt = res.get("amount_paise")
    if res.get("outcome") in ("credited", "already_credited"):
        st.success(f"Payment received: {ui.rupees(amt)} added to your wallet. {res.get('message', '')}",
                   icon=":material/check_circle:")
        if not res.get("_shown"):
            st.balloons()
    elif res.get("outcome") == "pending":
        st.info(f"{res.get('message', 'Your payment is being confirmed.')} Your balance updates as soon as "
                "Razorpay confirms it; use \"Check status\" below.", icon=":material/hourglass_top:")
    else:
        st.error(f"The payment did not go through: {res.get('message', 'it was not completed')}. "
                 "No money was added and none was taken from your wallet.", icon=":material/cancel:")
    if sandbox:
        st.caption(ui.SANDBOX_BADGE)
    res["_shown"] = True
    if st.button("Dismiss", key="cb_dismiss", type="tertiary"):
        st.session_state.pop("_callback_result", None)
        st.rerun()

# --- Balance
b = ui.balance_of(uid)
c1, c2, c3 = st.columns(3)
c1.metric("Balance", ui.rupees(b.balance), border=True)
c2.metric("Held for calls", ui.rupees(b.held), border=True,
          help="Reserved while a call is running; the unused part returns when the call ends.")
c3.metric("Available", ui.rupees(b.available), border=True, help="What you can spend on new calls now.")
if b.low:
    st.warning(f"Your available balance is below {ui.rupees(b.low_threshold)}. Calls stop when it runs "
               "out: recharge below to keep your agents talking.", icon=":material/warning:")

# --- Auto-recharge: a section of its own (app_pages/autorecharge_section.py)
from app_pages.autorecharge_section import render as auto_recharge_section  # noqa: E402
auto_recharge_section(db, uid)

# --- Recharge
cfg = ui.app_settings()
min_rs = cfg["min_recharge_paise"] // 100
st.subheader("Recharge")
if sandbox:
    st.markdown(ui.SANDBOX_BADGE)
mode = ui.payment_mode()
if mode == "off":
    st.info("Online payments are not configured on this server yet. Ask an administrator to add funds.")
else:
    with st.form("recharge"):
        choice = st.radio("Amount", ["Rs. 100", "Rs. 500", "Rs. 1,000", "Other amount"], horizontal=True,
                          index=1)
        custom = st.text_input(f"Other amount in rupees (at least Rs. {min_rs})", placeholder="e.g. 250")
        go = st.form_submit_button("Create payment link", type="primary", icon=":material/payments:")
    if go:
        amount = {"Rs. 100": "100", "Rs. 500": "500", "Rs. 1,000": "1000"}.get(choice, custom)
        try:
            link = payments.create_payment_link(db, uid, amount)
        except Exception as exc:
            ui.show_error(exc)
        else:
            st.session_state["_last_link"] = link
            st.session_state.pop("_callback_result", None)
    link = st.session_state.get("_last_link")
    if link:
        st.success(f"Payment link for {ui.rupees(link['amount_paise'])} is ready. Pay on Razorpay's page; "
                   "you come back here when it is done.", icon=":material/link:")
        st.link_button("Pay with Razorpay", link["short_url"], type="primary", icon=":material/open_in_new:")

# --- Payment links
st.subheader("Your payments")
try:
    links = payments.list_links(db, uid, limit=20)
except Exception as exc:
    ui.show_error(exc)
    links = []
if not links:
    st.caption("No payments yet.")
STATUS = {
    "paid": ":green[:material/check_circle: Paid — credited]",
    "created": ":blue[:material/schedule: Waiting for payment]",
    "attempted": ":blue[:material/schedule: Payment attempted — waiting for Razorpay]",
    "creating": ":blue[:material/schedule: Being created]",
    "error_creating": ":orange[:material/sync_problem: Razorpay did not answer — nothing charged]",
    "partially_paid": ":orange[:material/pie_chart: Partly paid]",
    "expired": ":gray[:material/timer_off: Expired — nothing charged]",
    "cancelled": ":gray[:material/block: Cancelled — nothing charged]",
    "not_created": ":gray[:material/block: Not created — nothing charged]",
    "abandoned": ":gray[:material/block: Abandoned — nothing charged]",
}
for ln in links:
    lid = ln["reference_id"]
    with st.container(border=True):
        a, s, c = st.columns([2, 3, 2], vertical_alignment="center")
        when = ln.get("created_at")
        a.markdown(f"**{ui.rupees(ln.get('amount_paise', 0))}**")
        if when:
            a.caption(f"{when:%d %b %Y, %H:%M} UTC")
        status = ln.get("status", "created")
        s.markdown(STATUS.get(status, status))
        if ln.get("credited_paise") and status != "paid":
            s.caption(f"Credited so far: {ui.rupees(ln['credited_paise'])}")
        if status in payments.OPEN:
            if c.button("Check status", key=f"chk_{lid}", icon=":material/refresh:"):
                try:
                    r = payments.reconcile_link(db, lid, user_id=uid)
                except Exception as exc:
                    ui.show_error(exc)
                else:
                    st.session_state["_recon"] = (lid, r)
                    st.rerun()
            if ln.get("short_url") and status in ("created", "attempted", "partially_paid"):
                c.link_button("Pay", ln["short_url"])
    recon = st.session_state.get("_recon")
    if recon and recon[0] == lid:
        r = recon[1]
        got = f" — {ui.rupees(r['credited_paise'])} credited just now" if r.get("credited_paise") else ""
        st.caption(f"Checked with Razorpay: {r.get('outcome') or r.get('status', '')}{got}")
