"""Admin credits and refunds: a reviewed, reasoned credit to one wallet, checked as it is typed (an
unknown user or a bad amount never reaches the review), posted once however often "Confirm" is clicked
(the idempotency key lives in the session until the next form); free credit may expire and name a campaign.
Below: free credit to a list (CSV), voiding a grant, the order lots are spent in (app_pages/grants_ui.py); and
the customers' refund requests waiting for approval (and whether they must wait). Each credit, void and
decision is in the Audit log page."""
from datetime import datetime, time

import streamlit as st

import app_ui as ui
from app_pages import grants_ui
from services import clock, names, payments, settings, wallet
from services.errors import WalletError
from services.money import to_rupees

CREDIT_KINDS = {"manual_credit": "Manual credit", "promo_credit": "Promotional credit", "refund": "Refund"}
FIELDS = ("user_id", "category", "amount", "reason")

me = ui.admin_page("Credits & refunds")["username"]
db = ui.get_db()


def _problem(problems: dict, field: str, typed: str) -> None:
    """A field's problem under it, once something was typed there (or Review was pressed)."""
    if field in problems and (typed.strip() or st.session_state.get("cr_tried")):
        st.caption(f":red[:material/error: {problems[field].message}]")


def _expiry():
    """The expiry typed (a wall-clock time in the business zone), or None."""
    day = st.session_state.get("cr_exp_day")
    if day is None or st.session_state.get("cr_kind", "manual_credit") not in wallet.GRANT_CATEGORIES:
        return None
    return datetime.combine(day, st.session_state.get("cr_exp_time") or time(23, 59))


def _form() -> None:
    who = st.text_input("Customer's username", key="cr_user")
    r = wallet.review_credit(db, user_id=who, amount=st.session_state.get("cr_amount", ""),
                             category=st.session_state.get("cr_kind", "manual_credit"),
                             reason=st.session_state.get("cr_reason", ""), expires_at=_expiry(),
                             campaign=st.session_state.get("cr_campaign", ""))
    if r.name is not None:  # who it goes to, as soon as the username is right
        st.caption(f":material/person: **{r.name}** · balance {ui.rupees(r.balance)}")
    _problem(r.problems, "user_id", who)
    kind = st.selectbox("Kind", list(CREDIT_KINDS), format_func=CREDIT_KINDS.get, key="cr_kind")
    amount = st.text_input("Amount in rupees", placeholder="e.g. 250 or 99.50", key="cr_amount")
    _problem(r.problems, "amount", amount)
    if r.amount is not None and "amount" not in r.problems:
        st.caption(f"= {ui.rupees(r.amount)}")
    if kind in wallet.GRANT_CATEGORIES:
        a, b, c = st.columns(3)
        day = a.date_input("Expires on (optional)", value=None, key="cr_exp_day", format="DD/MM/YYYY")
        b.time_input(f"at ({clock.abbr()})", value=time(23, 59), key="cr_exp_time", step=60)
        camp = c.text_input("Campaign (optional)", max_chars=32, key="cr_campaign", placeholder="e.g. diwali-2026")
        _problem(r.problems, "expires_at", "x" if day else "")
        _problem(r.problems, "campaign", camp)
    reason = st.text_area("Reason (required)", max_chars=300, key="cr_reason")
    _problem(r.problems, "reason", reason)
    if st.button("Review", icon=":material/fact_check:", key="cr_review"):
        st.session_state["cr_tried"] = True
        if r.ok:  # only a credit whose every value is valid reaches the review
            st.session_state["adm_credit"] = r
            ui.done_key("credit")  # a new form is a new operation: a fresh idempotency key
        st.rerun()


