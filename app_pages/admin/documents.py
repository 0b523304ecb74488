"""Admin customer documents: any customer's receipts, invoices and credit notes (PDF), their monthly
statements (PDF, CSV), their billing details, and credit notes (a correction never edits a document)."""
import streamlit as st

import app_ui as ui
from app_pages import documents_ui
from services import documents, users
from services.errors import WalletError
from services.money import parse_rupees

me = ui.admin_page("Customer documents")["username"]
db = ui.get_db()
ui.times_note()
documents_ui.gstr1_section(db, key="adm")

who = st.text_input("Customer username", key="adm_docs_user").strip().lower()
if not who:
    st.info("Enter a username to see their documents.")
    st.stop()
try:
    users.get(db, who)
except WalletError as exc:
    ui.show_error(exc)
    st.stop()

st.subheader("Receipts and invoices")
docs = documents_ui.receipts(db, who, key="adm")
st.subheader("Monthly statements")
documents_ui.statements(db, who, key="adm")

st.subheader("Issue a credit note")
st.caption("A credit note corrects all or part of a tax invoice (or a receipt), which stays as it was issued; "
           "a receipt voucher is reversed by the refund voucher of its refund.")
open_docs = [d["number"] for d in docs if d["kind"] in documents.CREDITABLE]
with st.form("credit_note"):
    number = st.selectbox("Document", open_docs, index=None, placeholder="Pick a document")
    reason = st.text_input("Reason (required)", max_chars=300)
    part = st.text_input("Amount (Rs., blank: all that is left)", max_chars=16)
    if st.form_submit_button("Issue credit note", icon=":material/undo:"):
        try:
            amount = parse_rupees(part, what="Credit note amount") if part.strip() else None
            cn = documents.credit_note(db, number or "", reason=reason, by=me, amount=amount)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            ui.flash(f"Credit note {cn['number']} issued against {cn['refers_to']}.")
            st.rerun()

with st.expander("Billing details", icon=":material/badge:"):
    documents_ui.billing_form(db, who, by=me, key="adm")
