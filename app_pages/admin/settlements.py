"""Admin: what reached the bank. A day's Razorpay settlement reconciliation (each payment and refund
matched to its wallet entry, Razorpay's fee and GST on it, each settlement's UTR and amount, anything
unmatched) with its CSV; bank transfers held for a decision, released here; the TDS report per customer
and quarter."""
from datetime import timedelta

import pandas as pd
import streamlit as st

import app_ui as ui
from services import clock, payments, tds
from services.payments import settlements, transfers

admin = ui.admin_page("Settlements")
db = ui.get_db()

st.subheader("Settlements")
day = st.date_input("Settled on", value=clock.today() - timedelta(days=1), max_value=clock.today(),
                    key="setl_day")
doc = payments.settlement_report(db, day)
if st.button("Fetch from Razorpay now", key="setl_fetch", icon=":material/sync:"):
    try:
        doc = payments.reconcile_settlements(db, day)
    except Exception as exc:
        ui.show_error(exc)
if doc is None:
    st.info("That day is not reconciled yet: the worker does it the day after; or fetch it now.")
else:
    for s in doc["settlements"]:
        st.caption(f"Settlement {s['id']}: {ui.rupees(s['amount_paise'])} to the bank, UTR {s['utr']} "
                   f"(fees {ui.rupees(s['fees_paise'])}, GST on fees {ui.rupees(s['tax_paise'])})")
    if doc["unmatched"]:
        st.error(f"{doc['unmatched']} item(s) settled by Razorpay match nothing in the wallet.",
                 icon=":material/report:")
    else:
        st.success("Every settled payment and refund matches its wallet entry.", icon=":material/verified:")
    st.dataframe(pd.DataFrame([{"Type": r["type"], "Razorpay id": r["entity_id"], "Customer": r["user_id"] or "",
                                "Amount": ui.rupees(r["amount_paise"]), "Fee": ui.rupees(r["fee_paise"]),
                                "GST on fee": ui.rupees(r["tax_paise"]), "UTR": r["settlement_utr"],
                                "Status": r["status"]} for r in doc["rows"]]), hide_index=True, width="stretch")
    st.download_button("Download CSV", settlements.csv_text(doc), file_name=f"settlements-{doc['day']}.csv",
                       mime="text/csv", icon=":material/download:")

st.subheader("Bank transfers and UPI QR payments held for you")
held = transfers.held(db)
if not held:
    st.caption("None: every bank transfer and fixed-QR payment so far reached its wallet.")
for t in held:
    cols = st.columns([4, 1])
    cols[0].markdown(f"**{ui.rupees(t['amount_paise'])}** to {t['user_id']} by {t['mode']} (UTR "
                     f"{t['bank_reference']}) from {t['payer_name'] or 'an unnamed payer'}: {t['reason']}")
    if cols[1].button("Credit it", key=f"rel_{t['_id']}"):
        try:
            transfers.release(db, t["_id"], by=admin["username"])
        except Exception as exc:
            ui.show_error(exc)
        else:
            st.rerun()

st.subheader("TDS by customer and quarter")
rows = tds.report(db)
if rows:
    st.dataframe(pd.DataFrame([{"Customer": r["user_id"], "Quarter": r["quarter"],
                                "Deducted": ui.rupees(r["deducted_paise"]), "Verified": ui.rupees(r["verified_paise"]),
                                "Outstanding": ui.rupees(r["outstanding_paise"]),
                                "Lapsed": ui.rupees(r["lapsed_paise"])} for r in rows]),
                 hide_index=True, width="stretch")
else:
    st.caption("No customer deducts TDS yet.")
