"""Admin payments: failed payments, suspicious callbacks (a bad signature, another user's payment) and
webhooks that match no payment link."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import payments

ui.admin_page("Payments")
ui.times_note()
db = ui.get_db()
KIND = {"failed": "Failed", "suspicious": "Suspicious", "unmatched": "Unmatched webhook"}

st.subheader("Failed and suspicious payments")
try:
    failed = payments.failed_payments(db, limit=100)
except Exception as exc:  # shown with a reference, the page stays up
    ui.show_error(exc)
    failed = []
if not failed:
    st.success("No failed or suspicious payments.", icon=":material/verified:")
else:
    st.dataframe(pd.DataFrame([{
        "When": ui.when(f.get("at")),
        "Kind": KIND.get(f["kind"], f["kind"]), "User": f.get("user_id") or "",
        "Amount": ui.rupees(f.get("amount_paise")), "Reason": f.get("reason", ""),
        "Times": f.get("count", 1),
        "Reference": f.get("payment_id") or f.get("payment_link_id") or f.get("reference_id") or ""}
        for f in failed]), hide_index=True, width="stretch")
