"""Advances: what each credit lot is for GST, and the tax inside a part of it (docs/documents.md, "The model").

A refundable prepaid balance is an advance for services. Only a `paid` lot (a recharge) is one: its receipt
voucher charged GST when the money was received, under the terms the recharge was made with (the credit
entry's `meta`: mode, rate, GST on top). When part of such a lot is spent (an invoice) or refunded (a refund
voucher), the tax inside that part is computed with THOSE terms, never today's: `gst.compute` of the part.
Free credit (promotional, manual) is a discount: its usage has no value of supply. Any other lot (a failed
refund returned, a balance from before lots) is not covered by an advance: its usage is taxed on the
invoice, inside the amount at the business's rate.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services import clock, ledger
from services.documents import gst, numbering

FREE_KINDS = ("promo", "manual")


@dataclass(frozen=True)
class LotTerms:
    """A lot as GST sees it: `kind` is `advance` (a receipt voucher charged GST on it), `free` or `other`."""
    n: int
    kind: str
    mode: str
    rate_bp: int
    voucher: str = ""       # the receipt voucher's number (an advance)
    voucher_date: str = ""


def lot_terms(db, user_id: str, n: int, biz: dict, cache: dict) -> LotTerms:
    """What lot `n` of `user_id` is (one primary-key read per lot, remembered in `cache`)."""
    key = (user_id, n)
    if key not in cache:
        cache[key] = _read(db, user_id, n, biz)
    return cache[key]


def _read(db, user_id: str, n: int, biz: dict) -> LotTerms:
    entry = ledger.get_entry(db, ledger.entry_id(user_id, n)) if n else None
    lot_kind = ((entry or {}).get("lot") or {}).get("kind", "unknown")
    if lot_kind in FREE_KINDS:
        return LotTerms(n, "free", "off", 0)
    if entry is not None and entry["category"] == "recharge":
        mode, rate, _ = terms(entry, biz)
        if mode != "off":
            doc = db.doc_claims.find_one({"_id": entry["_id"]}) or {}
            number = doc.get("number") or ""
            return LotTerms(n, "advance", mode, rate, number,
                            clock.day_of(entry["created_at"]) if number else "")
    return LotTerms(n, "other", "inclusive", biz["gst_rate_bp"])


def terms(entry: dict, biz: dict) -> tuple[str, int, int | None]:
    """(GST mode, rate, GST charged on top) of a recharge: as fixed when its payment link was made (the
    entry's meta), else the business's mode now, where `exclusive` without a GST charge on record (an order,
    a payment made before the switch) means the tax is inside what was paid."""
    meta = entry.get("meta") or {}
    if meta.get("gst_mode") in gst.MODES:
        mode = meta["gst_mode"]
        return mode, int(meta.get("gst_rate_bp", 0)), int(meta.get("gst_paise", 0)) if mode == "exclusive" else None
    mode = "inclusive" if biz["gst_mode"] == "exclusive" else biz["gst_mode"]
    return mode, biz["gst_rate_bp"], None


def part_tax(t: LotTerms, paise: int, *, intra: bool) -> gst.Tax:
    """The figures of `paise` of wallet money from a lot with terms `t` (a free lot's: all zero)."""
    if t.kind == "free":
        return gst.compute("off", 0, 0, intra=intra)
    return gst.compute(t.mode, t.rate_bp, paise, intra=intra)


def fy_of(day: str) -> str:
    """The financial year of an ISO business day."""
    return numbering.financial_year(date.fromisoformat(day))
