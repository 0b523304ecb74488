"""TDS on fees for technical services (section 194J of the Income-tax Act, 1961; section 393 of the
Income-tax Act, 2025, from April 2026): a customer marked as deducting TDS pays net of it on any rail. The
wallet gets the cash at once (the rail's own credit); the deducted part is *TDS receivable*, credited only
when the customer's Form 16A for that quarter is verified by an admin, once per certificate and never more
than the quarter's outstanding TDS. After the cut-off (CLAIM_CUTOFF after the financial year ends) what is
unclaimed is reported as lapsed, not credited.

Owner of `tds_customers` (_id = user id: the rate), `tds_receivables` (_id = the recharge's ledger entry
id: what that payment implies was deducted) and `tds_certificates` (_id = `<user>:<certificate number>`,
the PDF kept). The deduction of a payment of cash C at rate r is the part of the gross G = C / (1 - r)
that the customer kept: Rs. 98,000 at 2 % is a Rs. 1,00,000 recharge with Rs. 2,000 deducted.
"""
from __future__ import annotations

from datetime import date

from bson import Binary

from services import auditlog, clock, ledger, users
from services.db import insert_new
from services.errors import Conflict, InvalidInput, NotFound

COLLECTIONS = {"tds_customers": [], "tds_receivables": [[("user_id", 1), ("quarter", 1)]],
               "tds_certificates": [[("user_id", 1), ("quarter", 1)], [("status", 1)]]}

DEFAULT_RATE_BP = 200           # 2 %: section 194J(1)(b), fees for technical services
MAX_RATE_BP = 1000              # 10 %, the professional-fees rate: anything above is a typo
MAX_PDF_BYTES = 2 * 1024 * 1024
# Form 16A for the year's last quarter is due by mid-June; claims for a financial year close at the end of
# the following September (month, day), after which unclaimed TDS is only reported.
CLAIM_CUTOFF = (9, 30)
SUBMITTED, VERIFIED, REJECTED = "submitted", "verified", "rejected"


# ------------------------------------------------------------------------------------------ quarters

def quarter_of(day: date) -> str:
    """The Indian financial-year quarter of a day: "2026-27 Q3" for 1 Oct-31 Dec 2026."""
    start = day.year if day.month >= 4 else day.year - 1
    q = (day.month - 4) // 3 + 1 if day.month >= 4 else 4
    return f"{start}-{(start + 1) % 100:02d} Q{q}"


def check_quarter(text) -> str:
    ok = isinstance(text, str) and len(text) == 10 and text[4] == "-" and text[7:9] == " Q" and \
        text[:4].isdigit() and text[5:7].isdigit() and text[9] in "1234" and \
        (int(text[:4]) + 1) % 100 == int(text[5:7])
    if not ok:
        raise InvalidInput("A quarter reads like 2026-27 Q3 (Q1 April-June ... Q4 January-March).")
    return text


def claim_closes(quarter: str) -> date:
    """The last day a certificate for `quarter` may still be credited."""
    return date(int(quarter[:4]) + 1, *CLAIM_CUTOFF)


# ------------------------------------------------------------------------------------------ customers

def set_customer(db, user_id: str, rate_bp: int | None) -> dict:
    """Mark a customer as deducting TDS at `rate_bp` basis points (None: no longer deducting)."""
    users.get(db, user_id)
    if rate_bp is None:
        db.tds_customers.delete_one({"_id": user_id})
        return {"user_id": user_id, "rate_bp": None}
    if isinstance(rate_bp, bool) or not isinstance(rate_bp, int) or not 1 <= rate_bp <= MAX_RATE_BP:
        raise InvalidInput(f"The TDS rate is 1 to {MAX_RATE_BP} basis points (200 = 2 %).")
    db.tds_customers.update_one({"_id": user_id}, {"$set": {"rate_bp": rate_bp, "since": clock.now()}}, upsert=True)
    return {"user_id": user_id, "rate_bp": rate_bp}


def rate_of(db, user_id: str) -> int | None:
    doc = db.tds_customers.find_one({"_id": user_id})
    return int(doc["rate_bp"]) if doc else None


def deducted(cash: int, rate_bp: int) -> int:
    """Paise deducted from a payment of `cash` paise net of TDS at `rate_bp` (integers, half up)."""
    return (cash * rate_bp * 2 + (10_000 - rate_bp)) // (2 * (10_000 - rate_bp))


# ------------------------------------------------------------------------------------------ receivable

def sweep(db) -> int:
    """Record the TDS receivable of every recharge credit of a TDS customer since they were marked, once per
    entry (the worker runs it; any number of times). Returns how many were recorded now."""
    made = 0
    for cust in db.tds_customers.find({}):
        since = clock.as_utc(cust.get("since"))
        for entry in ledger.iter_entries(db, user_id=cust["_id"], type="credit", category="recharge", start=since):
            made += note(db, entry, int(cust["rate_bp"]))
    return made


def note(db, entry: dict, rate_bp: int) -> bool:
    cash = int(entry["amount"])
    day = clock.date_of(entry["created_at"])
    return insert_new(db.tds_receivables, {"_id": entry["_id"], "user_id": entry["user_id"],
                                           "quarter": quarter_of(day), "cash_paise": cash, "rate_bp": rate_bp,
                                           "tds_paise": deducted(cash, rate_bp), "payment": entry.get("source"),
                                           "at": entry["created_at"]})


# ------------------------------------------------------------------------------------------ Form 16A

