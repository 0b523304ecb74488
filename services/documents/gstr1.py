"""GSTR-1 of a month, as the GST offline tool's JSON, built from the documents dated in that month.

Field names follow India Compliance's GSTR-1 JSON map (../shared/gst-documents.md, section 3; a secondary
source: check against the GSTN offline tool's schema). Amounts are rupees with two decimals (the format's),
converted from paise only here, per figure; every sum is taken in paise first, so the totals equal the
documents to the paisa.

- `b2b`   tax invoices to registered customers (GSTIN), one per invoice
- `b2cs`  tax invoices to everybody else, summed per (supply type, place of supply, rate), net of the
          credit notes against them (Table 7 is "net of debit and credit notes")
- `cdnr`  credit notes against B2B invoices; `cdnur` stays empty (it is for B2C large and exports, which
          this business does not issue: B2C inter-State invoices above Rs. 1 lakh would be `b2cl`; POINT TO
          CHECK if a customer ever uses more than that in a month)
- `at`    advances received this month (receipt vouchers) less advances refunded this month (refund
          vouchers), per (place of supply, supply type, rate): Table 11A. POINT TO CHECK: the tool has no
          refund-voucher section; netting the refund in the month it is made is the common reading.
- `txpd`  advances adjusted by this month's invoices (Table 11B), per (place of supply, supply type, rate)
- `hsn`   the month's supplies (invoices net of credit notes) per SAC, one list (`data`; the 2025 B2B/B2C
          split has no official schema yet)
- `doc_issue` numbers issued per series: 1 invoices, 5 credit notes, 6 receipt vouchers, 8 refund vouchers

The GST it reports = b2b + b2cs + at − txpd − cdnr = GST of receipt vouchers − refund vouchers + the GST of
invoices not covered by advances − credit notes (`tax_reported` adds it up; the tests check both).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from services import csvout
from services.documents import business, statements
from services.errors import InvalidInput

SECTIONS = ("b2b", "b2cs", "cdnr", "cdnur", "at", "txpd", "hsn", "doc_issue")
_FIGS = ("taxable", "igst", "cgst", "sgst")
DOC_NATURE = {"tax_invoice": 1, "credit_note": 5, "receipt_voucher": 6, "refund_voucher": 8}
VERSION = "GST3.2.1"


def _r(paise: int) -> float:
    """Rupees as the JSON format writes them (two decimals), from exact paise."""
    return int(paise) / 100


def _dmy(iso_day: str) -> str:
    y, m, d = iso_day.split("-")
    return f"{d}-{m}-{y}"


def month_documents(db, month: str) -> list[dict]:
    """The documents dated in business month `month` (YYYY-MM), in number order per series."""
    year, mon = statements.parse_month(month)
    first = date(year, mon, 1)
    nxt = date(year + (mon == 12), mon % 12 + 1, 1)
    docs = db.documents.find({"date": {"$gte": first.isoformat(), "$lt": nxt.isoformat()}})
    return sorted(docs, key=lambda d: (d["series"], int(d["n"])))


def build(db, month: str) -> dict:
    """The GSTR-1 JSON (a dict) of `month` for the business's GSTIN."""
    biz = business.get(db)
    if not biz["gstin"]:
        raise InvalidInput("GSTR-1 needs the business's GSTIN (Admin → Business & GST).")
    year, mon = statements.parse_month(month)
    docs = month_documents(db, month)
    invoices = {d["number"]: d for d in docs if d["kind"] == "tax_invoice"}
    notes = [d for d in docs if d["kind"] == "credit_note" and d.get("refers_to_kind") == "tax_invoice"]
    b2b_notes = [n for n in notes if n["customer"].get("gstin")]
    b2c_notes = [n for n in notes if not n["customer"].get("gstin")]
    return {"gstin": biz["gstin"], "fp": f"{mon:02d}{year}", "version": VERSION, "hash": "hash",
            "b2b": _b2b([d for d in invoices.values() if d["customer"].get("gstin")]),
            "b2cs": _b2cs([d for d in invoices.values() if not d["customer"].get("gstin")], b2c_notes),
            "cdnr": _cdnr(b2b_notes), "cdnur": [],
            "at": _advances([d for d in docs if d["kind"] in ("receipt_voucher", "refund_voucher")]),
            "txpd": _adjusted(list(invoices.values())),
            "hsn": _hsn(list(invoices.values()), notes, biz), "doc_issue": _doc_issue(docs)}


