"""PDFs of documents and statements, drawn with fpdf2 (pure Python; nothing rendered through a browser).

Text uses the PDF core font Helvetica (no font files to ship), so it is Latin-1: money is written the
app's way, `Rs. 1,23,456.50`, and characters outside Latin-1 (a name in Devanagari, say) become `?`.
Each figure is one text run (`Taxable value   Rs. 847.46`) so the text read back from the PDF (the tests
use pypdf) carries every number as printed. Times are in the business zone, and the page says so.
"""
from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from services import clock
from services.documents import gst, statements
from services.money import format_rupees

_WIDTH = 180  # mm of text width on A4 with 15 mm margins
_SUBS = {"\u2014": "-", "\u2013": "-", "\u20b9": "Rs.", "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'}


def _t(text) -> str:
    text = "".join(_SUBS.get(ch, ch) for ch in str(text or ""))
    return text.encode("latin-1", "replace").decode("latin-1")


class _Page(FPDF):
    def __init__(self, title: str):
        super().__init__(format="A4")
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, 18)
        self.set_title(_t(title))
        self.set_creator("Voice AI Wallet")
        self.add_page()

    def footer(self):
        self.set_y(-14)
        self.set_font("Helvetica", "", 7)
        self.cell(0, 5, _t(f"{clock.note()}. Page {self.page_no()}"),
                  align="C")

    def line_text(self, text: str, size: float = 9, style: str = "", h: float = 5, align: str = "L") -> None:
        self.set_font("Helvetica", style, size)
        self.multi_cell(_WIDTH, h, _t(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def pair(self, label: str, value: str, *, bold: bool = False) -> None:
        """A figure as one run of text: the label, a gap, the value, right-aligned in one cell."""
        self.set_font("Helvetica", "B" if bold else "", 10)
        self.cell(110, 6, "")
        self.cell(70, 6, _t(f"{label}   {value}"), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def rule(self) -> None:
        self.ln(1)
        self.line(15, self.get_y(), 195, self.get_y())
        self.ln(2)


def _party(p: _Page, heading: str, who: dict, *, pan: bool = False) -> None:
    p.line_text(heading, 8, "B")
    p.line_text(who.get("legal_name") or who.get("name") or "", 10, "B")
    for line in (who.get("address") or "").splitlines():
        p.line_text(line)
    if who.get("state"):
        p.line_text(f"State: {who.get('state_name') or gst.state_name(who['state'])} (code {who['state']})")
    if who.get("gstin"):
        p.line_text(f"GSTIN: {who['gstin']}")
    if pan and who.get("pan"):
        p.line_text(f"PAN: {who['pan']}")


def document_pdf(doc: dict) -> bytes:
    """A receipt, receipt voucher, refund voucher, tax invoice or credit note as PDF bytes."""
    a, g, kind = doc["amounts"], doc["gst"], doc["kind"]
    p = _Page(f"{doc['title']} {doc['number']}")
    p.line_text(doc["title"].upper(), 16, "B", h=8)
    p.line_text(f"Number: {doc['number']}    Date: {_date(doc['date'])}", 10, "B")
    if kind == "credit_note":
        p.line_text(f"Credit note against {_KIND_NAMES.get(doc.get('refers_to_kind', ''), 'document')} "
                    f"{doc['refers_to']} dated {_date(doc['refers_to_date'])}. Reason: {doc.get('reason', '')}. "
                    f"It reduces the value of that supply by {format_rupees(a['total'])}.")
    p.rule()
    _party(p, "FROM", doc["business"], pan=True)
    p.ln(2)
    _party(p, "BILL TO", doc["customer"])
    if kind != "receipt":
        p.line_text(f"Place of supply: {doc['place_of_supply_name']} (code {doc['place_of_supply']})")
        p.line_text("Reverse charge: No")
    p.rule()
    sac = doc["business"].get("sac")
    p.line_text(f"{doc['description']}" + (f"    SAC {sac}" if sac and kind != "receipt" else ""), 10)
    _what(p, doc)
    p.ln(2)
    _figures(p, kind, a, g)
    if kind == "tax_invoice":
        _advances(p, doc)
    p.ln(2)
    p.line_text(f"Amount in words: {doc['words']}", 9, "I")
    if kind in ("receipt", "receipt_voucher"):
        p.line_text(f"Credited to the prepaid wallet of {doc['user_id']}: {format_rupees(a['wallet'])}", 9)
    _signature(p, doc["business"])
    return bytes(p.output())


_KIND_NAMES = {"tax_invoice": "tax invoice", "receipt": "receipt"}


def _what(p: _Page, doc: dict) -> None:
    """What the document is about: the payment, the refund and its advances, or the month's usage."""
    kind = doc["kind"]
    if kind in ("receipt", "receipt_voucher"):
        p.line_text(f"Paid {clock.fmt(doc['paid_at'], '%d %b %Y, %H:%M')}"
                    + (f"    Payment {doc['payment_id']}" if doc.get("payment_id") else ""), 8)
        if doc.get("bank_transfer"):
            bt = doc["bank_transfer"]
            p.line_text(f"Bank transfer ({bt['mode']})    UTR {bt['bank_reference']}"
                        + (f"    from {bt['payer_name']} ({bt['payer_account']})" if bt.get("payer_name") else ""), 8)
    elif kind == "refund_voucher":
        p.line_text(f"Refunded {clock.fmt(doc['paid_at'], '%d %b %Y, %H:%M')}    Refund {doc['refund_id']}"
                    + (f"    Payment {doc['payment_id']}" if doc.get("payment_id") else ""), 8)
        for line in doc["lines"]:
            p.line_text(f"Against receipt voucher {line['receipt_voucher']} dated "
                        f"{_date(line['receipt_voucher_date'])}: {format_rupees(line['wallet'])} of the advance, "
                        f"GST {format_rupees(line['tax'])}", 8)
    elif kind == "tax_invoice":
        for line in doc["lines"]:
            p.line_text(f"{_supplied(line)}    {format_rupees(line['amount'])}"
                        + (f"    taxable {format_rupees(line['taxable'])}, GST {format_rupees(line['tax'])}"
                           if "tax" in line else ""), 9)
        if doc["discount"]:
            p.line_text(f"Paid from promotional credit (discount, no value of supply): "
                        f"{format_rupees(doc['discount'])}", 9)


def _supplied(line: dict) -> str:
    """`AI voice calls: 12 calls, 34 min 5 s`, `SMS: quantity 1,000 (message)`."""
    if line["category"] in ("call", "campaign"):
        return f"{line['label']}: {line['count']} calls, {line['seconds'] // 60} min {line['seconds'] % 60} s"
    unit = f" ({line['unit']})" if line.get("unit") else ""
    return f"{line['label']}: quantity {line.get('quantity') or line['count']:,}{unit}"


def _advances(p: _Page, doc: dict) -> None:
    adj, pay = doc["adjusted"], doc["payable"]
    p.pair("Less advances adjusted", "- " + format_rupees(adj["total"]))
    p.pair("GST already paid on those advances", format_rupees(adj["tax"]))
    p.pair("GST payable on this invoice", format_rupees(pay["tax"]))
    for line in doc["advances"]:
        p.line_text(f"Advance of receipt voucher {line['receipt_voucher']} dated {_date(line['receipt_voucher_date'])}:"
                    f" {format_rupees(line['total'])} adjusted (GST {format_rupees(line['tax'])})", 8)
    p.line_text("Paid from the prepaid wallet: nothing more is due.", 8)


def _signature(p: _Page, biz: dict) -> None:
    p.ln(4)
    p.line_text(f"For {biz.get('legal_name', '')}", 9, "B", align="R")
    if biz.get("signatory"):
        p.line_text(biz["signatory"], 9, align="R")
    p.line_text("Authorised signatory", 9, align="R")


def _figures(p: _Page, kind: str, a: dict, g: dict) -> None:
    if kind == "receipt" or (kind == "credit_note" and g["mode"] == "off"):
        p.pair("Amount received" if kind == "receipt" else "Amount credited", format_rupees(a["total"]), bold=True)
        return
    half = gst.rate_text(g["rate_bp"] // 2) if g["rate_bp"] % 2 == 0 else f"{g['rate_bp'] / 200:g}%"
    p.pair("Taxable value", format_rupees(a["taxable"]))
    if g["intra"]:
        p.pair(f"CGST @ {half}", format_rupees(a["cgst"]))
        p.pair(f"SGST @ {half}", format_rupees(a["sgst"]))
        if a.get("round_off"):
            p.pair("Round-off", format_rupees(a["round_off"]))
    else:
        p.pair(f"IGST @ {gst.rate_text(g['rate_bp'])}", format_rupees(a["igst"]))
    p.pair("Total", format_rupees(a["total"]), bold=True)
    if kind in ("receipt_voucher", "refund_voucher"):
        mode = "GST included in the amount paid" if g["mode"] == "inclusive" else "GST charged on top of the recharge"
        p.line_text(mode + (" (returned with the refund)" if kind == "refund_voucher" else ""), 8)


def statement_pdf(st: dict) -> bytes:
    """A monthly statement as PDF bytes."""
    p = _Page(f"Statement {st['month']} {st['user_id']}")
    p.line_text("STATEMENT OF ACCOUNT", 16, "B", h=8)
    p.line_text(f"Prepaid wallet {st['user_id']}    Period: {statements.period_text(st)}", 10, "B")
    p.rule()
    _party(p, "CUSTOMER", st["customer"])
    p.rule()
    p.pair("Opening balance", format_rupees(st["opening"]), bold=True)
    _table(p, "Money in and out", st["lines"], "Nothing happened this month.")
    p.line_text("Usage by category", 11, "B", h=7)
    if not st["usage"]:
        p.line_text("No usage this month.")
    for u in st["usage"]:
        p.pair(statements.usage_text(u), "- " + format_rupees(u["amount"]))
    p.rule()
    p.pair("Money in", format_rupees(st["credits"]))
    p.pair("Money out", format_rupees(st["debits"]))
    p.pair("Closing balance", format_rupees(st["closing"]), bold=True)
    return bytes(p.output())


def _table(p: _Page, heading: str, rows: list[dict], empty: str) -> None:
    p.line_text(heading, 11, "B", h=7)
    if not rows:
        p.line_text(empty)
        return
    p.set_font("Helvetica", "B", 8)
    for w, head, align in ((38, "When", "L"), (82, "Description", "L"), (30, "Amount", "R"),
                           (30, "Balance after", "R")):
        p.cell(w, 5, head, align=align, border="B")
    p.ln(5)
    p.set_font("Helvetica", "", 8)
    for r in rows:
        sign = "+ " if r["type"] == "credit" else "- "
        p.cell(38, 5, _t(clock.fmt(r["at"], "%d %b %Y, %H:%M")))
        label = statements.usage_text(r) if r.get("category") else r["label"]
        p.cell(82, 5, _t(f"{label} {r['reference']}".strip()[:60]))
        p.cell(30, 5, _t(sign + format_rupees(r["amount"])), align="R")
        p.cell(30, 5, _t(format_rupees(r["balance_after"])), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _date(iso_day: str) -> str:
    y, m, d = iso_day.split("-")
    return f"{d} {('Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split())[int(m) - 1]} {y}"
