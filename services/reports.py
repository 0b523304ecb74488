"""Read models for charts, admin views and exports: daily rollups, never a re-aggregation of the ledger.

Every number comes through the ledger's views: `ledger.day_totals` (one wallet's days),
`ledger.days_across` (every wallet's days), `ledger.wallet_summaries` (every wallet's balance and today),
`ledger.get_wallet`; CSV exports stream the ledger through `ledger.iter_entries`. Every day here is a
business day (services.clock: midnight to midnight IST by default) and CSV times carry its offset.
"""
from __future__ import annotations

import csv
import io
import unicodedata
from datetime import date, datetime, timedelta

from services import calls, clock, ledger, names, payments, settings, users, wallet
from services.checks import whole_number
from services.errors import InvalidInput
from services.money import to_rupees

# Longest date range a report may span: bounds what one request reads.
MAX_RANGE_DAYS = 366


# ------------------------------------------------------------------------------------- daily rollups

def _row(day: str, r: dict) -> dict:
    return {"day": day, "credits": int(r.get("credits", 0)), "debits": int(r.get("debits", 0)),
            "credit_count": int(r.get("credit_count", 0)), "debit_count": int(r.get("debit_count", 0)),
            "calls": int(r.get("calls", 0)), "call_seconds": int(r.get("call_seconds", 0)),
            "cat": {k: int(v) for k, v in (r.get("cat") or {}).items()},
            "balance": int(r["balance"]) if r.get("balance") is not None else None}


def daily(db, user_id: str, start: date, end: date) -> list[dict]:
    """One row per day in [start, end] (inclusive) with credits, debits, per-category amounts, calls,
    call seconds and the closing balance; days with no activity are filled with zeros (balance None)."""
    _check_range(start, end)
    rows = ledger.day_totals(db, user_id, start.isoformat(), end.isoformat())
    out = []
    d = start
    while d <= end:
        out.append(_row(d.isoformat(), rows.get(d.isoformat(), {})))
        d += timedelta(days=1)
    return out


def balance_series(db, user_id: str, start: date, end: date, *, rows: list[dict] | None = None) -> list[dict]:
    """Closing balance per day, carried over days without activity (a rollup only records active days)."""
    rows = rows if rows is not None else daily(db, user_id, start, end)
    first = next((i for i, r in enumerate(rows) if r["balance"] is not None), None)
    if first is None:
        bal = ledger.get_wallet(db, user_id).balance
        return [{"day": r["day"], "balance": bal} for r in rows]
    # Before the first active day in range: that day's opening balance = its close - credits + debits.
    r0 = rows[first]
    bal = r0["balance"] - r0["credits"] + r0["debits"]
    out = []
    for r in rows:
        if r["balance"] is not None:
            bal = r["balance"]
        out.append({"day": r["day"], "balance": bal})
    return out


