"""Receipts, receipt and refund vouchers, monthly tax invoices, credit notes, GSTR-1 and statements
(docs/documents.md).

- `receipts`    the document of every credited recharge and refund (`issue_for_entry`, `sweep`, `catch_up`),
                credit notes (whole or part of a tax invoice), reading documents
- `advances`    what each credit lot is for GST (an advance, free credit, other) and the tax inside a part of it
- `vouchers`    refund vouchers (Rule 51), one per refund debit that takes an advance back
- `invoices`    the monthly tax invoice per customer (Rule 46), adjusting the advances its usage consumed
- `gstr1`       GSTR-1 of a month as the offline tool's JSON, and a CSV per section
- `signing`     a digital signature (PAdES, pyHanko) on every PDF when the admin configures a DSC
- `numbering`   consecutive numbers per financial year: never reused, never skipped, crash-safe
- `gst`         state codes, GSTIN/PAN checks, THE tax computation (CGST + SGST or IGST, in paise)
- `words`       amounts in words, Indian system (lakh, crore)
- `profiles`    a customer's billing profile (name, address, state, GSTIN)
- `statements`  the monthly statement (agrees with the ledger to the paisa) and its CSV
- `pdf`         PDFs of documents and statements (fpdf2)

- `business`    the business details they carry (`get`, `update`), kept in services.settings' history
"""
from services.documents import business
from services.documents.gst import MODES, STATES, check_gstin, compute, gst_on_top
from services.documents import gstr1, invoices
from services.documents.numbering import financial_year
from services.documents.numbering import recover as recover_numbering
from services.documents.profiles import get_profile, set_profile
from services.documents.receipts import (CREDITABLE, catch_up, credit_note, credit_notes, get_document, issue_for_entry,
                                         list_documents, number_of, slug, sweep, terms)
from services.documents.statements import monthly, parse_month, statement_csv

COLLECTIONS: dict[str, list] = {"documents": [[("date", 1)]], "doc_series": [], "doc_claims": [], "doc_progress": [],
                                "billing_profiles": []}

__all__ = ["CREDITABLE", "MODES", "business", "gstr1", "invoices", "issue_invoices",
           "STATES", "catch_up", "check_gstin", "compute", "credit_note", "credit_notes",
           "document_pdf", "financial_year", "get_document", "get_profile", "gst_on_top", "issue_for_entry",
           "list_documents", "monthly", "number_of", "parse_month", "recover_numbering", "set_profile", "slug",
           "statement_csv", "statement_pdf", "sweep", "terms"]


def document_pdf(doc: dict) -> bytes:
    """The PDF of a document (services.documents.pdf), digitally signed when a DSC is configured
    (services.documents.signing). fpdf2 takes about a second to import: only a process that makes a PDF pays
    for it, not every worker or child that touches payments."""
    from services.documents import pdf, signing
    return signing.sign_if_configured(pdf.document_pdf(doc))


def issue_invoices(db) -> dict:
    """The worker's step: in the first days of a month, every customer's tax invoice for the last one."""
    month = invoices.due_month()
    return invoices.issue_month(db, month) if month else {"invoices": 0}


def statement_pdf(st: dict) -> bytes:
    """The PDF of a monthly statement (services.documents.pdf), imported when first made."""
    from services.documents import pdf
    return pdf.statement_pdf(st)
