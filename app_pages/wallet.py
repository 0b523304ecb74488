"""Wallet: the outcome of the payment just made first (back from Razorpay, whatever the way back), then the
balance (and an amount due, if a refund took more than was left) with Recharge right under it, every
payment with its status (a failed attempt with Razorpay's reason and a way to try again, a way to cancel
an unpaid link), auto-recharge, refunds (one plain status per request, the payments it went to named),
and documents. Every payment message names what the payer pays and what reaches the wallet."""
import streamlit as st

import app_ui as ui
from app_pages import documents_ui
from app_pages.bank_transfer_ui import bank_transfer_section, upi_qr_section
from app_pages.lots_ui import lots_section
from services import clock, names, payments, rates, usage, wallet
from services.payments import charge
from services.errors import WalletError

acct = ui.customer_page("balance")
uid = acct.account  # the wallet is the chosen account's; the role there decides what this page offers
db = ui.get_db()

st.title("Wallet")

# --- The payment callback: Razorpay redirects here with razorpay_* parameters after a payment.
params = {k: st.query_params[k] for k in st.query_params.keys()}
if any(k.startswith("razorpay_") for k in params) and acct.may("pay"):
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

outcome = st.container()  # the payment just made: the first thing on the page, drawn once everything is read
ui.show_flash()
top = st.container()      # the balance: drawn here, filled once the recharge form had its say

# --- Recharge, right under the balance. The picker's default is the widget's own (`index`), never a
# value pushed through session_state: a run that reaches the browser before an earlier one then shows the
# same amount the server computes, so the picked amount and the Pay button are one state in every order
# of runs. "Recharge Rs. X" links (Calls page) start a fresh picker with X as its default.
PRESETS = {"Rs. 100": "100", "Rs. 500": "500", "Rs. 1,000": "1000"}
OTHER = "Other amount"
OPTIONS = [*PRESETS, OTHER]
asked = st.query_params.get("recharge")
if asked:
    st.session_state["_rc_gen"] = st.session_state.get("_rc_gen", 0) + 1
    st.session_state["_rc_asked"] = asked[:20]
    del st.query_params["recharge"]
gen = st.session_state.get("_rc_gen", 0)
prefill = st.session_state.get("_rc_asked") if gen else None
suffix = f"_{gen}" if gen else ""
min_rs = ui.app_settings()["min_recharge_paise"] // 100
st.subheader("Recharge")
if not acct.may("pay"):
    st.caption("Recharges are made by the account's owners and finance team.")
elif ui.payment_mode() == "off":
    st.info("Online payments are not configured on this server yet. Ask an administrator to add funds.")
else:
    choice = st.radio("Amount", OPTIONS, index=OPTIONS.index(OTHER) if prefill else 1, horizontal=True,
                      key="rc_choice" + suffix)
    amount = PRESETS.get(choice) or st.text_input(f"Amount in rupees (at least Rs. {min_rs})", value=prefill or "",
                                                  key="rc_other" + suffix, placeholder="e.g. 250")
    paise = None
    if amount.strip():
        try:
            paise = payments.recharge_amount(db, amount)
        except WalletError as exc:
            ui.show_error(exc)
    pays = charge.link_amount(db, paise) if paise else None
    if pays:
        st.caption(f"You pay {ui.pay_words(pays, paise)}.")
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
        charged = link.get("charged_paise", link["amount_paise"])
        st.success(f"Payment link for {ui.rupees(charged)} is ready — {ui.split_words(charged, paise)}. Pay on "
                   "Razorpay's page; you come back here when it is done.", icon=":material/link:")
        st.link_button("Pay with Razorpay", link["short_url"], type="primary", icon=":material/open_in_new:")
    bank_transfer_section(db, uid)
    upi_qr_section(db, uid)

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
                 "spent, or a monthly fee (a rented number) found the balance short; your next recharge pays "
                 "this first.", icon=":material/account_balance:")
    if b.low:
        st.warning(f"Your available balance is below {ui.rupees(b.low_threshold)}. Calls stop when it runs "
                   "out: recharge below to keep your agents talking.", icon=":material/warning:")


# --- The payment just made: the redirect's answer, else the latest recharge if it moved in the last minutes
# (Razorpay's "Back to the merchant" after a failure brings no parameters).
def _dismiss(ref: str | None) -> None:
    if st.button("Dismiss", key="cb_dismiss", type="tertiary"):
        st.session_state.pop("_callback_result", None)
        st.session_state.setdefault("_dismissed", set()).add(ref)
        st.rerun()