def _review(r: wallet.CreditReview) -> None:
    with st.container(border=True):
        st.markdown(f"**Confirm:** {CREDIT_KINDS[r.category]} of **{ui.rupees(r.amount)}** to **{r.name}** "
                    f"(`{r.user_id}`), whose balance is {ui.rupees(r.balance)} now and "
                    f"{ui.rupees(r.balance + r.amount)} after.")
        st.markdown(f"Reason: {r.reason}")
        if r.expires_at or r.campaign:
            st.markdown(("What is left of it expires on " + ui.when(r.expires_at) + f" {clock.abbr()}. "
                         if r.expires_at else "") + (f"Campaign: {r.campaign}." if r.campaign else ""))
        key = ui.new_key("credit")  # same key across reruns and double clicks: credits once
        ok, cancel = st.columns([1, 4])
        if ok.button("Confirm credit", type="primary", key="credit_confirm"):
            try:
                e = wallet.admin_credit(db, admin=me, key=key, user_id=r.user_id, amount=to_rupees(r.amount),
                                        category=r.category, reason=r.reason, expires_at=r.expires_at,
                                        campaign=r.campaign)
            except WalletError as exc:
                ui.show_error(exc)
            else:
                st.session_state["adm_credit_done"] = e
                st.session_state.pop("adm_credit", None)
                for k in ("cr_user", "cr_amount", "cr_reason", "cr_tried", "cr_exp_day", "cr_campaign"):
                    st.session_state.pop(k, None)
                ui.invalidate("summary")
                st.rerun()
        if cancel.button("Back to the form", key="credit_cancel"):
            st.session_state.pop("adm_credit", None)
            st.session_state.update(cr_user=r.user_id, cr_kind=r.category, cr_amount=str(to_rupees(r.amount)),
                                    cr_reason=r.reason, cr_campaign=r.campaign)  # the form again as it was
            if r.expires_at:
                st.session_state.update(cr_exp_day=clock.date_of(r.expires_at),
                                        cr_exp_time=clock.local(r.expires_at).time())
            ui.done_key("credit")
            st.rerun()


ui.show_flash()
st.caption("Every credit needs a reason and is recorded with your name in the ledger and on the Audit log page.")
pending = st.session_state.get("adm_credit")
if pending is None:
    _form()
else:
    _review(pending)
done = st.session_state.get("adm_credit_done")
if done:
    st.success(f"Credited {ui.rupees(done['amount'])} to {done['user_id']} "
               f"({CREDIT_KINDS.get(done['category'], done['category'])}); their balance is now "
               f"{ui.rupees(done['balance_after'])}.", icon=":material/check_circle:")

st.divider()
grants_ui.grant_list(db, me)
grants_ui.void_grant(db, me)
grants_ui.burn_order(db, me)

# --- Refund requests waiting for a decision
st.subheader("Refund approvals")
waiting, approval_required = payments.approvals(db)
need = st.toggle("Self-serve refunds wait for an admin's approval", value=approval_required, key="refund_approval")
if need != approval_required:
    settings.set_value(db, "refund_approval_required", int(need), by=me)
    ui.invalidate("settings")
    ui.flash("Refund requests " + ("now wait for approval." if need else "now go to Razorpay at once."))
    st.rerun()
if not waiting:
    st.caption("No refund request is waiting.")
for r in waiting:
    with st.container(border=True):
        a, b, c = st.columns([3, 1, 1], vertical_alignment="center")
        a.markdown(f"**{r['user_id']}** asks for **{ui.rupees(r['amount_paise'])}** back to "
                   f"{ui.plural(len(r['parts']), 'payment')} · {ui.when(r['created_at'])}")
        a.caption(" · ".join(f"{ui.rupees(p['amount_paise'])} of payment {p['payment_id']}" for p in r["parts"]))
        decision = None
        if b.button("Approve", key=f"ok_{r['request_id']}", type="primary"):
            decision = payments.approve_refund_request
        if c.button("Reject", key=f"no_{r['request_id']}"):
            decision = payments.reject_refund_request
        if decision:
            try:
                done = decision(db, r["request_id"], by=me)
            except Exception as exc:
                ui.show_error(exc)
            else:
                ui.flash(f"Refund request of {r['user_id']}: "
                         f"{ui.lower_first(names.label(names.REFUND_REQUEST, done['status']))}.")
                st.rerun()
