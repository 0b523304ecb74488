"""Recharge and refund documents: a receipt (GST off) or a receipt voucher (Rule 50) for every credited
recharge, a refund voucher (Rule 51, services.documents.vouchers) for every refund debit, and credit notes.

The hook is the ledger, not the payment code: every `recharge` credit is a ledger entry, and `sweep` (the
worker, every tick) issues the document of each one it has not seen, as does `catch_up` for one customer
when they open their documents (so a receipt is there right after its recharge). Numbering is
services.documents.numbering (one number per entry, no gap); the figures are services.documents.gst.

A document is immutable: it snapshots the business details, the customer's billing profile and the
figures when it is issued. A correction is a credit note (`credit_note`) that refers to it.
"""
from __future__ import annotations

import re

from services import clock, ledger
from services.documents import advances, business, gst, numbering, profiles, vouchers
from services.documents.words import rupees_in_words
from services.errors import Conflict, InvalidInput, NotFound
from services.money import format_rupees

DESCRIPTION = "Prepaid wallet recharge for AI voice calls"
TITLES = {"receipt_voucher": "Receipt voucher", "receipt": "Receipt", "credit_note": "Credit note",
          "refund_voucher": "Refund voucher", "tax_invoice": "Tax invoice"}
KINDS = tuple(TITLES)
_SLUG = re.compile(r"^([A-Z0-9]{1,4})[-/](\d{4})[-/](\d{6,7})$")


def slug(number: str) -> str:
    """The number as a URL path segment: `RV/2627/000123` -> `RV-2627-000123`."""
    return number.replace("/", "-")


def number_of(text) -> str:
    """A document number from its slug or itself; InvalidInput if it cannot be one."""
    m = _SLUG.match(text or "") if isinstance(text, str) else None
    if not m:
        raise InvalidInput("A document number looks like RV/2627/000123 (or RV-2627-000123).")
    return "/".join(m.groups())


# ------------------------------------------------------------------------------------------- issue

def issue_for_entry(db, entry: dict) -> dict | None:
    """The document of a recharge credit (issued now if it has none). None while another process is
    issuing it."""
    if entry.get("type") != ledger.CREDIT or entry.get("category") != "recharge":
        raise InvalidInput("Only a recharge gets a receipt or an invoice.")
    biz = business.get(db)
    day = clock.date_of(entry["created_at"])
    fy = numbering.financial_year(day)
    body = _recharge_body(db, entry, biz)
    return numbering.issue(db, entry["_id"], f"inv:{fy}", biz["invoice_prefix"], fy, body)


terms = advances.terms


def _recharge_body(db, entry: dict, biz: dict) -> dict:
    customer = profiles.get_profile(db, entry["user_id"])
    mode, rate, charged = terms(entry, biz)
    supply = customer["state"] or biz["state"]
    tax = gst.compute(mode, rate, int(entry["amount"]), intra=supply == biz["state"] or not biz["state"],
                      charged_gst=charged)
    kind = "receipt" if mode == "off" else "receipt_voucher"
    meta = entry.get("meta") or {}
    source = entry.get("source") or ""
    return {"kind": kind, "title": TITLES[kind], "user_id": entry["user_id"], "entry_id": entry["_id"],
            "payment_id": source if source.startswith("pay_") else "", "reference_id": meta.get("reference_id", ""),
            "date": clock.day_of(entry["created_at"]), "paid_at": entry["created_at"], "issued_at": clock.now(),
            "fy": numbering.financial_year(clock.date_of(entry["created_at"])),
            "business": business.supplier(biz),
            "customer": {k: customer[k] for k in ("name", "address", "state", "state_name", "gstin", "email")},
            "place_of_supply": supply, "place_of_supply_name": gst.state_name(supply),
            "description": DESCRIPTION, "gst": {"mode": mode, "rate_bp": tax.rate_bp, "intra": tax.intra},
            "amounts": gst.amounts(tax), "words": rupees_in_words(tax.total), "refers_to": None,
            "reverse_charge": "No", **_transfer(meta)}


def _transfer(meta: dict) -> dict:
    """A bank transfer's reference (the UTR), mode and payer, as the ledger entry keeps them."""
    if not meta.get("bank_reference"):
        return {}
    return {"bank_transfer": {k: meta.get(k) or "" for k in ("mode", "bank_reference", "payer_name", "payer_account")}}


def credit_note(db, number: str, *, reason: str, by: str, amount: int | None = None) -> dict:
    """A credit note (Section 34) for `amount` paise of the total of tax invoice (or receipt) `number`, the
    whole of what is left of it when None. The original stays as issued; several partial notes may follow
    one another, never crediting more than it was."""
    orig = get_document(db, number)
    if orig["kind"] not in CREDITABLE:
        raise InvalidInput("A credit note corrects a tax invoice (or a receipt); a receipt voucher is reversed "
                           "by the refund voucher of its refund.")
    reason = reason.strip() if isinstance(reason, str) else ""
    if not 3 <= len(reason) <= 300:
        raise InvalidInput("A reason of 3 to 300 characters is required.")
    before = [d for d in db.documents.find({"kind": "credit_note", "refers_to": orig["number"]})]
    left = int(orig["amounts"]["total"]) - sum(int(d["amounts"]["total"]) for d in before)
    amount = left if amount is None else amount
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= left:
        raise InvalidInput(f"A credit note may credit from Rs. 0.01 up to what is left of {orig['number']} "
                           f"({format_rupees(left)}).")
    biz = business.get(db)
    fy = numbering.financial_year(clock.today())
    body = _note_body(orig, amount, reason, by, fy)
    doc = numbering.issue(db, f"cn:{orig['number']}:{len(before) + 1}", f"cn:{fy}", biz["credit_note_prefix"],
                          fy, body)
    if doc is None or int(doc["amounts"]["total"]) != amount:
        raise Conflict("Another credit note of this document was issued at the same moment; look again.")
    return doc


