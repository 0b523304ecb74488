"""Wallet: the balance at a glance (and an amount due, if a refund took more than was left), recharge
through Razorpay, every payment link with its status (a failed attempt with Razorpay's reason and a way to
try again, a way to cancel an unpaid link), and refunds: the refundable part of the balance, a refund
request, and every refund with what it did to the wallet."""
import streamlit as st

import app_ui as ui
from app_pages import documents_ui
from app_pages.lots_ui import lots_section
from services import clock, payments, rates, wallet
from services.payments import charge
from services.errors import WalletError

user = ui.require_role("user")
uid = user["username"]
db = ui.get_db()

st.title("Wallet")
ui.times_note()

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
    if res.get("outcome") in ("credited", "already_credited"):  # one message, whichever path credited it
        st.success(f"Payment received: {ui.rupees(amt)} added to your wallet.", icon=":material/check_circle:")
        if not res.get("_shown"):
            st.balloons()
    elif res.get("outcome") == "pending":
        st.info(f"{res.get('message', 'Your payment is being confirmed.')} Your balance updates as soon as "
                "Razorpay confirms it; this page checks by itself.", icon=":material/hourglass_top:")
    else:
        why = (res.get("message") or "it was not completed").rstrip(". ")
        st.error(f"The payment did not go through: {why}. No money was added and none was taken from your "
                 "wallet.", icon=":material/cancel:")
    res["_shown"] = True
    if st.button("Dismiss", key="cb_dismiss", type="tertiary"):
        st.session_state.pop("_callback_result", None)
        st.rerun()

# --- Balance: drawn here, filled once the recharge form had its say (a link made now is listed below)
ui.show_flash()
top = st.container()

# --- Auto-recharge: a section of its own (app_pages/autorecharge_section.py)
from app_pages.autorecharge_section import render as auto_recharge_section  # noqa: E402
auto_recharge_section(db, uid)

# --- Recharge: the amount picked or typed last is the one the button names and the link charges.
PRESETS = {"Rs. 100": "100", "Rs. 500": "500", "Rs. 1,000": "1000"}
OTHER = "Other amount"
asked = st.query_params.get("recharge")  # "Recharge Rs. X" on the Calls page links here with X
if asked:
    st.session_state.update(rc_choice=OTHER, rc_other=asked[:20])
    del st.query_params["recharge"]
st.session_state.setdefault("rc_choice", "Rs. 500")
min_rs = ui.app_settings()["min_recharge_paise"] // 100
st.subheader("Recharge")
if ui.payment_mode() == "off":
    st.info("Online payments are not configured on this server yet. Ask an administrator to add funds.")
else:
    choice = st.radio("Amount", [*PRESETS, OTHER], horizontal=True, key="rc_choice")
    amount = PRESETS.get(choice) or st.text_input(f"Amount in rupees (at least Rs. {min_rs})", key="rc_other",
                                                  placeholder="e.g. 250")
    paise = None
    if amount.strip():
        try:
            paise = payments.recharge_amount(db, amount)
        except WalletError as exc:
            ui.show_error(exc)
    pays = charge.link_amount(db, paise) if paise else None
    if pays and pays != paise:
        st.caption(f"You pay {ui.rupees(pays)}: {ui.rupees(paise)} for your wallet plus GST.")
    go = st.button(f"Pay {ui.rupees(pays)}" if pays else "Pay", key="rc_go", type="primary",
                   icon=":material/payments:", disabled=paise is None and choice != OTHER)
    if go and not amount.strip():
        st.error("Type the amount in rupees first.", icon=":material/error:")
    elif go and paise is not None:  # an amount refused above stays refused: its error is on screen
        try:
            link = payments.create_payment_link(db, uid, amount)
        except Exception as exc:
            ui.show_error(exc)
        else:
            st.session_state["_last_link"] = link
            st.session_state.pop("_callback_result", None)
    link = st.session_state.get("_last_link")
    if link and link["amount_paise"] == paise:  # a link of another amount than the one picked now: not offered
        st.success(f"Payment link for {ui.rupees(link['amount_paise'])} is ready. Pay on Razorpay's page; "
                   "you come back here when it is done.", icon=":material/link:")
        st.link_button("Pay with Razorpay", link["short_url"], type="primary", icon=":material/open_in_new:")

# --- One read of everything shown
view = payments.wallet_page(db, uid)
b = view.balance
with top:
    c1, c2, c3 = st.columns(3)
    c1.metric("Balance", ui.rupees(b.balance), border=True)
    c2.metric("Held for calls", ui.rupees(b.held), border=True,
              help="Reserved while a call is running (or a refund is on its way); the unused part returns.")
    c3.metric("Available", ui.rupees(b.available), border=True, help="What you can spend on new calls now.")
    if b.due:
        st.error(f"Amount due: {ui.rupees(b.due)}. A refund went back to your bank after that money was "
                 "spent; your next recharge pays this first.", icon=":material/account_balance:")
    if b.low:
        st.warning(f"Your available balance is below {ui.rupees(b.low_threshold)}. Calls stop when it runs "
                   "out: recharge below to keep your agents talking.", icon=":material/warning:")
    for ahead in rates.upcoming(db, uid, limit=2):  # told in advance; a call keeps the rate of its start
        st.info(f"From {ui.when(ahead['effective_at'], '%H:%M on %d %b %Y')} {clock.abbr()} your rate is "
                f"{ahead['description']}.", icon=":material/event:")
    lots_section(wallet.lots(db, uid), b.frozen, wallet.burn_rule_label(db))

# --- Payment links
st.subheader("Your payments")
if not view.links:
    st.caption("No payments yet.")
