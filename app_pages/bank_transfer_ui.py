"""The wallet page's bank-transfer section: the customer's own account number (a Razorpay Smart Collect
virtual account), IFSC, beneficiary name and UPI id, each with a copy button. Made on first ask."""
import streamlit as st

import app_ui as ui
from services import payments


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
