"""Product settings with their defaults; every change records who, when, old and new."""
from __future__ import annotations

import re
import uuid

from services import checks, clock
from services.checks import whole_number
from services.errors import InvalidInput, NotFound
from services.money import DEFAULT_MAX_PAISE, parse_rupees

# The longest call anyone may ask for, in minutes (calls and campaigns check requests against it).
MAX_CALL_MINUTES = 240

# The product's rules, in one place.
DEFAULTS = {
    "call_rate_paise": 1000,          # Rs. 10 per minute
    "min_call_balance_paise": 1000,   # Rs. 10 needed to start a call
    "min_recharge_paise": 1000,       # Rs. 10 smallest recharge
    "low_balance_paise": 2000,        # warn below Rs. 20
    "max_amount_paise": DEFAULT_MAX_PAISE,  # Rs. 1,00,000 per operation
    "default_call_minutes": 10,       # a call's hold covers this many minutes unless told otherwise
    "stale_call_minutes": 180,        # a call never ended is released after this long
}
# What an admin may set, and the bounds that keep a typo from becoming a disaster.
_BOUNDS = {
    "call_rate_paise": (1, 100_000),
    "min_call_balance_paise": (0, 1_000_000),
    "min_recharge_paise": (100, 1_000_000),
    "low_balance_paise": (0, 10_000_000),
    "max_amount_paise": (100, 100_000_000),
    "default_call_minutes": (1, MAX_CALL_MINUTES),
    "stale_call_minutes": (5, 10_080),
}
USER_KEYS = ("call_rate_paise", "daily_cap_paise")


def get(db) -> dict:
    doc = db.settings.find_one({"_id": "global"}) or {}
    return {k: int(doc.get(k, v)) for k, v in DEFAULTS.items()}


def set_value(db, name: str, value: int, *, by: str) -> dict:
    """Set one global setting (an int in its own unit). Returns the history record."""
    if name not in _BOUNDS:
        raise InvalidInput(f"Unknown setting {name!r}.")
    lo, hi = _BOUNDS[name]
    whole_number(value, lo, hi, what=name)
    old = get(db)[name]
    db.settings.update_one({"_id": "global"}, {"$set": {name: value}}, upsert=True)
    return _record(db, "global", name, old, value, by)


def set_call_rate(db, rupees_per_minute, *, by: str, user_id: str | None = None) -> dict:
    """Set the per-minute call rate from rupees (`"15"`, `0.5`), globally or for one user.

    `rupees_per_minute=None` with a user_id removes that user's own rate.
    """
    if user_id is not None and rupees_per_minute is None:
        return set_user_value(db, user_id, "call_rate_paise", None, by=by)
    paise = parse_rupees(rupees_per_minute, maximum=_BOUNDS["call_rate_paise"][1], what="Call rate")
    if user_id is None:
        return set_value(db, "call_rate_paise", paise, by=by)
    return set_user_value(db, user_id, "call_rate_paise", paise, by=by)


def set_user_value(db, user_id: str, name: str, value: int | None, *, by: str) -> dict:
    """A per-user override (call rate, daily spend cap); None removes it."""
    if name not in USER_KEYS:
        raise InvalidInput(f"Unknown per-user setting {name!r}.")
    if db.users.find_one({"_id": user_id}, {"_id": 1}) is None:
        raise NotFound(f"No user {user_id!r}.")
    if value is not None:
        whole_number(value, 1, what=name, unit="of paise")
    old = user_overrides(db, user_id).get(name)
    op = {"$set": {name: value}} if value is not None else {"$unset": {name: ""}}
    db.settings.update_one({"_id": f"user:{user_id}"}, op, upsert=True)
    return _record(db, f"user:{user_id}", name, old, value, by)


def user_overrides(db, user_id: str) -> dict:
    doc = db.settings.find_one({"_id": f"user:{user_id}"}) or {}
    return {k: int(doc[k]) for k in USER_KEYS if doc.get(k) is not None}


def call_rate_for(db, user_id: str) -> int:
    """Paise per minute for this user's next call: their own rate if an admin set one, else global."""
    return user_overrides(db, user_id).get("call_rate_paise") or get(db)["call_rate_paise"]


def history(db, limit: int = 50) -> list[dict]:
    docs = list(db.settings_history.find({}).sort("at", -1).limit(limit))
    for d in docs:
        d["at"] = clock.as_utc(d["at"])
    return docs


def _record(db, scope: str, name: str, old, new, by: str) -> dict:
    rec = {"_id": uuid.uuid4().hex, "scope": scope, "name": name, "old": old, "new": new, "by": by,
           "at": clock.now()}
    db.settings_history.insert_many([rec])
    return rec


# ------------------------------------------------------------------------------- business details

# What receipts and GST invoices say about the business (services/documents; docs/documents.md).
BUSINESS_DEFAULTS = {
    "legal_name": "Voice AI Wallet", "address": "", "state": "", "gstin": "", "pan": "",
    "sac": "998419",          # other telecommunication services; editable
    "gst_rate_bp": 1800,      # 18 %, in basis points
    "invoice_prefix": "RV",   # RV/2627/000123: at most 4 letters or digits, so a number stays <= 16 characters
    "credit_note_prefix": "CN",
    "gst_mode": "off",        # off | inclusive | exclusive (how GST applies to a recharge)
}
_BUSINESS_TEXT = {"legal_name": 120, "address": 300, "sac": 8}


def business(db) -> dict:
    """The business details as they stand (defaults for what an admin never set)."""
    doc = db.settings.find_one({"_id": "business"}) or {}
    out = {k: doc.get(k, v) for k, v in BUSINESS_DEFAULTS.items()}
    out["gst_rate_bp"] = int(out["gst_rate_bp"])
    return out


def set_business(db, values: dict, *, by: str) -> dict:
    """Change business details (any subset of BUSINESS_DEFAULTS), checked as a whole: a GST mode other
    than `off` needs the legal name, address, state, a valid GSTIN of that state and its PAN. Every
    changed field is recorded in the history. Returns the details now in force."""
    unknown = set(values) - set(BUSINESS_DEFAULTS)
    if unknown:
        raise InvalidInput(f"Unknown business detail {sorted(unknown)[0]!r}.")
    old = business(db)
    new = _checked_business({**old, **values})
    changed = {k: v for k, v in new.items() if v != old[k]}
    if changed:
        db.settings.update_one({"_id": "business"}, {"$set": changed}, upsert=True)
        for k, v in changed.items():
            _record(db, "business", k, old[k], v, by)
    return new


def _checked_business(b: dict) -> dict:
    from services.documents import gst  # documents read these settings: imported when used, not at load
    out = dict(b)
    for k, most in _BUSINESS_TEXT.items():
        out[k] = checks.text(out[k], what=k.replace("_", " ").capitalize(), most=most).strip()
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
    for k in ("invoice_prefix", "credit_note_prefix"):
        if not isinstance(b[k], str) or not re.fullmatch(r"[A-Z0-9]{1,4}", b[k]):
            raise InvalidInput("A number prefix is 1 to 4 capital letters or digits (e.g. RV).")
    if b["invoice_prefix"] == b["credit_note_prefix"]:
        raise InvalidInput("Invoices and credit notes need different prefixes.")


def _check_ready_for_gst(b: dict) -> None:
    if not (b["legal_name"] and b["address"] and b["state"] and b["gstin"]):
        raise InvalidInput("A tax invoice names the business: set the legal name, address, state and GSTIN "
                           "before turning GST on.")
    if b["gst_rate_bp"] == 0:
        raise InvalidInput("Set a GST rate above 0 % before turning GST on.")