with outcome:
    res = st.session_state.get("_callback_result")
    latest = view.latest
    made_here = (st.session_state.get("_last_link") or {}).get("reference_id")
    if latest and (latest["reference_id"] in st.session_state.get("_dismissed", set()) or
                   (latest["state"] == "waiting" and latest["reference_id"] == made_here)):
        latest = None  # dismissed, or the link made right here, offered under Recharge
    if res:  # kept until dismissed: the browser reruns the page right after a callback
        if res.get("outcome") in ("credited", "already_credited"):  # one message, whichever path credited it
            st.success(ui.received(res.get("charged_paise") or res.get("amount_paise") or 0,
                                   res.get("amount_paise") or 0), icon=":material/check_circle:")
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
        _dismiss(latest and latest["reference_id"])
    elif latest:
        words = ui.pay_words(latest["charged_paise"], latest["amount_paise"])
        if latest["state"] == "paid":
            st.success(ui.received(latest["charged_paise"], latest["credited_paise"]), icon=":material/check_circle:")
        elif latest["state"] == "failed":
            st.error(f"Your payment of {words} did not go through. Razorpay says: “{latest['reason']}” Nothing was "
                     "taken and nothing was added to your wallet.", icon=":material/cancel:")
        elif latest["state"] == "pending":
            st.info(f"Your payment of {words} is being confirmed by Razorpay. Your balance updates as soon as it "
                    "is; this page checks by itself.", icon=":material/hourglass_top:")
        else:
            st.info(f"Your payment link for {words} is waiting for your payment.", icon=":material/schedule:")
        a, d = st.columns([1, 4], vertical_alignment="center")
        if latest["state"] in ("failed", "waiting") and latest["short_url"]:
            a.link_button("Try again" if latest["state"] == "failed" else "Pay", latest["short_url"], type="primary",
                          icon=":material/refresh:" if latest["state"] == "failed" else ":material/payments:")
        with d:
            _dismiss(latest["reference_id"])

for ahead in rates.upcoming(db, uid, limit=2):  # told in advance; a call keeps the rate of its start
    st.info(f"From {ui.when(ahead['effective_at'], '%H:%M on %d %b %Y')} {clock.abbr()} your rate is "
            f"{ahead['description']}.", icon=":material/event:")
for ch in usage.prices.upcoming_for(db, uid)[:2]:  # a service the account used in 90 days or subscribes to
    st.info(f"From {ui.when(ch['at'], '%H:%M on %d %b %Y')} {clock.abbr()} {ch['display_name']} costs "
            f"{ch['description']}.", icon=":material/event:")

# --- What is left of each credit and when it expires, in the order it is spent (app_pages/lots_ui.py)
lots_section(wallet.lots(db, uid), b.frozen, wallet.burn_rule_label(db))

# --- Payments
st.subheader("Your payments")
ui.times_note()
if not view.links:
    st.caption("No payments yet.")
ICON = {"paid": ":green[:material/check_circle: {}]", "created": ":blue[:material/schedule: {}]",
        "attempted": ":blue[:material/schedule: {}]", "creating": ":blue[:material/schedule: {}]",
        "error_creating": ":orange[:material/sync_problem: {}]", "partially_paid": ":orange[:material/pie_chart: {}]",
        "review": ":orange[:material/rate_review: {}]"}
PAYABLE = ("created", "attempted", "partially_paid")


def _status(ln: dict) -> str:
    status = ln.get("status", "created")
    auto = ln.get("purpose") == "auto_recharge"
    label = names.label(names.AUTO_PAYMENT_STATUS if auto and status in names.AUTO_PAYMENT_STATUS
                        else names.PAYMENT_STATUS, status)
    return ICON.get(status, ":gray[:material/block: {}]").format(label)