def submit(db, user_id: str, *, quarter: str, certificate: str, amount_paise: int, pdf: bytes) -> dict:
    """The customer's Form 16A for a quarter: kept (PDF too) for an admin to verify."""
    check_quarter(quarter)
    certificate = str(certificate or "").strip().upper()
    if not (certificate.isalnum() and 4 <= len(certificate) <= 20):
        raise InvalidInput("The certificate number is 4 to 20 letters and digits, as printed on Form 16A.")
    if isinstance(amount_paise, bool) or not isinstance(amount_paise, int) or amount_paise <= 0:
        raise InvalidInput("The TDS amount on the certificate must be more than zero.")
    if not isinstance(pdf, (bytes, bytearray)) or not bytes(pdf).startswith(b"%PDF-") or len(pdf) > MAX_PDF_BYTES:
        raise InvalidInput("Upload the Form 16A as a PDF of at most 2 MB.")
    users.get(db, user_id)
    doc = {"_id": f"{user_id}:{certificate}", "user_id": user_id, "quarter": quarter, "certificate": certificate,
           "amount_paise": amount_paise, "pdf": Binary(bytes(pdf)), "status": SUBMITTED, "submitted_at": clock.now(),
           "verified_by": None, "credited_paise": 0}
    if not insert_new(db.tds_certificates, doc):
        raise Conflict("That certificate was uploaded already.")
    return public(doc)


def verify(db, cert_id: str, *, by: str, today: date | None = None) -> dict:
    """An admin checked the certificate (TRACES, 26AS): the quarter's outstanding TDS, up to its amount,
    reaches the wallet, once (the ledger key is the certificate's)."""
    doc = db.tds_certificates.find_one({"_id": cert_id}) if isinstance(cert_id, str) else None
    if doc is None:
        raise NotFound("No such certificate.")
    if doc["status"] == REJECTED:
        raise Conflict("This certificate was rejected.")
    if (today or clock.today()) > claim_closes(doc["quarter"]):
        raise Conflict(f"Claims for {doc['quarter'][:7]} closed on {claim_closes(doc['quarter']):%d %b %Y}: "
                       "the TDS is reported, not credited.")
    key = f"tds:{cert_id}"
    entry = ledger.find_entry(db, key)
    if entry is None:
        # what other certificates left outstanding: the same for every racing verify of this one
        amount = min(int(doc["amount_paise"]), outstanding(db, doc["user_id"], doc["quarter"], besides=cert_id))
        if amount <= 0:
            raise Conflict("Nothing of that quarter's TDS is waiting for a certificate.")
        entry = ledger.post(db, doc["user_id"], key=key, type="credit", category="adjustment", amount=amount,
                            source=doc["certificate"], note=f"TDS {doc['quarter']}: Form 16A {doc['certificate']}",
                            meta={"tds_certificate": cert_id, "quarter": doc["quarter"]}, lot={"kind": "paid"})
    auditlog.record_once(db, f"tds:{cert_id}", actor=by, action="tds_verified", target=doc["user_id"],
                         detail=f"Form 16A {doc['certificate']} for {doc['quarter']}: {int(entry['amount'])} paise")
    db.tds_certificates.update_one({"_id": cert_id}, {"$set": {"status": VERIFIED, "verified_by": by,
                                                                "credited_paise": int(entry["amount"])}})
    return public(db.tds_certificates.find_one({"_id": cert_id}) or doc)


def reject(db, cert_id: str, *, by: str, reason: str) -> dict:
    res = db.tds_certificates.update_one({"_id": cert_id, "status": SUBMITTED},
                                         {"$set": {"status": REJECTED, "verified_by": by, "reason": reason[:300]}})
    if res.matched_count == 0:
        raise Conflict("Only a submitted certificate can be rejected.")
    return public(db.tds_certificates.find_one({"_id": cert_id}) or {})


def credited(db, user_id: str, quarter: str, besides: str | None = None) -> int:
    return sum(int(c["credited_paise"]) for c in db.tds_certificates.find({"user_id": user_id, "quarter": quarter})
               if c["_id"] != besides)


def outstanding(db, user_id: str, quarter: str, besides: str | None = None) -> int:
    owed = sum(int(r["tds_paise"]) for r in db.tds_receivables.find({"user_id": user_id, "quarter": quarter}))
    return owed - credited(db, user_id, quarter, besides)


def public(doc: dict) -> dict:
    return {k: doc.get(k) for k in ("user_id", "quarter", "certificate", "amount_paise", "status", "verified_by",
                                    "credited_paise")} | {"id": doc.get("_id")}


# ------------------------------------------------------------------------------------------ report

def report(db, *, user_id: str | None = None, today: date | None = None) -> list[dict]:
    """Per customer and quarter: deducted, verified (credited), outstanding, and whether claims are closed
    (outstanding TDS of a closed quarter is lapsed: reported, never credited)."""
    flt = {"user_id": user_id} if user_id else {}
    rows: dict = {}
    for r in db.tds_receivables.find(flt):
        row = rows.setdefault((r["user_id"], r["quarter"]), {"deducted_paise": 0, "payments": 0})
        row["deducted_paise"] += int(r["tds_paise"])
        row["payments"] += 1
    day = today or clock.today()
    out = []
    for (uid, quarter), row in sorted(rows.items()):
        verified = credited(db, uid, quarter)
        left = row["deducted_paise"] - verified
        closed = day > claim_closes(quarter)
        out.append({"user_id": uid, "quarter": quarter, "payments": row["payments"],
                    "deducted_paise": row["deducted_paise"], "verified_paise": verified,
                    "outstanding_paise": 0 if closed else left, "lapsed_paise": left if closed else 0,
                    "claims_close": claim_closes(quarter)})
    return out
