"""Admin business details: what receipts and GST invoices say about the business, and how GST applies to
a recharge (off, inclusive, exclusive). Every change is recorded in the settings history."""
import streamlit as st

import app_ui as ui
from services import documents, names
from services.documents import gst
from services.errors import WalletError
from services.money import parse_rupees

me = ui.admin_page("Business & GST")["username"]
db = ui.get_db()

biz = documents.business.get(db)  # fresh: this page is where it changes
codes = [""] + list(documents.STATES)
st.caption("Documents already issued keep the details they were issued with; a change applies to the next one.")
with st.form("business"):
    a, b = st.columns(2)
    legal = a.text_input("Legal name", value=biz["legal_name"], max_chars=120)
    state = b.selectbox("State", codes, index=codes.index(biz["state"]) if biz["state"] in codes else 0,
                        format_func=lambda c: f"{documents.STATES[c]} ({c})" if c else "Pick one")
    address = st.text_area("Address", value=biz["address"], max_chars=300, height=80)
    c, d, e = st.columns(3)
    gstin = c.text_input("GSTIN", value=biz["gstin"], max_chars=20)
    pan = d.text_input("PAN", value=biz["pan"], max_chars=12)
    sacs = [""] + list(documents.business.SAC_CANDIDATES)
    sac = e.selectbox("SAC code", sacs, index=sacs.index(biz["sac"]) if biz["sac"] in sacs else 0,
                      format_func=lambda c: f"{c} {documents.business.SAC_CANDIDATES[c]}" if c else "Pick one")
    signatory = st.text_input("Authorised signatory (name printed on every document)", value=biz["signatory"],
                              max_chars=80)
    f, g, h, i, j = st.columns(5)
    rate = f.text_input("GST rate (%)", value=gst.rate_text(biz["gst_rate_bp"]).rstrip("%"))
    prefixes = {k: col.text_input(names.SETTING[k], value=biz[k], max_chars=4)
                for k, col in zip(documents.business.PREFIXES, (g, h, i, j), strict=True)}
    mode = st.radio("GST on a recharge", list(gst.MODES), index=list(gst.MODES).index(biz["gst_mode"]),
                    format_func=gst.MODE_LABELS.get, horizontal=True)
    if st.form_submit_button("Save business details", type="primary", icon=":material/save:"):
        try:
            # A rate of "18" or "12.5" percent is read as rupees would be: exact hundredths, never a float.
            rate_bp = parse_rupees(rate or "0", allow_zero=True, maximum=4000, what="GST rate")
            documents.business.update(db, {"legal_name": legal, "address": address, "state": state, "gstin": gstin,
                                       "pan": pan, "sac": sac, "gst_rate_bp": rate_bp, "signatory": signatory,
                                       "gst_mode": mode}
                                       | {k: v.strip().upper() for k, v in prefixes.items()}, by=me)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            ui.flash("Business details saved.")
            st.rerun()

example = gst.compute(biz["gst_mode"], biz["gst_rate_bp"], 100_000, intra=True)
st.subheader("A Rs. 1,000.00 recharge now")
m = st.columns(4)
m[0].metric("Payer pays", ui.rupees(example.total), border=True)
m[1].metric("Wallet gets", ui.rupees(example.wallet), border=True)
m[2].metric("Taxable value", ui.rupees(example.taxable), border=True)
m[3].metric("GST", ui.rupees(example.tax), border=True)
