"""The wallet page's other rails: the customer's own account number (a Razorpay Smart Collect virtual
account), IFSC, beneficiary name and UPI id, each with a copy button, made on first ask; the customer's own
fixed UPI QR code (any amount, any number of times), made on first ask; and a single-use UPI QR code for a
chosen amount."""
import streamlit as st

import app_ui as ui
from services import clock, payments


def bank_transfer_section(db, uid: str) -> None:
    with st.expander("Large top-ups: pay by bank transfer (NEFT, RTGS, IMPS)", icon=":material/account_balance:"):
        acct = payments.existing_bank_account(db, uid)
        if acct is None:
            st.caption("Your own account number: any transfer to it tops up this wallet, the bank's reference "
                       "(UTR) on your receipt.")
            if st.button("Show my account number", key="bt_make", icon=":material/account_balance:"):
                try:
                    acct = payments.bank_account(db, uid)
                except Exception as exc:
                    ui.show_error(exc)
        if acct is None:
            return
        for label, value in (("Account number", acct["account_number"]), ("IFSC", acct["ifsc"]),
                             ("Beneficiary name", acct["name"]), ("UPI id", acct["upi_id"])):
            if value:
                st.caption(label)
                st.code(value, language=None)  # Streamlit's code block carries a copy button
        st.caption("Transfers are credited once the bank reports them (NEFT in batches, IMPS and RTGS within "
                   "minutes). Each transfer must be at least the smallest recharge.")


def upi_qr_section(db, uid: str) -> None:
    with st.expander("Pay by UPI QR code", icon=":material/qr_code_2:"):
        _fixed_qr(db, uid)
        amount = st.text_input("Amount to pay by UPI QR, in rupees", key="qr_amount", placeholder="e.g. 2500")
        if st.button("Make a QR code", key="qr_make", icon=":material/qr_code_2:", disabled=not amount.strip()):
            try:
                st.session_state["_qr"] = payments.create_upi_qr(db, uid, amount)
            except Exception as exc:
                ui.show_error(exc)
        qr = st.session_state.get("_qr")
        if qr:
            st.image(qr["image_url"], width=240)
            st.caption(f"Scan with any UPI app to pay {ui.rupees(qr['amount_paise'])}. The code works once and "
                       f"closes at {clock.fmt(qr['close_by'], '%H:%M')}; the wallet is credited as soon as "
                       "Razorpay confirms the payment.")


def _fixed_qr(db, uid: str) -> None:
    qr = payments.existing_fixed_upi_qr(db, uid)
    if qr is None:
        st.caption("Your own UPI QR code: print it or keep it handy; every payment to it tops up this wallet.")
        if st.button("Show my UPI QR code", key="fqr_make", icon=":material/qr_code_2:"):
            try:
                qr = payments.fixed_upi_qr(db, uid)
            except Exception as exc:
                ui.show_error(exc)
    if qr is None:
        return
    st.image(qr["image_url"], width=240)
    st.caption(f"Your own UPI QR code: scan it with any UPI app (Google Pay, PhonePe, Paytm, BHIM) and enter "
               f"any amount from {ui.rupees(qr['min_amount_paise'])}. Pay it as often as you like; each payment "
               "is credited once Razorpay confirms it. A smaller payment waits for our team to credit it.")
    st.caption("QR code id")
    st.code(qr["qr_code_id"], language=None)
    st.divider()
