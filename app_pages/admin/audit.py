"""Admin ledger audit: every wallet recomputed from its ledger entries, on request."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import ledger

ui.admin_page("Ledger audit")
db = ui.get_db()

st.caption("Recomputes every wallet from its ledger entries. It reads the whole ledger: run it when "
           "you need it, not on every visit.")
if st.button("Run ledger audit", icon=":material/rule:"):
    with st.spinner("Checking every wallet against its ledger…"):
        bad = ledger.audit(db)
    if not bad:
        st.success("Every wallet reconciles with its ledger.", icon=":material/verified:")
    else:
        st.error(f"{len(bad)} wallet(s) do not reconcile.", icon=":material/report:")
        st.dataframe(pd.DataFrame([{"User": b["user_id"], "Balance": ui.rupees(b["balance"]),
                                    "Ledger says": ui.rupees(b["ledger"]), "Problems": "; ".join(b["problems"])}
                                   for b in bad]), hide_index=True, width="stretch")