def _sply(d: dict) -> str:
    return "INTRA" if d["gst"]["intra"] else "INTER"


def _rt(rate_bp: int) -> float:
    return rate_bp / 100


def _itm_det(a: dict, rate_bp: int) -> dict:
    return {"rt": _rt(rate_bp), "txval": _r(a["taxable"]), "iamt": _r(a["igst"]), "camt": _r(a["cgst"]),
            "samt": _r(a["sgst"]), "csamt": 0}


def _b2b(invoices: list[dict]) -> list[dict]:
    by_ctin: dict[str, list] = defaultdict(list)
    for d in invoices:
        by_ctin[d["customer"]["gstin"]].append({
            "inum": d["number"], "idt": _dmy(d["date"]), "val": _r(d["amounts"]["total"]),
            "pos": d["place_of_supply"], "rchrg": "N", "inv_typ": "R",
            "itms": [{"num": 1, "itm_det": _itm_det(d["amounts"], d["gst"]["rate_bp"])}]})
    return [{"ctin": c, "inv": inv} for c, inv in sorted(by_ctin.items())]


def _sum_by(rows, key) -> dict:
    out: dict = defaultdict(lambda: dict.fromkeys(_FIGS, 0))
    for k, a, sign in rows:
        for f in _FIGS:
            out[key(k)][f] += sign * int(a[f])
    return out


def _b2cs(invoices: list[dict], notes: list[dict]) -> list[dict]:
    rows = [((_sply(d), d["place_of_supply"], d["gst"]["rate_bp"]), d["amounts"], 1) for d in invoices]
    rows += [((_sply(n), n["place_of_supply"], n["gst"]["rate_bp"]), n["amounts"], -1) for n in notes]
    out = []
    for (sply, pos, rate), a in sorted(_sum_by(rows, lambda k: k).items()):
        out.append({"sply_ty": sply, "typ": "OE", "pos": pos, "rt": _rt(rate), "txval": _r(a["taxable"]),
                    "iamt": _r(a["igst"]), "camt": _r(a["cgst"]), "samt": _r(a["sgst"]), "csamt": 0})
    return out


def _cdnr(notes: list[dict]) -> list[dict]:
    by_ctin: dict[str, list] = defaultdict(list)
    for n in notes:
        by_ctin[n["customer"]["gstin"]].append({
            "ntty": "C", "nt_num": n["number"], "nt_dt": _dmy(n["date"]), "pos": n["place_of_supply"],
            "rchrg": "N", "inv_typ": "R", "val": _r(n["amounts"]["total"]),
            "itms": [{"num": 1, "itm_det": _itm_det(n["amounts"], n["gst"]["rate_bp"])}]})
    return [{"ctin": c, "nt": nt} for c, nt in sorted(by_ctin.items())]


def _advance_rows(rows: list) -> list[dict]:
    """[{pos, sply_ty, itms: [{rt, ad_amt, iamt, camt, samt, csamt}]}] from ((pos, sply, rate), amounts, sign)."""
    sums = _sum_by(rows, lambda k: k)
    by_place: dict = defaultdict(list)
    for (pos, sply, rate), a in sorted(sums.items()):
        by_place[(pos, sply)].append({"rt": _rt(rate), "ad_amt": _r(a["taxable"]), "iamt": _r(a["igst"]),
                                      "camt": _r(a["cgst"]), "samt": _r(a["sgst"]), "csamt": 0})
    return [{"pos": pos, "sply_ty": sply, "itms": itms} for (pos, sply), itms in sorted(by_place.items())]