def category_totals(rows: list[dict], kind: str = "debit") -> dict[str, int]:
    """Sum of each category over daily rows; `kind` picks spending (debit) or money in (credit)."""
    want = set(ledger.CALL_CATEGORIES) if kind == "debit" else set(ledger.CATEGORIES) - set(ledger.CALL_CATEGORIES)
    out: dict[str, int] = {}
    for r in rows:
        for k, v in r["cat"].items():
            if k in want:
                out[k] = out.get(k, 0) + v
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def runway(db, user_id: str, *, window_days: int = 30, available: int | None = None,
           through: date | None = None) -> dict:
    """"At this rate your balance lasts about N days": the available balance over the average daily
    spend of the `window_days` days ending with `through` (default today, included). Integer math; `days`
    is None with no spending."""
    if available is None:
        available = ledger.get_wallet(db, user_id).available
    spent, span = runway_basis(db, user_id, window_days=window_days, through=through)
    return {"days": runway_days(available, spent, span), "avg_daily_paise": -(-spent // span) if spent > 0 else 0,
            "available_paise": available, "window_days": span}


def runway_basis(db, user_id: str, *, window_days: int = 30, through: date | None = None) -> tuple[int, int]:
    """(paise spent, days) over the window `runway` divides by: `window_days` days ending with `through`
    (default today), cut to the wallet's age. Low-balance alerts ask for 7 days through yesterday: whole
    business days, so the figure for a day does not move while that day's entries come in."""
    whole_number(window_days, 1, MAX_RANGE_DAYS, what="The window", unit="of days")
    end = through if through is not None else today()
    start = end - timedelta(days=window_days - 1)
    created = ledger.get_wallet(db, user_id).created_at
    # A wallet younger than the window would look thriftier than it is if we divided by the window.
    if created is not None and clock.date_of(created) > start:
        start = clock.date_of(created)
    if start > end:  # not one day of history yet
        return 0, 0
    return sum(r["debits"] for r in daily(db, user_id, start, end)), (end - start).days + 1


def runway_days(available: int, spent: int, span: int) -> int | None:
    """THE runway arithmetic: whole days `available` paise last at `spent` paise per `span` days, rounded
    down (promise no more than the money covers); None when nothing was spent."""
    if spent <= 0:
        return None
    return max(0, available) * span // spent


# ------------------------------------------------------------------------------------ across users

def _days_across(db, start: date, end: date, fields: dict | None = None):
    """(user_id, day, values) for every active (user, day) in range."""
    return ledger.days_across(db, start.isoformat(), end.isoformat(), fields)


def admin_summary(db, *, top: int = 10, period_days: int = 30) -> dict:
    """Totals and lists for the admin dashboard and `GET /admin/summary`, from wallets and rollups.
    `users` and the lists count customers only (staff wallets sit at zero by design); money totals
    count every wallet. Today's credits are split: paid recharges and credits given (manual,
    promotional, refunds back)."""
    whole_number(top, 1, 1000, what="top")
    whole_number(period_days, 1, MAX_RANGE_DAYS, what="period_days")
    low_at = settings.get(db)["low_balance_paise"]
    roles = users.roles(db)
    total = held = credits = paid = debits = count = 0
    balances, low = [], []
    for w in ledger.wallet_summaries(db):
        total += w.balance
        held += w.held
        if roles.get(w.user_id) not in users.STAFF_ROLES:
            balances.append({"username": w.user_id, "balance_paise": w.balance})
        if wallet.is_low(w.available, low_at, roles.get(w.user_id)):
            low.append({"username": w.user_id, "balance_paise": w.balance, "available_paise": w.available})
        credits += w.today_credits
        paid += w.today_recharges
        debits += w.today_debits
        count += w.today_count
    low.sort(key=lambda r: (r["available_paise"], r["username"]))
    balances.sort(key=lambda r: (-r["balance_paise"], r["username"]))
    spenders = [{"username": r["username"], "spent_paise": r["spent_paise"]}
                for r in top_spenders(db, today() - timedelta(days=period_days - 1), today(), top=top)]
    customers = sum(1 for r in roles.values() if r not in users.STAFF_ROLES)
    return {"total_balance_paise": total, "total_held_paise": held, "users": customers,
            "staff": len(roles) - customers, "today_credits_paise": credits, "today_recharges_paise": paid,
            "today_free_credits_paise": credits - paid, "today_debits_paise": debits, "today_count": count,
            "low_balance_paise": low_at, "low_balance_count": len(low),
            "low_balance_users": low[:max(top, 100)], "top_spenders": spenders,
            "top_balances": balances[:top], "period_days": period_days,
            "failed_payments": list(payments.failed_payments(db, limit=100))}


USER_SORTS = {"balance": "balance_paise", "available": "available_paise", "last_activity": "last_activity",
              "username": "username", "name": "name", "role": "role"}


def user_balances(db, *, search: str = "", sort: str = "balance", descending: bool = True,
                  limit: int = 500) -> list[dict]:
    """Users with their balances and last activity for the admin table: one read of users, one of
    wallets. `search` finds a username, name, e-mail or phone number (any of its digits)."""
    if sort not in USER_SORTS:
        raise InvalidInput(f"Sort by one of {', '.join(USER_SORTS)}.")
    ws = {w.user_id: w for w in ledger.wallet_summaries(db)}
    rows = []
    for u in users.list_all(db):
        if not _found(u, search):
            continue
        w = ws.get(u["username"])
        b, h = (w.balance, w.held) if w else (0, 0)
        rows.append({"username": u["username"], "name": u["name"], "email": u["email"], "role": u["role"],
                     "phone": u.get("phone") or "", "balance_paise": b, "held_paise": h, "available_paise": b - h,
                     "last_activity": w.updated_at if w else None})
    key = USER_SORTS[sort]
    known = sorted((r for r in rows if r[key] is not None), key=lambda r: r[key], reverse=descending)
    return (known + [r for r in rows if r[key] is None])[:limit]  # never active: last either way


def _found(u: dict, search: str) -> bool:
    s = (search or "").strip().lower()
    if not s:
        return True
    digits = "".join(ch for ch in s if ch.isdigit())
    phone = "".join(ch for ch in str(u.get("phone") or "") if ch.isdigit())
    return s in u["username"] or s in u["name"].lower() or s in u["email"].lower() or \
        (len(digits) >= 3 and digits == s.replace(" ", "").lstrip("+") and digits in phone)


def top_spenders(db, start: date, end: date, *, top: int = 10) -> list[dict]:
    _check_range(start, end)
    spent: dict[str, dict] = {}
    for uid, _day, vals in _days_across(db, start, end, {"debits": 1, "calls": 1, "call_seconds": 1}):
        s = spent.setdefault(uid, {"username": uid, "spent_paise": 0, "calls": 0, "call_seconds": 0})
        s["spent_paise"] += int(vals.get("debits", 0))
        s["calls"] += int(vals.get("calls", 0))
        s["call_seconds"] += int(vals.get("call_seconds", 0))
    rows = [r for r in spent.values() if r["spent_paise"] > 0]
    rows.sort(key=lambda r: (-r["spent_paise"], r["username"]))
    return rows[:top]


def spending_trends(db, start: date, end: date) -> list[dict]:
    """Per day across all users: credits, debits, per-category amounts, calls, call seconds, active users."""
    _check_range(start, end)
    days = {}
    d = start
    while d <= end:
        days[d.isoformat()] = {"day": d.isoformat(), "credits": 0, "debits": 0, "calls": 0, "call_seconds": 0,
                               "active_users": 0, "cat": {}}
        d += timedelta(days=1)
    for _uid, day, vals in _days_across(db, start, end):
        r = days[day]
        r["credits"] += int(vals.get("credits", 0))
        r["debits"] += int(vals.get("debits", 0))
        r["calls"] += int(vals.get("calls", 0))
        r["call_seconds"] += int(vals.get("call_seconds", 0))
        r["active_users"] += 1
        for k, v in (vals.get("cat") or {}).items():
            r["cat"][k] = r["cat"].get(k, 0) + int(v)
    return list(days.values())


SUMMARY_COLUMNS = ("username", "name", "email", "recharges_paise", "free_credits_paise", "other_credits_paise",
                   "debits_paise", "credit_count", "debit_count", "calls", "call_seconds", "balance_paise",
                   "held_paise")


def user_summary(db, start: date, end: date) -> list[dict]:
    """Per customer over [start, end] (staff accounts are not customers): money in, split into paid
    recharges, free credits (manual, promotional) and other credits (refunds back, adjustments); money
    out; calls, call seconds; the current balance. Keys: SUMMARY_COLUMNS (plus `credits_paise`)."""
    _check_range(start, end)
    people = {u["username"]: u for u in users.list_all(db) if u["role"] not in users.STAFF_ROLES}
    ws = {w.user_id: w for w in ledger.wallet_summaries(db)}
    zero = {"credits": 0, "debits": 0, "credit_count": 0, "debit_count": 0, "calls": 0, "call_seconds": 0,
            "paid": 0, "free": 0}
    acc = {u: dict(zero) for u in people}
    for uid, _day, vals in _days_across(db, start, end):
        if uid not in acc:
            continue
        a = acc[uid]
        for k in ("credits", "debits", "credit_count", "debit_count", "calls", "call_seconds"):
            a[k] += int(vals.get(k, 0))
        cat = vals.get("cat") or {}
        a["paid"] += int(cat.get("recharge", 0))
        a["free"] += sum(int(cat.get(c, 0)) for c in names.FREE_CREDIT_CATEGORIES)
    out = []
    for uid in sorted(acc):
        a, w, u = acc[uid], ws.get(uid), people[uid]
        out.append({"username": uid, "name": u["name"], "email": u["email"], "credits_paise": a["credits"],
                    "recharges_paise": a["paid"], "free_credits_paise": a["free"],
                    "other_credits_paise": a["credits"] - a["paid"] - a["free"], "debits_paise": a["debits"],
                    "credit_count": a["credit_count"], "debit_count": a["debit_count"], "calls": a["calls"],
                    "call_seconds": a["call_seconds"], "balance_paise": w.balance if w else 0,
                    "held_paise": w.held if w else 0})
    return out


# ------------------------------------------------------------------------------------------- CSV

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection); `|` starts a DDE
# call in some, `%` a macro-like expansion in others.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")
LEDGER_COLUMNS = ("created_at", "entry_id", "user_id", "entry_no", "type", "category", "amount_rupees",
                  "balance_after_rupees", "reference", "source", "note")