STATUS = {
    "paid": ":green[:material/check_circle: Paid — credited]",
    "created": ":blue[:material/schedule: Waiting for payment]",
    "attempted": ":blue[:material/schedule: Payment attempted — waiting for Razorpay]",
    "creating": ":blue[:material/schedule: Being created]",
    "error_creating": ":orange[:material/sync_problem: Razorpay did not answer — nothing charged]",
    "partially_paid": ":orange[:material/pie_chart: Partly paid]",
    "review": ":orange[:material/rate_review: Paid at Razorpay — under review, not credited yet]",
    "expired": ":gray[:material/timer_off: Expired — nothing charged]",
    "cancelled": ":gray[:material/block: Cancelled — nothing charged]",
    "not_created": ":gray[:material/block: Not created — nothing charged]",
    "abandoned": ":gray[:material/block: Abandoned — nothing charged]",
}
PAYABLE = ("created", "attempted", "partially_paid")


for ln in view.links:
    lid = ln["reference_id"]
    status = ln.get("status", "created")
    failed = ln.get("last_failed")
    with st.container(border=True):
        a, s, c = st.columns([2, 3, 2], vertical_alignment="center")
        when = ln.get("created_at")
        a.markdown(f"**{ui.rupees(ln.get('amount_paise', 0))}**")
        if when:
            a.caption(ui.when(when))
        s.markdown(STATUS.get(status, status))
        if failed:
            s.markdown(f":red[:material/error: Payment failed: {failed.get('error_description')}]")
            s.caption("Nothing was charged. Try again on the same link, with another method if you like.")
        if ln.get("credited_paise") and status != "paid":
            s.caption(f"Credited so far: {ui.rupees(ln['credited_paise'])}")
        if status in payments.OPEN:
            if ln.get("short_url") and status in PAYABLE:
                c.link_button("Try again" if failed else "Pay", ln["short_url"],
                              type="primary" if failed else "secondary")
            if c.button("Check status", key=f"chk_{lid}", icon=":material/refresh:"):
                try:
                    st.session_state["_recon"] = (lid, payments.reconcile_link(db, lid, user_id=uid))
                except Exception as exc:
                    ui.show_error(exc)
                else:
                    st.rerun()
            if ln.get("kind") == "link" and status in ("created", "attempted") and \
                    c.button("Cancel link", key=f"cxl_{lid}", icon=":material/block:", type="tertiary"):
                try:
                    payments.cancel_link(db, lid, user_id=uid, by=uid)
                except Exception as exc:
                    ui.show_error(exc)
                else:
                    ui.flash(f"Payment link for {ui.rupees(ln['amount_paise'])} cancelled; nothing was charged.")
                    st.rerun()
    recon = st.session_state.get("_recon")
    if recon and recon[0] == lid:
        r = recon[1]
        got = f" — {ui.rupees(r['credited_paise'])} credited just now" if r.get("credited_paise") else ""
        st.caption(f"Checked with Razorpay: {r.get('outcome') or r.get('status', '')}{got}")



# --- While a link is open the page watches it: paid, failed or expired in the other tab (or by Razorpay's
# webhook), the page redraws by itself, sidebar balance included. The watch reads only the links and balance.
def _seen() -> tuple:
    links = payments.list_links(db, uid, limit=20)
    return ui.balance_of(uid), tuple((x["reference_id"], x.get("status"), bool(x.get("last_failed"))) for x in links)


def _watch(seen: tuple) -> None:
    if _seen() != seen:
        st.rerun()


if any(ln.get("status") in payments.OPEN for ln in view.links):
    st.fragment(_watch, run_every=5)(_seen())

# --- Refunds
st.subheader("Refunds")
if view.refundable is not None:
    plan = view.refundable
    st.caption(f"Refundable now: **{ui.rupees(plan.amount_paise)}** — what is left of your recharges of the "
               f"last {plan.window_days} days, not yet refunded or spent (promotional and manual credit is "
               "never refunded). It goes back to the payments it came from, newest first.")
    if plan.amount_paise > 0:
        with st.form("refund", clear_on_submit=True):
            amt = st.text_input("Refund amount in rupees", placeholder=f"up to {plan.amount_paise // 100}")
            ask = st.form_submit_button("Request refund", icon=":material/undo:")
        if ask:
            try:
                got = payments.request_refund(db, uid, amt, key=ui.new_key("refund"))
            except Exception as exc:
                ui.show_error(exc)
            else:
                ui.done_key("refund")
                ui.flash(f"Refund request for {ui.rupees(got['amount_paise'])}: {got['status']}.")
                st.rerun()
REQUEST = {"holding": "Being set aside", "approval": "Waiting for approval", "refunding": "Sent to Razorpay",
           "done": "Refunded", "partly_done": "Partly refunded", "failed": "Not refunded",
           "rejected": "Rejected"}
if view.requests:
    ui.money_table([dict(r, when=ui.when(r['created_at']), state=REQUEST.get(r["status"], r["status"]),
                         why=r.get("reason") or "") for r in view.requests],
                   {"when": "Asked", "amount_paise": "Amount", "refunded_paise": "Refunded",
                    "state": "Status", "why": "Note"})
if view.refunds:
    ui.money_table([dict(r, when=ui.when(r['created_at'])) for r in view.refunds],
                   {"when": "When", "payment_id": "Payment", "amount_paise": "Refund",
                    "debited_paise": "Taken from wallet", "amount_due_paise": "Became due", "status": "Status"})
elif not view.requests:
    st.caption("No refunds.")

# --- Receipts, invoices and statements (app_pages/documents_ui.py)
st.subheader("Receipts and invoices")
documents_ui.receipts(db, uid, key="me")
st.subheader("Monthly statements")
documents_ui.statements(db, uid, key="me")
with st.expander("Billing details on your invoices", icon=":material/badge:"):
    documents_ui.billing_form(db, uid, by=uid, key="me")
