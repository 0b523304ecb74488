"""Tax invoices (CGST Rule 46): one per customer per business month for what was supplied in it (calls,
campaign calls, other services: one line each, with its share of the taxable value and GST), adjusting the
advances the usage consumed so no GST is charged twice.

Every usage debit records the lots it drew from (services.ledger). Summed per lot over the month:
- a lot whose recharge had a receipt voucher with GST is an **advance**: the usage it paid is supplied now,
  and its tax is the tax inside that much of the advance under the recharge's own terms
  (services.documents.advances), which the receipt voucher already charged: the invoice shows it and
  adjusts it (`adjusted`, per receipt voucher), nothing more is payable;
- promotional or manual credit is a **discount**: no value of supply (`discount`);
- any other lot (a balance from before lots, a failed refund returned, a recharge made while GST was off)
  is taxed here, inside the amount at the business's rate: `payable` is the GST of the invoice not covered
  by advances.
Figures are computed once per lot (not per call), so the adjustment of each advance is exact.

The worker issues last month's invoices in the first days of a month (`issue_month`); `issue` makes one on
demand for any closed month. One invoice per customer and month: the claim is `ti:{user}:{month}`
(services.documents.numbering, so a kill at any step leaves no gap and no second invoice).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from services import clock, ledger, usage
from services.documents import advances, business, gst, numbering, profiles, receipts, statements
from services.documents.words import rupees_in_words
from services.errors import InvalidInput, NotFound

USAGE_LABELS = {"call": "AI voice calls", "campaign": "Campaign calls"}
ISSUE_BY_DAY = 5      # the worker issues last month's invoices on days 1-5 of a month
NOTHING = {"kind": "none"}


def claim_key(user_id: str, month: str) -> str:
    return f"ti:{user_id}:{month}"


def issue(db, user_id: str, month: str) -> dict | None:
    """The tax invoice of `user_id` for `month` (YYYY-MM, closed), issued now if it has none. NOTHING when
    GST is off or the month had no taxable usage; None while another process is issuing it."""
    year, mon = statements.parse_month(month)
    start, end = clock.month_span(year, mon)
    if end > clock.now():
        raise InvalidInput(f"{month} has not ended yet: its invoice is issued once the month is over.")
    done = db.doc_claims.find_one({"_id": claim_key(user_id, month)})
    if done and done.get("number"):
        return db.documents.find_one({"_id": done["number"]})
    biz = business.get(db)
    if biz["gst_mode"] == "off":
        return NOTHING
    receipts.catch_up(db, user_id)  # every advance it adjusts has its receipt voucher (and number) first
    body = _body(db, user_id, month, start, end, biz)
    if body is None:
        return NOTHING
    fy = body["fy"]
    return numbering.issue(db, claim_key(user_id, month), f"ti:{fy}", biz["tax_invoice_prefix"], fy, body)


def issue_month(db, month: str) -> dict:
    """Every customer's invoice for `month` (the worker's step). Remembers a month once all are issued."""
    if (db.doc_progress.find_one({"_id": f"ti:{month}"}) or {}).get("done"):
        return {"invoices": 0}
    issued, complete = 0, True
    # A wallet with usage in the month changed after it began: the ledger's feed gives those, through its
    # index, not every wallet (a quiet platform's first ticks of a month cost what its active customers do).
    start, _ = clock.month_span(*statements.parse_month(month))
    for uid in sorted({c.user_id for c in ledger.changed(db, start)}):
        doc = issue(db, uid, month)
        complete &= doc is not None
        issued += doc is not None and doc is not NOTHING
    if complete:
        db.doc_progress.update_one({"_id": f"ti:{month}"}, {"$set": {"done": True}}, upsert=True)
    return {"invoices": issued}


def due_month() -> str | None:
    """Last month, during the first days of this one (when the worker issues its invoices)."""
    today = clock.today()
    if today.day > ISSUE_BY_DAY:
        return None
    return f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}"


def start_day(month: str) -> date:
    year, mon = statements.parse_month(month)
    return date(year, mon, 1)


def _usage(db, user_id: str, start, end) -> tuple[dict, dict]:
    """({line key: {label, count, seconds, quantity, unit, amount}}, {lot n: paise drawn}) of the month's usage
    debits: one line per call category and one per other service (its events, or its monthly fee)."""
    lines: dict[str, dict] = {}
    per_lot: dict[int, int] = defaultdict(int)
    units: dict[str, str] = {}
    for e in ledger.iter_entries(db, user_id=user_id, type=ledger.DEBIT, start=start, end=end):
        key = statements.usage_key(e)
        if not key:
            continue
        line = lines.get(key) or lines.setdefault(key, _line(db, e, key, units))
        meta = e.get("meta") or {}
        line["count"] += 1
        line["seconds"] += int(meta.get("seconds") or 0)
        line["quantity"] += int(meta.get("quantity") or 0)
        line["amount"] += int(e["amount"])
        for n, paise in ledger.lot_parts(e.get("lots")) or [(0, int(e["amount"]))]:
            per_lot[n] += paise
    return lines, per_lot


def _line(db, e: dict, key: str, units: dict) -> dict:
    line = statements.usage_line(e)
    service = (e.get("meta") or {}).get("service")
    if service and service not in units:
        try:
            units[service] = usage.get(db, service).unit
        except NotFound:  # a service no longer in the catalogue keeps its line, without a unit
            units[service] = ""
    return {"category": key, "label": USAGE_LABELS.get(key, line["label"]), "count": 0, "seconds": 0,
            "quantity": 0, "unit": units.get(service or "", ""), "amount": 0}


def _described(lines: dict) -> str:
    calls = any(k in USAGE_LABELS for k in lines)
    others = any(k not in USAGE_LABELS for k in lines)
    return "AI voice calls and other services" if calls and others else "AI voice calls" if calls else "Services"


def _with_tax(lines: list[dict], value: dict) -> list[dict]:
    """Each line with its share of the invoice's taxable value and GST (CGST Rule 46: per line), by its
    amount, the paise left by rounding down given to the largest remainders: the lines add up exactly."""
    total = sum(x["amount"] for x in lines)
    out = [dict(x) for x in lines]
    for field in ("taxable", "tax"):
        shares = [divmod(value[field] * x["amount"], total) if total else (0, 0) for x in lines]
        for i, (q, _) in enumerate(shares):
            out[i][field] = q
        left = value[field] - sum(q for q, _ in shares)
        for i in sorted(range(len(lines)), key=lambda i: (-shares[i][1], i))[:left]:
            out[i][field] += 1
    return out


def _body(db, user_id: str, month: str, start, end, biz: dict) -> dict | None:
    cats, per_lot = _usage(db, user_id, start, end)
    customer = profiles.get_profile(db, user_id)
    supply = customer["state"] or biz["state"]
    intra = supply == biz["state"] or not biz["state"]
    cache: dict = {}
    adjusted, other, discount = [], [], 0
    for n in sorted(per_lot):
        t = advances.lot_terms(db, user_id, n, biz, cache)
        part = gst.amounts(advances.part_tax(t, per_lot[n], intra=intra))
        if t.kind == "free":
            discount += per_lot[n]
        elif t.kind == "advance":
            adjusted.append({"receipt_voucher": t.voucher, "receipt_voucher_date": t.voucher_date,
                             "mode": t.mode, "rate_bp": t.rate_bp, **part})
        else:
            other.append(part)
    value = gst.add(*adjusted, *other)
    if value["taxable"] == 0:
        return None
    today = clock.today()
    order = [k for k in USAGE_LABELS if k in cats] + sorted(k for k in cats if k not in USAGE_LABELS)
    lines = _with_tax([cats[k] for k in order], value)
    return {"kind": "tax_invoice", "title": "Tax invoice", "user_id": user_id, "month": month,
            "date": today.isoformat(), "paid_at": start, "issued_at": clock.now(),
            "fy": numbering.financial_year(today), "business": business.supplier(biz),
            "customer": {k: customer[k] for k in ("name", "address", "state", "state_name", "gstin", "email")},
            "place_of_supply": supply, "place_of_supply_name": gst.state_name(supply),
            "description": f"{_described(cats)} supplied in {start_day(month):%B %Y}",
            "gst": {"mode": biz["gst_mode"], "rate_bp": biz["gst_rate_bp"], "intra": intra},
            "lines": lines, "discount": discount, "advances": adjusted, "adjusted": gst.add(*adjusted),
            "payable": gst.add(*other), "amounts": value, "words": rupees_in_words(value["total"]),
            "refers_to": None, "reverse_charge": "No", "entry_id": "", "payment_id": "", "reference_id": ""}
