"""The business behind the documents: legal name, address, state, GSTIN, PAN, SAC, the GST rate and mode,
the number prefixes. What receipts and GST invoices say about the supplier (docs/documents.md).

Stored as the `business` scope of services.settings (changes recorded in its history, as every setting's
are); checked here, as a whole, because only documents know what a valid GSTIN or state is.
"""
from __future__ import annotations

import re

from services import checks, settings
from services.checks import whole_number
from services.documents import gst
from services.errors import InvalidInput

SCOPE = "business"

# What receipts and GST invoices say about the business (services/documents; docs/documents.md).
BUSINESS_DEFAULTS = {
    "legal_name": "Voice AI Wallet", "address": "", "state": "", "gstin": "", "pan": "",
    "sac": "",                # the admin picks one of SAC_CANDIDATES (docs/documents.md): no default
    "gst_rate_bp": 1800,      # 18 %, in basis points
    "invoice_prefix": "RV",   # RV/2627/000123: at most 4 letters or digits, so a number stays <= 16 characters
    "credit_note_prefix": "CN",
    "tax_invoice_prefix": "TI",      # the monthly usage invoice
    "refund_voucher_prefix": "RF",
    "signatory": "",                 # who signs as "Authorised signatory" (Rule 46(q))
    "gst_mode": "off",        # off | inclusive | exclusive (how GST applies to a recharge)
}
_BUSINESS_TEXT = {"legal_name": 120, "address": 300, "sac": 8, "signatory": 80}
PREFIXES = ("invoice_prefix", "credit_note_prefix", "tax_invoice_prefix", "refund_voucher_prefix")

# The SACs an AI voice-calling service might be filed under (India Compliance's hsn_codes.json; no ruling
# found, so the admin picks; 998419 is for telecom licensees, which this business is not). docs/documents.md.
SAC_CANDIDATES = {
    "998315": "Hosting and IT infrastructure provisioning services",
    "998319": "Other information technology services n.e.c.",
    "998423": "Fax, telephony over the Internet",
    "998424": "Audio conferencing and video conferencing over the Internet",
    "998593": "Telephone-based support services",
    "998599": "Other support services n.e.c.",
    "998412": "Fixed telephony services (a licensee's)",
    "998413": "Mobile telecommunications services (a licensee's)",
    "998419": "Other telecommunications services (a licensee's)",
}


def get(db) -> dict:
    """The business details as they stand (defaults for what an admin never set)."""
    doc = settings.fields(db, SCOPE)
    out = {k: doc.get(k, v) for k, v in BUSINESS_DEFAULTS.items()}
    out["gst_rate_bp"] = int(out["gst_rate_bp"])
    return out


# What a receipt needs to say who issued it; a default install has none of them.
NEEDED_ON_RECEIPTS = ("legal_name", "address", "state", "gstin", "pan", "sac", "signatory")


def missing(db) -> list[str]:
    """The business details a receipt needs and does not have yet (names.SETTING keys), in form order:
    empty when receipts name the business in full. The admin home says so until then."""
    biz = get(db)
    return [k for k in NEEDED_ON_RECEIPTS if not biz[k] or (k == "legal_name" and biz[k] ==
                                                            BUSINESS_DEFAULTS["legal_name"])]


def update(db, values: dict, *, by: str) -> dict:
    """Change business details (any subset of BUSINESS_DEFAULTS), checked as a whole: a GST mode other
    than `off` needs the legal name, address, state, a valid GSTIN of that state and its PAN. Every
    changed field is recorded in the history. Returns the details now in force."""
    unknown = set(values) - set(BUSINESS_DEFAULTS)
    if unknown:
        raise InvalidInput(f"Unknown business detail {sorted(unknown)[0]!r}.")
    old = get(db)
    new = _checked_business({**old, **values})
    settings.set_fields(db, SCOPE, {k: v for k, v in new.items() if v != old[k]}, old, by=by)
    return new


def _checked_business(b: dict) -> dict:
    out = dict(b)
    for k, most in _BUSINESS_TEXT.items():
        out[k] = checks.text(out[k], what=k.replace("_", " ").capitalize(), most=most,
                             lines=k == "address").strip()  # an address has lines
    whole_number(out["gst_rate_bp"], 0, 4000, what="GST rate", unit="of basis points (1800 = 18 %)")
    _check_prefixes(out)
    if out["gst_mode"] not in gst.MODES:
        raise InvalidInput(f"GST mode must be one of {', '.join(gst.MODES)}.")
    out["state"] = gst.check_state(out["state"], what="Business state") if out["state"] else ""
    out["gstin"] = gst.check_gstin(out["gstin"], state=out["state"] or None) if out["gstin"] else ""
    out["pan"] = gst.check_pan(out["pan"]) if out["pan"] else ""
    if out["gstin"] and out["pan"] and out["gstin"][2:12] != out["pan"]:
        raise InvalidInput("The PAN must be the one inside the GSTIN (its characters 3 to 12).")
    if out["gst_mode"] != "off":
        _check_ready_for_gst(out)
    return out


def _check_prefixes(b: dict) -> None:
    for k in PREFIXES:
        if not isinstance(b[k], str) or not re.fullmatch(r"[A-Z0-9]{1,4}", b[k]):
            raise InvalidInput("A number prefix is 1 to 4 capital letters or digits (e.g. RV).")
    if len({b[k] for k in PREFIXES}) != len(PREFIXES):
        raise InvalidInput("Receipt vouchers, tax invoices, refund vouchers and credit notes need different "
                           "prefixes.")


def _check_ready_for_gst(b: dict) -> None:
    if not (b["legal_name"] and b["address"] and b["state"] and b["gstin"]):
        raise InvalidInput("A tax invoice names the business: set the legal name, address, state and GSTIN "
                           "before turning GST on.")
    if b["gst_rate_bp"] == 0:
        raise InvalidInput("Set a GST rate above 0 % before turning GST on.")
    if not re.fullmatch(r"99\d{4}", b["sac"]):
        raise InvalidInput("Pick the SAC code of the service (6 digits starting 99) before turning GST on.")


def supplier(biz: dict) -> dict:
    """What every document says about the business that issues it (Rule 46 (a), (q))."""
    return {k: biz[k] for k in ("legal_name", "address", "state", "gstin", "pan", "sac", "signatory")} | {
        "state_name": gst.state_name(biz["state"])}