def csv_safe(cell) -> str:
    """Text for a CSV cell that a spreadsheet shows as text, never evaluates. Judged after NFKC (a
    spreadsheet may read a full-width '＝', '＋', '－', '＠' or '｜' as the sign it stands for) and past
    leading format characters (Unicode Cf: a BOM, zero-width and bidi marks are invisible and may be
    dropped by the spreadsheet, leaving the sign first)."""
    text = "" if cell is None else str(cell)
    judged = unicodedata.normalize("NFKC", text)
    start = next((i for i, ch in enumerate(judged) if unicodedata.category(ch) != "Cf"), len(judged))
    return "'" + text if judged.startswith(_FORMULA_START, start) else text


def _line(cells) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([csv_safe(c) for c in cells])
    return buf.getvalue()


def entry_cells(e: dict) -> list:
    # ISO-8601 with the business zone's offset: a spreadsheet shows the time a person in India read.
    return [clock.iso(e["created_at"]), e["_id"], e["user_id"],
            int(e.get("n", e.get("seq", 0))), e["type"], e["category"], str(to_rupees(e["amount"])),
            str(to_rupees(e["balance_after"])), e.get("key", ""), e.get("source", ""), e.get("note", "")]


def csv_rows(entries, *, columns=LEDGER_COLUMNS, cells=entry_cells):
    """Lines of CSV text (header first) for ledger entries; a generator, so memory stays flat."""
    yield _line(columns)
    for e in entries:
        yield _line(cells(e))


