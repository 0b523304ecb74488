"""The documents parts that the wallet page (a customer's own) and the admin documents page (any
customer's) both show: the billing profile form, receipts and invoices with their PDFs, monthly
statements as PDF and CSV. Not a page itself (app.py lists the pages)."""
from __future__ import annotations

import json
from datetime import date

import pandas as pd
import streamlit as st

import app_ui as ui
from services import clock, documents, users
from services.errors import WalletError

STATE_CODES = [""] + list(documents.STATES)


def billing_form(db, user_id: str, *, by: str, key: str) -> None:
    """The billing profile: what a customer's invoices name (GSTIN optional, checked)."""
    prof = documents.get_profile(db, user_id)
    with st.form(f"billing_{key}"):
        a, b = st.columns(2)
        name = a.text_input("Billing name", value=prof["name"], max_chars=120)
        gstin = b.text_input("GSTIN (optional, for input tax credit)", value=prof["gstin"], max_chars=20,
                             placeholder="27AAPFU0939F1ZV")
        address = st.text_area("Billing address", value=prof["address"], max_chars=300, height=80)
        state = st.selectbox("State or union territory", STATE_CODES, key=f"billing_state_{key}",
                             index=STATE_CODES.index(prof["state"]) if prof["state"] in STATE_CODES else 0,
                             format_func=lambda c: f"{documents.STATES[c]} ({c})" if c else "Pick one")
        if st.form_submit_button("Save billing details", icon=":material/save:"):
            try:
                documents.set_profile(db, user_id, name=name, address=address, state=state, gstin=gstin, by=by)
            except WalletError as exc:
                ui.show_error(exc)
            else:
                ui.flash("Billing details saved: documents issued from now on carry them.")
                st.rerun()


def receipts(db, user_id: str, *, key: str) -> list[dict]:
    """Every receipt, voucher, invoice and credit note of `user_id`, each downloadable as PDF."""
    try:
        documents.catch_up(db, user_id)  # a recharge a moment ago has its document now
        docs = documents.list_documents(db, user_id)
    except WalletError as exc:
        ui.show_error(exc)
        return []
    if not docs:
        st.caption("No receipts yet: each recharge gets one.")
        return []
    for d in docs[:50]:
        a, b, c = st.columns([3, 3, 2], vertical_alignment="center")
        a.markdown(f"**{d['title']}** `{d['number']}`")
        a.caption((f"Paid {ui.when(d['paid_at'])}" if d["kind"] in ("receipt", "receipt_voucher")
                   else f"Dated {ui.day(d['date'])}")
                  + (f" · reverses {d['refers_to']}" if d.get("refers_to") else "")
                  + (f" · reversed by {d['credited_by']}" if d.get("credited_by") else ""))
        tax = d["amounts"]["tax"]
        b.markdown(f"{ui.rupees(d['amounts']['total'])}" + (f" incl. GST {ui.rupees(tax)}" if tax else ""))
        c.download_button("PDF", data=lambda d=d: documents.document_pdf(d), mime="application/pdf",
                          file_name=f"{documents.slug(d['number'])}.pdf", on_click="ignore",
                          icon=":material/download:", key=f"pdf_{key}_{d['number']}")
    return docs


def months_of(db, user_id: str, most: int = 24) -> list[str]:
    """The months a statement can cover: since the account was opened, newest first."""
    created = users.get(db, user_id).get("created_at")
    first = clock.date_of(created) if created else clock.today()
    today = clock.today()
    out, y, m = [], today.year, today.month
    while len(out) < most and date(y, m, 1) >= date(first.year, first.month, 1):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


def statements(db, user_id: str, *, key: str) -> None:
    """A month picker and the statement's PDF and CSV (built when clicked)."""
    months = months_of(db, user_id)
    month = st.selectbox("Month", months, key=f"st_month_{key}", format_func=_month_label)
    a, b, _ = st.columns([1, 1, 3])
    name = f"statement-{user_id}-{month}"
    a.download_button("Statement PDF", data=lambda: _statement(db, user_id, month, "pdf"), mime="application/pdf",
                      file_name=f"{name}.pdf", on_click="ignore", icon=":material/download:", key=f"st_pdf_{key}")
    b.download_button("Statement CSV", data=lambda: _statement(db, user_id, month, "csv"), mime="text/csv",
                      file_name=f"{name}.csv", on_click="ignore", icon=":material/download:", key=f"st_csv_{key}")


def _statement(db, user_id: str, month: str, kind: str):
    st_ = documents.monthly(db, user_id, month)
    return documents.statement_pdf(st_) if kind == "pdf" else documents.statement_csv(st_)


def _month_label(month: str) -> str:
    y, m = month.split("-")
    return date(int(y), int(m), 1).strftime("%B %Y")


def table(docs: list[dict]) -> None:
    """Documents as one table (admin view)."""
    st.dataframe(pd.DataFrame([{
        "Number": d["number"], "Kind": d["title"], "Date": ui.day(d["date"]),
        "Taxable": ui.rupees(d["amounts"]["taxable"]),
        "GST": ui.rupees(d["amounts"]["tax"]), "Total": ui.rupees(d["amounts"]["total"]),
        "Refers to": d.get("refers_to") or "", "Reversed by": d.get("credited_by") or ""} for d in docs]),
        hide_index=True, width="stretch")


def gstr1_section(db, *, key: str) -> None:
    """GSTR-1 of a month for the business: the offline tool's JSON and a CSV per section (built when clicked)."""
    st.subheader("GSTR-1")
    if not documents.business.get(db)["gstin"]:
        st.caption("GSTR-1 needs the business's GSTIN (Admin → Business & GST).")
        return
    today = clock.today()
    months = [f"{y:04d}-{m:02d}" for y, m in ((today.year - (today.month - i <= 0), (today.month - i - 1) % 12 + 1)
                                              for i in range(12))]
    a, b = st.columns(2)
    month = a.selectbox("Month", months, key=f"gstr1_month_{key}", format_func=_month_label)
    section = b.selectbox("Section (CSV)", documents.gstr1.SECTIONS, key=f"gstr1_section_{key}")
    c, d, _ = st.columns([1, 1, 2])
    c.download_button("GSTR-1 JSON", data=lambda: json.dumps(documents.gstr1.build(db, month), indent=1),
                      mime="application/json", file_name=f"gstr1-{month}.json", on_click="ignore",
                      icon=":material/download:", key=f"gstr1_json_{key}")
    d.download_button("Section CSV", data=lambda: documents.gstr1.section_csv(documents.gstr1.build(db, month),
                                                                             section),
                      mime="text/csv", file_name=f"gstr1-{month}-{section}.csv", on_click="ignore",
                      icon=":material/download:", key=f"gstr1_csv_{key}")
