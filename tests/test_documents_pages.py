"""The documents on the dashboard (AppTest): a customer's receipts, statements and billing details on the
Wallet page; the admin's business details and any customer's documents, with credit notes."""
from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from services import documents, ledger
from services.documents import gst
from tests.support.dashboard import ROOT, signed_in, texts

GSTIN_KA = "29AABCV1234K1Z" + gst.check_character("29AABCV1234K1Z")


def recharge(db, user: str, paise: int, n: int = 1) -> dict:
    return ledger.post(db, user, key=f"razorpay:pay_page{n}", type="credit", category="recharge", amount=paise,
                       source=f"pay_page{n}")


def downloads(at) -> list[str]:
    return [e.proto.label for e in at.get("download_button")]


def test_wallet_page_lists_receipts_and_statements_right_after_a_recharge(adb):
    recharge(adb, "asha", 50_000)
    at = signed_in("asha", "user", "wallet")
    md = texts(at.markdown)
    assert "Receipts and invoices" in texts(at.subheader) and "Monthly statements" in texts(at.subheader)
    assert "RV/" in md and "Rs. 500.00" in md
    assert downloads(at).count("PDF") == 1
    assert {"Statement PDF", "Statement CSV"} <= set(downloads(at))
    assert texts(at.caption).count("Times in IST") == 1


def test_billing_details_refuse_a_bad_gstin_then_save(adb):
    at = signed_in("asha", "user", "wallet")
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["GSTIN (optional, for input tax credit)"].input("27AAPFU0939F1ZW")
    at.selectbox(key="billing_state_me").set_value("27")
    at.button(key="FormSubmitter:billing_me-Save billing details").click().run()
    assert "check character" in texts(at.error)
    assert documents.get_profile(adb, "asha")["saved"] is False
    {t.label: t for t in at.text_input}["GSTIN (optional, for input tax credit)"].input("27AAPFU0939F1ZV")
    at.button(key="FormSubmitter:billing_me-Save billing details").click().run()
    assert not at.error, texts(at.error)
    p = documents.get_profile(adb, "asha")
    assert (p["gstin"], p["state"], p["name"]) == ("27AAPFU0939F1ZV", "27", "Asha Rao")


def test_admin_sets_business_details_and_gst(adb):
    at = signed_in("boss", "admin", "admin/business")
    fields = {t.label: t for t in at.text_input}
    fields["GSTIN"].input(GSTIN_KA)
    fields["PAN"].input("AABCV1234K")
    at.text_area[0].input("12 MG Road, Bengaluru")
    at.selectbox[0].set_value("29")
    at.selectbox[1].set_value("998599")      # the SAC: the admin picks it, there is no default
    at.radio[0].set_value("exclusive")
    at.button(key="FormSubmitter:business-Save business details").click().run()
    assert not at.error, texts(at.error)
    b = documents.business.get(adb)
    assert (b["gst_mode"], b["gstin"], b["state"], b["gst_rate_bp"]) == ("exclusive", GSTIN_KA, "29", 1800)
    m = {x.label: x.value for x in at.metric}
    assert m["Payer pays"] == "Rs. 1,180.00" and m["Wallet gets"] == "Rs. 1,000.00" and m["GST"] == "Rs. 180.00"
    # a bad GSTIN is refused, and nothing changes
    {t.label: t for t in at.text_input}["GSTIN"].input("29AABCV1234K1ZZ")
    at.button(key="FormSubmitter:business-Save business details").click().run()
    assert "check character" in texts(at.error) and documents.business.get(adb)["gstin"] == GSTIN_KA


def test_admin_sees_any_customers_documents_and_issues_a_credit_note(adb):
    recharge(adb, "asha", 25_000)
    at = signed_in("boss", "admin", "admin/documents")
    at.text_input(key="adm_docs_user").input("asha").run()
    assert "RV/" in texts(at.markdown) and downloads(at).count("PDF") == 1
    number = documents.list_documents(adb, "asha")[0]["number"]
    at.selectbox[1].set_value(number)
    next(t for t in at.text_input if t.label == "Reason (required)").input("Wrong company name")
    at.button(key="FormSubmitter:credit_note-Issue credit note").click().run()
    assert not at.error, texts(at.error)
    docs = {d["number"]: d for d in documents.list_documents(adb, "asha")}
    assert docs[number]["credited_by"] and docs[docs[number]["credited_by"]]["kind"] == "credit_note"


@pytest.mark.parametrize("page", ["admin/business", "admin/documents"])
def test_the_admin_document_pages_refuse_a_customer(adb, page):
    at = AppTest.from_file(os.path.join(ROOT, "app_pages", f"{page}.py"), default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "asha"
    at.run()
    assert "only" in texts(at.error) and not at.text_input
