"""What a payer is charged for a recharge: its amount, plus GST when the business charges GST on top
(`exclusive` in the business details, services.documents.business). The payments package's one contact with GST.

A recharge record keeps `amount_paise` = what the wallet gets, and `gst` = {mode, rate_bp, paise} as
they were when its payment link was made; Razorpay is asked for `charged(record)` = amount + paise, and
the GST terms ride into the credit's ledger entry (`entry_meta`) for its invoice (services.documents).
"""
from __future__ import annotations

from services.documents import business, profiles
from services.documents.gst import compute, gst_on_top, wallet_part as _wallet_part


def record_fields(db, amount_paise: int) -> dict:
    """What a new recharge record of `amount_paise` carries about GST: nothing while GST is off (records
    stay as they always were), else {"gst": its terms}."""
    terms = terms_for(db, amount_paise)
    return {} if terms["mode"] == "off" else {"gst": terms}


def check_recipient(db, user_id: str, amount_paise: int) -> None:
    """Before a recharge is asked for: with GST on, one of Rs. 50,000 or more of taxable value by an
    unregistered customer needs their billing name, address and state first (Rule 46(e))."""
    t = terms_for(db, amount_paise)
    if t["mode"] != "off":
        taxable = compute(t["mode"], t["rate_bp"], amount_paise, intra=True).taxable
        profiles.check_recipient(db, user_id, taxable)


def terms_for(db, amount_paise: int) -> dict:
    """The GST terms of a new recharge of `amount_paise` (paise = 0 unless charged on top)."""
    biz = business.get(db)
    mode, rate = biz["gst_mode"], int(biz["gst_rate_bp"])
    return {"mode": mode, "rate_bp": rate if mode != "off" else 0,
            "paise": gst_on_top(amount_paise, rate) if mode == "exclusive" else 0}


def link_amount(db, amount_paise: int) -> int:
    """What the payment link of a recharge of `amount_paise` will ask the payer for."""
    return amount_paise + terms_for(db, amount_paise)["paise"]


def gst_of(rec: dict) -> int:
    """GST charged on top on this record (0: none)."""
    return int((rec.get("gst") or {}).get("paise", 0))


def charged(rec: dict) -> int:
    """What Razorpay charges for this record: the recharge plus any GST on top."""
    return int(rec["amount_paise"]) + gst_of(rec)


def entry_meta(rec: dict, wallet: int | None = None, paid: int | None = None) -> dict:
    """The GST terms for the credit's ledger entry ({} for a record without: GST off). A part payment of
    `paid` crediting `wallet` carries the GST inside it, not the whole record's."""
    g = rec.get("gst")
    if not g:
        return {}
    gst = int(g["paise"])
    if wallet is not None and paid is not None and wallet != int(rec["amount_paise"]) and gst:
        gst = paid - wallet
    return {"gst_mode": g["mode"], "gst_rate_bp": int(g["rate_bp"]), "gst_paise": gst}


def wallet_part(rec: dict, paid: int) -> int:
    """The wallet's part of `paid` paise charged on this record: all of it, unless GST was charged on top,
    then what is left once the GST inside it is taken out (a whole payment's is exactly the amount; a part
    payment's is its proportion). Also the wallet's part of a refund of the payment."""
    g = rec.get("gst") or {}
    return _wallet_part(paid, int(g.get("rate_bp", 0))) if int(g.get("paise", 0)) else paid


def with_gst(rec: dict, wallet: int) -> int:
    """What the payer gets back when `wallet` paise of this record's credit are refunded: the GST charged on
    top of them too (the business no longer owes it: the refund voucher reduces it)."""
    g = rec.get("gst") or {}
    return wallet + gst_on_top(wallet, int(g["rate_bp"])) if int(g.get("paise", 0)) else wallet