for ln in view.links:
    lid = ln["reference_id"]
    status = ln.get("status", "created")
    failed = ln.get("last_failed")
    auto = ln.get("purpose") == "auto_recharge"
    with st.container(border=True):
        a, s, c = st.columns([2, 3, 2], vertical_alignment="center")
        made = ln.get("created_at")
        a.markdown(f"**{ui.rupees(ln['charged_paise'])}**")
        if ln["charged_paise"] != ln["amount_paise"]:
            a.caption(f"{ui.rupees(ln['amount_paise'])} for your wallet + {ui.rupees(ln['gst_paise'])} GST")
        if made:
            a.caption(ui.when(made))
        if auto:
            s.caption(":material/autorenew: Auto-recharge top-up, debited from your mandate (see Auto-recharge below)")
        elif ln.get("purpose") == "mandate":
            s.caption(":material/autorenew: The auto-recharge mandate's authorisation payment")
        s.markdown(_status(ln))
        if failed:
            s.markdown(f":red[:material/error: The last try did not go through.] Razorpay says: "
                       f"“{failed.get('error_description')}”")
            s.caption("Nothing was charged. Try again on the same link, with another method if you like.")
        if ln.get("credited_paise") and status != "paid":
            s.caption(f"Credited so far: {ui.rupees(ln['credited_paise'])}")
        if status in payments.OPEN and acct.may("pay"):
            if ln.get("short_url") and status in PAYABLE and not auto:
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
                    payments.cancel_link(db, lid, user_id=uid, by=acct.actor)
                except Exception as exc:
                    ui.show_error(exc)
                else:
                    ui.flash(f"Payment link for {ui.pay_words(ln['charged_paise'], ln['amount_paise'])} cancelled; "
                             "nothing was charged.")
                    st.rerun()
    recon = st.session_state.get("_recon")
    if recon and recon[0] == lid:
        r = recon[1]
        got = f" — {ui.rupees(r['credited_paise'])} credited just now" if r.get("credited_paise") else ""
        st.caption(f"Checked with Razorpay: {names.label(names.PAYMENT_STATUS, r.get('status'))}{got}")


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

# --- Auto-recharge: a section of its own (app_pages/autorecharge_section.py)
from app_pages.autorecharge_section import render as auto_recharge_section  # noqa: E402
if acct.may("autorecharge:read"):
    auto_recharge_section(db, uid, can_change=acct.may("autorecharge:write"))

# --- Refunds
if acct.may("refunds:read"):
    st.subheader("Refunds")
if view.refundable is not None and acct.may("refunds:read"):
    plan = view.refundable
    st.caption(f"Refundable now: **{ui.rupees(plan.amount_paise)}** — what is left of your recharges of the "
               f"last {plan.window_days} days, not yet refunded or spent (promotional and manual credit is "
               "never refunded). It goes back to the payments it came from, newest first.")
    if plan.amount_paise > 0 and acct.may("refunds:request"):
        with st.form("refund", clear_on_submit=True):
            amt = st.text_input("Refund amount in rupees", placeholder=f"up to {ui.rupees(plan.amount_paise)}")
            ask = st.form_submit_button("Request refund", icon=":material/undo:")
        if ask:
            try:
                got = payments.request_refund(db, uid, amt, key=ui.new_key("refund"))
            except Exception as exc:
                ui.show_error(exc)
            else:
                ui.done_key("refund")
                ui.flash(f"Refund request for {ui.rupees(got['amount_paise'])}: "
                         f"{ui.lower_first(names.label(names.REFUND_REQUEST, got['status']))}.")
                st.rerun()


def _went_to(parts: list[dict]) -> str:
    return "; ".join(f"{ui.rupees(p['amount_paise'])} to your {ui.rupees(p['recharge_paise'])} payment of "
                     f"{ui.day(clock.date_of(p['paid_at']))}" if p["paid_at"] else
                     f"{ui.rupees(p['amount_paise'])} to payment {p['payment_id']}" for p in parts)


REFUND_ICON = {"refunded": ":green[:material/check_circle: {}]", "on_its_way": ":blue[:material/schedule: {}]",
               "failed": ":red[:material/cancel: {}]", "rejected": ":red[:material/cancel: {}]",
               "partly_refunded": ":orange[:material/pie_chart: {}]"}
for r in view.refund_rows if acct.may("refunds:read") else []:  # one request, one status, on a phone too
    with st.container(border=True):
        a, s_ = st.columns([2, 5], vertical_alignment="center")
        a.markdown(f"**{ui.rupees(r['amount_paise'])}**")
        a.caption(f"Asked {ui.when(r['at'])}")
        s_.markdown(REFUND_ICON.get(r["status"], ":blue[:material/pending: {}]").format(
            names.label(names.REFUND_REQUEST, r["status"])))
        part = f" · {ui.rupees(r['refunded_paise'])} reached your bank" if r["status"] == "partly_refunded" else ""
        s_.caption(f"Back to: {_went_to(r['to'])}{part}" + (f" · {r['note']}" if r["note"] else ""))
if not view.refund_rows and acct.may("refunds:read"):
    st.caption("No refunds.")

# --- Receipts, invoices and statements (app_pages/documents_ui.py)
if acct.may("documents"):
    st.subheader("Receipts and invoices")
    documents_ui.receipts(db, uid, key="me")
    st.subheader("Monthly statements")
    documents_ui.statements(db, uid, key="me")
if acct.may("pay"):
    with st.expander("Billing details on your invoices", icon=":material/badge:"):
        documents_ui.billing_form(db, uid, by=acct.actor, key="me")
