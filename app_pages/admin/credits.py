"""Admin credits and refunds: a reviewed, reasoned credit to one wallet, posted once however often
"Confirm" is clicked (the idempotency key lives in the session until the next form)."""
import streamlit as st

import app_ui as ui
from services import wallet
from services.errors import WalletError

CREDIT_KINDS = {"manual_credit": "Manual credit", "promo_credit": "Promotional credit", "refund": "Refund"}

me = ui.admin_page("Credits & refunds")["username"]
db = ui.get_db()


def _form() -> None:
    with st.form("credit_form"):
        who = st.text_input("Username")
        kind = st.selectbox("Kind", list(CREDIT_KINDS), format_func=CREDIT_KINDS.get)
        amount = st.text_input("Amount in rupees", placeholder="e.g. 250 or 99.50")
        reason = st.text_area("Reason (required)", max_chars=300)
        if st.form_submit_button("Review", icon=":material/fact_check:"):
            st.session_state["adm_credit"] = {"user_id": who.strip().lower(), "category": kind,
                                              "amount": amount.strip(), "reason": reason.strip()}
            ui.done_key("credit")  # a new form is a new operation: a fresh idempotency key
            st.rerun()


def _review(pending: dict) -> None:
    with st.container(border=True):
        st.markdown(f"**Confirm:** {CREDIT_KINDS[pending['category']]} of **Rs. {pending['amount']}** to "
                    f"**{pending['user_id']}**")
        st.markdown(f"Reason: {pending['reason']}")
        key = ui.new_key("credit")  # same key across reruns and double clicks: credits once
        ok, cancel = st.columns([1, 4])
        if ok.button("Confirm credit", type="primary", key="credit_confirm"):
            try:
                e = wallet.admin_credit(db, admin=me, key=key, **pending)
            except WalletError as exc:
                ui.show_error(exc)
            else:
                st.session_state["adm_credit_done"] = e
                st.session_state.pop("adm_credit", None)
                ui.invalidate("summary")
                st.rerun()
        if cancel.button("Cancel", key="credit_cancel"):
            st.session_state.pop("adm_credit", None)
            ui.done_key("credit")
            st.rerun()


st.caption("Every credit needs a reason and is recorded with your name in the ledger and the audit log.")
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