CREDITABLE = ("tax_invoice", "receipt", "invoice")   # `invoice`: a recharge's, issued before receipt vouchers


def _note_body(orig: dict, amount: int, reason: str, by: str, fy: str) -> dict:
    g = orig["gst"]
    if amount == int(orig["amounts"]["total"]):
        figures = dict(orig["amounts"])
    else:  # the tax inside the part credited, at the invoice's rate and split
        figures = gst.amounts(gst.compute("off" if g["mode"] == "off" else "inclusive", g["rate_bp"], amount,
                                          intra=g["intra"]))
    keep = ("user_id", "entry_id", "payment_id", "reference_id", "business", "customer", "place_of_supply",
            "place_of_supply_name", "description", "gst")
    return {k: orig.get(k, "") for k in keep} | {
        "kind": "credit_note", "title": TITLES["credit_note"], "date": clock.today().isoformat(),
        "issued_at": clock.now(), "paid_at": orig["paid_at"], "fy": fy, "refers_to": orig["number"],
        "refers_to_kind": orig["kind"], "refers_to_date": orig["date"], "reason": reason, "by": by,
        "amounts": figures, "words": rupees_in_words(figures["total"]), "reverse_charge": "No"}


# ------------------------------------------------------------------------------------------ sweep

def catch_up(db, user_id: str) -> int:
    """Issue the documents of `user_id`'s recharges and refunds that have none yet. Returns how many were looked at."""
    upto = ledger.get_wallet(db, user_id).entries  # read first: entries after it are looked at next time
    done = db.doc_progress.find_one({"_id": user_id}) or {}
    return _catch_up(db, user_id, int(done.get("n", 0)), upto)[0]


def _catch_up(db, user_id: str, after: int, upto: int) -> tuple[int, bool]:
    """Issue the documents of the recharges numbered above `after`; once all of them up to `upto` (read
    before looking) have one, remember `upto` so they are not looked at again. Returns (recharges looked
    at, whether every one has its document now)."""
    if upto <= after:
        return 0, True
    found = sorted(ledger.entries_after(db, user_id, after, category="recharge")
                   + ledger.entries_after(db, user_id, after, category="refund"), key=lambda e: e["n"])
    complete = True
    for e in found:  # in ledger order: a refund's voucher names the receipt vouchers before it
        if e["type"] == ledger.CREDIT and e["category"] == "recharge":
            doc = issue_for_entry(db, e)
        elif vouchers.is_refund(e):
            doc = vouchers.issue_for_refund(db, e)
        else:
            continue
        if doc is None:
            complete = False  # another process is issuing it: look again next time
    if complete:
        db.doc_progress.update_one({"_id": user_id}, {"$max": {"n": upto}}, upsert=True)
    return len(found), complete


FEED = ":feed"  # doc_progress/:feed: when the last sweep began (less what it left for the next one)


def sweep(db) -> dict:
    """Finish interrupted numbering, then issue the missing document of every recharge in the wallets that
    changed since the last sweep began (services.ledger.feed; the first sweep reads every wallet): the
    worker's step, whose cost follows the wallets that moved, not the customers."""
    out = numbering.recover(db)
    started = clock.now()
    last = (db.doc_progress.find_one({"_id": FEED}) or {}).get("at")
    looked, resume = 0, started
    for c in ledger.changed(db, last):
        if not c.entries:
            continue
        done = int((db.doc_progress.find_one({"_id": c.user_id}) or {}).get("n", 0))
        seen, complete = _catch_up(db, c.user_id, done, c.entries)
        looked += seen
        if not complete and c.updated_at is not None:
            resume = min(resume, c.updated_at)
    db.doc_progress.update_one({"_id": FEED}, {"$set": {"at": resume}}, upsert=True)
    return out | {"recharges_looked_at": looked}


# ----------------------------------------------------------------------------------------- read

def get_document(db, number: str, *, user_id: str | None = None) -> dict:
    """A document by number (or slug); with `user_id`, only that customer's (else NotFound)."""
    doc = db.documents.find_one({"_id": number_of(number)})
    if doc is None or (user_id is not None and doc["user_id"] != user_id):
        raise NotFound("No such document.")
    return _clean(doc)


def credit_notes(db) -> list[dict]:
    """Every credit note issued (the audit log lists them)."""
    return list(db.documents.find({"kind": "credit_note"}))


def list_documents(db, user_id: str) -> list[dict]:
    """A customer's documents, newest first, each with `credited_by` (the credit note that reverses it)."""
    docs = [_clean(d) for d in db.documents.find({"user_id": user_id})]
    notes = {d["refers_to"]: d["number"] for d in docs if d["kind"] == "credit_note"}
    for d in docs:
        d["credited_by"] = notes.get(d["number"])
    return sorted(docs, key=lambda d: (d["issued_at"], d["n"]), reverse=True)


def _clean(doc: dict) -> dict:
    doc = dict(doc)
    for k in ("paid_at", "issued_at"):
        doc[k] = clock.as_utc(doc.get(k))
    doc["amounts"] = {k: int(v) for k, v in doc["amounts"].items()}
    doc["n"] = int(doc["n"])
    return doc