def export_csv(db, *, user_id: str | None = None, type: str | None = None, category: str | None = None,
               start: datetime | None = None, end: datetime | None = None, progress=None):
    """Stream the matching ledger entries as CSV lines, oldest first.

    `progress(done_fraction, rows)` is called every 500 rows when a start and end are given.
    """
    entries = ledger.iter_entries(db, user_id=user_id, type=type, category=category, start=start, end=end)
    if progress is None:
        yield from csv_rows(entries)
        return
    span = (end - start).total_seconds() if start and end else 0
    n = 0
    yield _line(LEDGER_COLUMNS)
    for e in entries:
        yield _line(entry_cells(e))
        n += 1
        if n % 500 == 0 and span > 0:
            progress(min(1.0, (clock.as_utc(e["created_at"]) - start).total_seconds() / span), n)
    progress(1.0, n)


def dicts_csv(rows: list[dict], columns: list[str]):
    """CSV lines for report rows (paise columns become rupees, named *_rupees)."""
    yield _line([c.replace("_paise", "_rupees") for c in columns])
    for r in rows:
        yield _line([str(to_rupees(r[c])) if c.endswith("_paise") else r[c] for c in columns])


CALL_COLUMNS = ("started_at", "call_id", "to_number", "status", "outcome", "campaign", "kb_id", "billed_seconds",
                "rate_rupees", "cost_rupees", "note")


def call_note(c: dict) -> str:
    """What a person should know about a call beyond its status: cut off, and why it was refused or ended."""
    return "; ".join(x for x in ("cut off" if c.get("cut_off") else "", c.get("message") or "") if x)


def calls_csv(db, user_id: str, f, campaign_names: dict[str, str] | None = None):
    """CSV lines of every call of `user_id` matching `f` (services.calls.Filters), newest first."""
    cn = campaign_names or {}

    def cells(c: dict) -> list:
        return [clock.iso(c["started_at"]) if c.get("started_at") else "", c["call_id"], c["to_number"],
                names.label(names.CALL_STATUS, c["status"]), names.label(names.OUTCOME, c.get("outcome")),
                cn.get(c.get("campaign_id") or "", c.get("campaign_id") or ""), c["kb_id"], c.get("billed_seconds") or 0,
                str(to_rupees(c["rate_paise"])), str(to_rupees(c.get("cost_paise") or 0)), call_note(c)]
    yield from csv_rows(calls.iter_history(db, user_id, f), columns=CALL_COLUMNS, cells=cells)


# ------------------------------------------------------------------------------------------ dates

def today_transactions(db, *, limit: int = 200) -> list[dict]:
    """Today's entries across all users, newest first, at most `limit`.

    The wallets' own rollups say who had activity today; only their pages are read (a ledger-wide
    date query would scan the whole ledger on the embedded engine).
    """
    t0 = clock.start_of_day(today())
    out: list[dict] = []
    for w in ledger.wallet_summaries(db):
        if w.today_count:
            page, _ = ledger.entries(db, w.user_id, start=t0, limit=limit)
            out.extend(page)
    out.sort(key=lambda e: (e["created_at"], e["_id"]), reverse=True)
    return out[:limit]


def today() -> date:
    """The business day now (services.clock: midnight in the business zone starts a day)."""
    return clock.today()


def day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the business zone: the UTC instants a ledger query wants."""
    _check_range(start, end)
    return clock.day_span(start, end)


def _check_range(start: date, end: date) -> None:
    if not isinstance(start, date) or not isinstance(end, date):
        raise InvalidInput("Pick a start and an end date.")
    if start > end:
        raise InvalidInput("The start date is after the end date.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(f"Pick a range of at most {MAX_RANGE_DAYS} days.")
