"""Admin auto-recharge: every mandate (current and replaced) with its state, and every auto-charge with its
outcome and Razorpay's ids."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import autorecharge, clock, names

ui.admin_page("Auto-recharge")
db = ui.get_db()

mandates = autorecharge.all_mandates(db)
charges = autorecharge.all_charges(db)
m = st.columns(3)
m[0].metric("Active mandates", f"{sum(1 for x in mandates if x['state'] == 'active'):,}", border=True)
m[1].metric("Auto-charges credited", f"{sum(1 for c in charges if c['state'] == 'credited'):,}", border=True)
m[2].metric("Failed", f"{sum(1 for c in charges if c['state'] == 'failed'):,}", border=True)

st.subheader("Mandates")
if not mandates:
    st.caption("No mandates yet.")
else:
    st.dataframe(pd.DataFrame([{
        f"Set up ({clock.abbr()})": ui.when(x["created_at"]), "User": x["user_id"], "No.": x["no"],
        "State": names.label(names.MANDATE_STATE, x["state"]), "Method": names.label(names.MANDATE_METHOD, x["method"]),
        "Threshold": ui.rupees(x["threshold_paise"]),
        "Top-up": ui.rupees(x["amount_paise"]), "Monthly cap": ui.rupees(x["monthly_cap_paise"]),
        "Daily cap": ui.rupees(x["daily_cap_paise"]) if x["daily_cap_paise"] else "Not set",
        "Token": x["token_id"] or "—",
        "Token status": names.label({}, x["token_status"]) or "—", "Why": x["reason"] or ""} for x in mandates]),
        hide_index=True, width="stretch")

st.subheader("Auto-charges")
if not charges:
    st.caption("No auto-charges yet.")
else:
    st.dataframe(pd.DataFrame([{
        f"Planned ({clock.abbr()})": ui.when(c["created_at"]), "User": c["user_id"], "Try": c["attempt"],
        "Amount": ui.rupees(c["amount_paise"]), "Outcome": names.label(names.CHARGE_STATE, c["state"]),
        "Credited": ui.rupees(c["credited_paise"]),
        f"Debit from ({clock.abbr()})": ui.when(c["debit_at"]) if c["debit_at"] else "—",
        "Order": c["order_id"] or "—", "Payment": c["payment_id"] or "—", "Reason": c["reason"] or ""}
        for c in charges]), hide_index=True, width="stretch")