def _advances(docs: list[dict]) -> list[dict]:
    rows = []
    for d in docs:
        sign = 1 if d["kind"] == "receipt_voucher" else -1
        for part in d.get("lines") or [dict(d["amounts"], rate_bp=d["gst"]["rate_bp"])]:
            rows.append(((d["place_of_supply"], _sply(d), int(part["rate_bp"])), part, sign))
    return _advance_rows(rows)


def _adjusted(invoices: list[dict]) -> list[dict]:
    rows = [((d["place_of_supply"], _sply(d), int(part["rate_bp"])), part, 1)
            for d in invoices for part in d.get("advances") or []]
    return _advance_rows(rows)


def _hsn(invoices: list[dict], notes: list[dict], biz: dict) -> dict:
    rows = [((d["business"].get("sac") or biz["sac"], d["gst"]["rate_bp"]), d["amounts"], 1) for d in invoices]
    rows += [((n["business"].get("sac") or biz["sac"], n["gst"]["rate_bp"]), n["amounts"], -1) for n in notes]
    data = []
    for i, ((sac, rate), a) in enumerate(sorted(_sum_by(rows, lambda k: k).items()), start=1):
        data.append({"num": i, "hsn_sc": sac, "desc": business.SAC_CANDIDATES.get(sac, ""), "uqc": "NA",
                     "qty": 0, "rt": _rt(rate), "txval": _r(a["taxable"]), "iamt": _r(a["igst"]),
                     "camt": _r(a["cgst"]), "samt": _r(a["sgst"]), "csamt": 0})
    return {"data": data}


def _doc_issue(docs: list[dict]) -> dict:
    series: dict = defaultdict(list)
    for d in docs:
        if d["kind"] in DOC_NATURE:
            series[(DOC_NATURE[d["kind"]], d["series"])].append(d)
    by_nature: dict = defaultdict(list)
    for (nature, _), ds in sorted(series.items()):
        ds.sort(key=lambda d: int(d["n"]))
        by_nature[nature].append({"num": len(by_nature[nature]) + 1, "from": ds[0]["number"],
                                  "to": ds[-1]["number"], "totnum": len(ds), "cancel": 0, "net_issue": len(ds)})
    return {"doc_det": [{"doc_num": k, "docs": v} for k, v in sorted(by_nature.items())]}


def tax_reported(g: dict) -> int:
    """The GST (paise) a GSTR-1 JSON reports: invoices + advances received − advances adjusted − credit notes."""
    def p(x) -> int:
        return round(x * 100)

    def tax(d: dict) -> int:
        return p(d["iamt"]) + p(d["camt"]) + p(d["samt"])
    total = sum(tax(i["itms"][0]["itm_det"]) for c in g["b2b"] for i in c["inv"])
    total += sum(tax(r) for r in g["b2cs"])
    total -= sum(tax(n["itms"][0]["itm_det"]) for c in g["cdnr"] for n in c["nt"])
    total += sum(tax(i) for r in g["at"] for i in r["itms"])
    total -= sum(tax(i) for r in g["txpd"] for i in r["itms"])
    return total


def section_csv(g: dict, section: str) -> str:
    """One section of a GSTR-1 JSON as CSV (one row per record, nested items flattened)."""
    if section not in SECTIONS:
        raise InvalidInput(f"A GSTR-1 section is one of {', '.join(SECTIONS)}.")
    rows = _flat(g[section], section)
    columns = list(rows[0]) if rows else []
    return "".join(csvout.csv_rows(rows, columns=columns, cells=lambda r: [r[c] for c in columns]))


def _flat(value, section: str) -> list[dict]:
    if section == "hsn":
        return list(value["data"])
    if section == "doc_issue":
        return [{"doc_num": d["doc_num"], **x} for d in value["doc_det"] for x in d["docs"]]
    if section in ("b2b", "cdnr"):
        inner = "inv" if section == "b2b" else "nt"
        return [{"ctin": c["ctin"], **{k: v for k, v in i.items() if k != "itms"}, **i["itms"][0]["itm_det"]}
                for c in value for i in c[inner]]
    if section in ("at", "txpd"):
        return [{"pos": r["pos"], "sply_ty": r["sply_ty"], **i} for r in value for i in r["itms"]]
    return list(value)
