"""The monthly statement of a customer's wallet: opening balance, every movement in the order it happened
with the balance after it (`lines`: usage between two other movements is one line, "Calls: 12 (4 min
55 s)"), usage by category, closing balance, for one business month (1st 00:00 to the next 1st 00:00 IST).

It is read from the ledger (pages by time, never the whole history) and agrees with it to the paisa:
opening = the balance after the last entry before the month (`ledger.balance_at`, with the lots as they
stood: `opening_promo` is the promotional part), closing = opening + credits - debits = the balance after
the month's last entry, which `monthly` checks before returning; each line's balance is the one before it
plus or minus its amount. A statement is a view of immutable entries: asked again, it says the same (the
current month runs to today and says "month to date").
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

from services import clock, csvout, ledger, users
from services.documents import profiles
from services.errors import InvalidInput
from services.money import format_rupees, to_rupees

USAGE = {"call": "Calls", "campaign": "Campaign calls"}
OTHER_LABELS = {"manual_credit": "Manual credit", "promo_credit": "Promotional credit", "refund": "Refund credited",
                "adjustment": "Adjustment", "expiry": "Credit expired", "void": "Credit voided"}
# A refund debit is money going back to the customer's bank (or an amount due paid): said as such.
REFUND_OUT, DUE_PAID, REFUND_BACK = "Refund to your bank", "Amount due paid", "Refund failed, returned to the wallet"
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
    to_date = end > clock.now()
    st = {"user_id": user_id, "month": f"{year:04d}-{mon:02d}", "period_start": start, "period_end": end,
          "first_day": date(year, mon, 1).isoformat(),
          "last_day": (clock.today() if to_date else clock.date_of(end) - timedelta(days=1)).isoformat(),
          "to_date": to_date, "generated_at": clock.now(), "email": user["email"],
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
    recharges: list[dict] = []
    other: list[dict] = []
    lines: list[dict] = []
    usage: dict[str, dict] = {}
    credits = debits = 0
    for e in entries:
        amt = int(e["amount"])
        credits += amt if e["type"] == ledger.CREDIT else 0
        debits += amt if e["type"] != ledger.CREDIT else 0
        if e["category"] == "recharge":
            recharges.append(_line(e, "Recharge", numbers.get(e["_id"], "")))
            lines.append(recharges[-1])
        elif usage_key(e):
            for group in (usage.setdefault(usage_key(e), usage_line(e)), _grouped(lines, e)):
                group["count"] += 1
                group["seconds"] += int((e.get("meta") or {}).get("seconds", 0))
                group["amount"] += amt
        else:
            other.append(_line(e, *_other(e)))
            lines.append(other[-1])
    order = [k for k in USAGE if k in usage] + sorted(k for k in usage if k not in USAGE)
    return {"recharges": recharges, "usage": [usage[k] for k in order], "other": other,
            "lines": lines, "credits": credits, "debits": debits, "recharged": sum(r["amount"] for r in recharges),
            "used": sum(u["amount"] for u in usage.values()), "entries": len(entries)}


def usage_key(e: dict) -> str:
    """The usage line an entry counts in: its category for calls, one line per service for other services
    (usage events, monthly fees); '' for what is not usage."""
    if e["category"] in USAGE:
        return e["category"]
    if e["category"] in ledger.SERVICE_CATEGORIES and e["type"] != ledger.CREDIT:
        return f"{e['category']}:{(e.get('meta') or {}).get('service', '')}"
    return ""


def usage_line(e: dict) -> dict:
    """A new, empty usage line for the entry `e` (its label and key; nothing counted yet)."""
    key = usage_key(e)
    meta = e.get("meta") or {}
    service = meta.get("label") or meta.get("service", "")
    label = USAGE.get(key) or (f"{service} (monthly fee)" if e["category"] == "fee" else service)
    return {"label": label, "category": key, "count": 0, "seconds": 0, "amount": 0}


def _grouped(lines: list[dict], e: dict) -> dict:
    """The line this usage entry joins: the last one if it is usage of the same category (nothing else
    happened in between), else a new one. Its balance is the balance after its last entry."""
    last = lines[-1] if lines else None
    if last is None or last.get("category") != usage_key(e):
        u = usage_line(e)
        last = dict(_line(e, u["label"], ""), **u, first_at=e["created_at"])
        lines.append(last)
    last.update(at=e["created_at"], balance_after=int(e["balance_after"]), entry_id=e["_id"])
    return last


def _other(e: dict) -> tuple[str, str]:
    """(label, reference) of a movement that is neither a recharge nor usage."""
    if e["category"] == "refund" and e["type"] != ledger.CREDIT:
        if int(e.get("due_delta") or 0) < 0:
            return DUE_PAID, ""
        due = int(e.get("due_delta") or 0)
        return REFUND_OUT, (e.get("source") or "") + (f" ({format_rupees(due)} became due)" if due else "")
    if e["category"] == "refund" and str(e.get("key", "")).startswith("razorpay-refund-failed:"):
        return REFUND_BACK, e.get("source") or ""
    return OTHER_LABELS.get(e["category"], e["category"]), e.get("note") or ""


def usage_text(u: dict) -> str:
    """`Calls: 2 (3 min 12 s)`, `sms: 1,000`: a usage line or total as the statement words it."""
    if u["category"] not in USAGE:  # another service: its events or months
        return f"{u['label']}: {u['count']:,}"
    mins, secs = divmod(int(u["seconds"]), 60)
    return f"{u['label']}: {u['count']:,} ({mins:,} min {secs} s)"


def period_text(st: dict) -> str:
    """`01 Dec 2026 to 07 Dec 2026 (month to date)`."""
    return f"{_day(st['first_day'])} to {_day(st['last_day'])}" + (" (month to date)" if st["to_date"] else "")


def _day(iso_day: str) -> str:
    return f"{date.fromisoformat(iso_day):%d %b %Y}"


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
    for r in st["lines"]:  # in the order they happened: each balance follows from the one before
        credit = r["amount"] if r["type"] == ledger.CREDIT else None
        section = "recharge" if r["label"] == "Recharge" else "usage" if r.get("category") else "adjustment"
        row(section, clock.iso(r["at"]), usage_text(r) if r.get("category") else r["label"], r["reference"],
            rs(credit), rs(None if credit is not None else r["amount"]), rs(r["balance_after"]))
    row("closing", clock.iso(min(st["period_end"], st["generated_at"])), f"Closing balance {st['month']}"
        + (" (month to date)" if st["to_date"] else ""), "", rs(st["credits"]), rs(st["debits"]), rs(st["closing"]))
    return buf.getvalue()
