"""Refund vouchers (CGST Rule 51): one for every refund that takes an advance back out of the wallet.

The hook is the ledger, as for receipt vouchers: every refund (Razorpay webhook, reconciliation, self-serve,
admin) debits the wallet once per refund id, as one `refund` entry whose lot parts say which recharges it
took back. The voucher is numbered once per entry (services.documents.numbering: claimed by the entry id,
so duplicate webhooks and a `kill -9` at any step give one voucher and no gap), and names, per part, the
receipt voucher of that advance and the GST inside the part under the terms of that recharge
(services.documents.advances). In `exclusive` mode that GST was paid on top of the wallet money, so the
voucher's total is the wallet money plus its GST: what goes back to the payer.

Parts from money that carried no GST (a recharge made while GST was off, free credit, a balance from before
lots) carry none here; a refund made only of those gets no voucher (nothing to reduce).
"""
from __future__ import annotations

from services import clock, ledger
from services.documents import advances, business, gst, numbering, profiles
from services.documents.words import rupees_in_words

DESCRIPTION = "Refund of an advance for AI voice calls (prepaid wallet)"
NOTHING = {"kind": "none"}   # a refund without GST in it: nothing to issue


def is_refund(entry: dict) -> bool:
    return entry.get("type") == ledger.DEBIT and entry.get("category") == "refund" and int(entry["amount"]) > 0


def issue_for_refund(db, entry: dict) -> dict | None:
    """The refund voucher of a refund debit (issued now if it has none); NOTHING when the refunded money
    carried no GST; None while another process is issuing it."""
    biz = business.get(db)
    body = _body(db, entry, biz)
    if body is None:
        return NOTHING
    fy = body["fy"]
    return numbering.issue(db, entry["_id"], f"rf:{fy}", biz["refund_voucher_prefix"], fy, body)


def _body(db, entry: dict, biz: dict) -> dict | None:
    uid = entry["user_id"]
    customer = profiles.get_profile(db, uid)
    supply = customer["state"] or biz["state"]
    intra = supply == biz["state"] or not biz["state"]
    cache: dict = {}
    lines = []
    for n, paise in ledger.lot_parts(entry.get("lots")):
        t = advances.lot_terms(db, uid, n, biz, cache)
        if t.kind != "advance":
            continue
        tax = gst.compute(t.mode, t.rate_bp, paise, intra=intra)
        lines.append({"receipt_voucher": t.voucher, "receipt_voucher_date": t.voucher_date, "mode": t.mode,
                      "rate_bp": t.rate_bp, **gst.amounts(tax)})
    if not lines:
        return None
    total = gst.add(*lines)
    meta = entry.get("meta") or {}
    day = clock.day_of(entry["created_at"])
    return {"kind": "refund_voucher", "title": "Refund voucher", "user_id": uid, "entry_id": entry["_id"],
            "payment_id": meta.get("payment_id") or "", "refund_id": entry.get("source") or "",
            "reference_id": meta.get("reference_id") or "", "date": day, "paid_at": entry["created_at"],
            "issued_at": clock.now(), "fy": advances.fy_of(day), "business": business.supplier(biz),
            "customer": {k: customer[k] for k in ("name", "address", "state", "state_name", "gstin", "email")},
            "place_of_supply": supply, "place_of_supply_name": gst.state_name(supply), "description": DESCRIPTION,
            "gst": {"mode": lines[0]["mode"], "rate_bp": lines[0]["rate_bp"], "intra": intra},
            "lines": lines, "amounts": total, "words": rupees_in_words(total["total"]),
            "refers_to": lines[0]["receipt_voucher"], "refers_to_date": lines[0]["receipt_voucher_date"],
            "reverse_charge": "No"}
