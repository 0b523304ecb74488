"""The monthly statement of a customer's wallet: opening balance, every recharge, usage by category,
refunds and adjustments, closing balance, for one business month (1st 00:00 to the next 1st 00:00 IST).

It is read from the ledger (pages by time, never the whole history) and agrees with it to the paisa:
opening = the balance after the last entry before the month (`ledger.balance_at`, with the lots as they
stood: `opening_promo` is the promotional part), closing = opening + credits - debits =
the balance after the month's last entry, which `monthly` checks before returning. A statement is a view
of immutable entries: asked again, it says the same (the current month says "to date").
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

from services import clock, csvout, ledger, users
from services.documents import profiles
from services.errors import InvalidInput
from services.money import to_rupees

USAGE = {"call": "Calls", "campaign": "Campaign calls"}
OTHER_LABELS = {"manual_credit": "Manual credit", "promo_credit": "Promotional credit", "refund": "Refund",
                "adjustment": "Adjustment", "expiry": "Credit expired", "void": "Credit voided"}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_PAGE = 1000


def parse_month(text) -> tuple[int, int]:
    """(year, month) from `2026-12`; InvalidInput otherwise."""
    m = _MONTH.match(text) if isinstance(text, str) else None
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2999:
        raise InvalidInput("A month looks like 2026-12 (year and month).")
    return int(m.group(1)), int(m.group(2))


def monthly(db, user_id: str, month: str) -> dict:
    """The statement of `month` (`YYYY-MM`, a business month) for `user_id`; amounts in paise."""
    year, mon = parse_month(month)
    start, end = clock.month_span(year, mon)
    if start > clock.now():
        raise InvalidInput("That month has not begun yet.")
    user = users.get(db, user_id)
    entries = _month_entries(db, user_id, start, end)
    before = ledger.balance_at(db, user_id, start, before=True)   # the lots as they stood, from the ledger
    opening = before["balance"]
    st = {"user_id": user_id, "month": f"{year:04d}-{mon:02d}", "period_start": start, "period_end": end,
          "first_day": date(year, mon, 1).isoformat(),
          "last_day": (clock.date_of(end) - timedelta(days=1)).isoformat(),
          "to_date": end > clock.now(), "generated_at": clock.now(), "email": user["email"],
          "customer": profiles.get_profile(db, user_id), "opening": opening,
          "opening_promo": sum(v.remaining for v in before["lots"] if v.promotional),
          "opening_lots": before["lots"], **_sections(db, user_id, entries)}
    st["closing"] = opening + st["credits"] - st["debits"]
    if entries and st["closing"] != int(entries[-1]["balance_after"]):
        raise RuntimeError(f"statement of {user_id} {month} does not add up: {st['closing']} != "
                           f"{entries[-1]['balance_after']}")
    return st


def _month_entries(db, user_id: str, start, end) -> list[dict]:
    out, cursor = [], None
    while True:
        page, cursor = ledger.entries(db, user_id, start=start, end=end, before_seq=cursor, limit=_PAGE,
                                      budget=_PAGE * 4)
        out += page
        if cursor is None:
            return out[::-1]


def _sections(db, user_id: str, entries: list[dict]) -> dict:
    numbers = {d["entry_id"]: d["number"]
               for d in db.documents.find({"user_id": user_id, "kind": {"$ne": "credit_note"}},
                                          {"entry_id": 1, "number": 1})}
    recharges, other = [], []
    usage: dict[str, dict] = {}
    credits = debits = 0
    for e in entries:
        amt = int(e["amount"])
        credits += amt if e["type"] == ledger.CREDIT else 0
        debits += amt if e["type"] != ledger.CREDIT else 0
        if e["category"] == "recharge":
            recharges.append(_line(e, "Recharge", numbers.get(e["_id"], "")))
        elif e["category"] in USAGE:
            u = usage.setdefault(e["category"], {"label": USAGE[e["category"]], "count": 0, "seconds": 0, "amount": 0})
            u["count"] += 1
            u["seconds"] += int((e.get("meta") or {}).get("seconds", 0))
            u["amount"] += amt
        else:
            other.append(_line(e, OTHER_LABELS.get(e["category"], e["category"]), e.get("note") or ""))
    return {"recharges": recharges, "usage": [usage[k] for k in USAGE if k in usage], "other": other,
            "credits": credits, "debits": debits, "recharged": sum(r["amount"] for r in recharges),
            "used": sum(u["amount"] for u in usage.values()), "entries": len(entries)}


def _line(e: dict, label: str, ref: str) -> dict:
    return {"at": e["created_at"], "label": label, "reference": ref, "type": e["type"], "amount": int(e["amount"]),
            "balance_after": int(e["balance_after"]), "entry_id": e["_id"]}


# -------------------------------------------------------------------------------------------- CSV

CSV_COLUMNS = ("section", "at", "description", "reference", "credit_rupees", "debit_rupees", "balance_rupees")


def statement_csv(st: dict) -> str:
    """The statement as CSV: times ISO-8601 with the business zone's offset, money in rupees."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")

    def row(*cells):
        w.writerow([csvout.csv_safe(c) for c in cells])

    def rs(p):
        return "" if p is None else str(to_rupees(p))
    row(*CSV_COLUMNS)
    row("opening", clock.iso(st["period_start"]), f"Opening balance {st['month']}", st["user_id"], "", "",
        rs(st["opening"]))
    if st.get("opening_promo"):
        row("opening", clock.iso(st["period_start"]), "of which promotional credit", "", "", "",
            rs(st["opening_promo"]))
    for r in st["recharges"] + st["other"]:
        credit = r["amount"] if r["type"] == ledger.CREDIT else None
        row("recharge" if r["label"] == "Recharge" else "adjustment", clock.iso(r["at"]), r["label"],
            r["reference"], rs(credit), rs(None if credit is not None else r["amount"]), rs(r["balance_after"]))
    for u in st["usage"]:
        row("usage", "", f"{u['label']}: {u['count']} ({u['seconds'] // 60} min {u['seconds'] % 60} s)", "", "",
            rs(u["amount"]), "")
    row("closing", clock.iso(min(st["period_end"], st["generated_at"])), f"Closing balance {st['month']}"
        + (" (to date)" if st["to_date"] else ""), "", rs(st["credits"]), rs(st["debits"]), rs(st["closing"]))
    return buf.getvalue()
