"""Read models for charts, admin views and exports: daily rollups, never a re-aggregation of the ledger.

Every number comes through the ledger's views: `ledger.day_totals` (one wallet's days),
`ledger.days_across` (every wallet's days), `ledger.wallet_summaries` (every wallet's balance and today),
`ledger.get_wallet`; CSV exports stream the ledger through `ledger.iter_entries`. Every day here is a
business day (services.clock: midnight to midnight IST by default) and CSV times carry its offset.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from services import calls, clock, csvout, ledger, names, payments, settings, spending, users, wallet
from services.checks import whole_number
from services.errors import InvalidInput
from services.money import to_rupees

MAX_RANGE_DAYS = spending.MAX_RANGE_DAYS


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
    balances: list[dict] = []
    low: list[dict] = []
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
    spending.check_range(start, end)
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
    spending.check_range(start, end)
    days: dict[str, dict] = {}
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
    spending.check_range(start, end)
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

LEDGER_COLUMNS = ("created_at", "entry_id", "user_id", "entry_no", "type", "category", "amount_rupees",
                  "balance_after_rupees", "reference", "source", "note")


def entry_cells(e: dict) -> list:
    # ISO-8601 with the business zone's offset: a spreadsheet shows the time a person in India read.
    return [clock.iso(e["created_at"]), e["_id"], e["user_id"],
            int(e.get("n", e.get("seq", 0))), e["type"], e["category"], str(to_rupees(e["amount"])),
            str(to_rupees(e["balance_after"])), e.get("key", ""), e.get("source", ""), e.get("note", "")]


def export_csv(db, *, user_id: str | None = None, type: str | None = None, category: str | None = None,
               start: datetime | None = None, end: datetime | None = None, progress=None):
    """Stream the matching ledger entries as CSV lines, oldest first.

    `progress(done_fraction, rows)` is called every 500 rows when a start and end are given.
    """
    entries = ledger.iter_entries(db, user_id=user_id, type=type, category=category, start=start, end=end)
    if progress is None:
        yield from csvout.csv_rows(entries, columns=LEDGER_COLUMNS, cells=entry_cells)
        return
    span = (end - start).total_seconds() if start and end else 0
    n = 0
    yield csvout.line(LEDGER_COLUMNS)
    for e in entries:
        yield csvout.line(entry_cells(e))
        n += 1
        if n % 500 == 0 and span > 0:
            progress(min(1.0, (clock.as_utc(e["created_at"]) - start).total_seconds() / span), n)
    progress(1.0, n)


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
                cn.get(c.get("campaign_id") or "", c.get("campaign_id") or ""), c["kb_id"],
                c.get("billed_seconds") or 0, str(to_rupees(c["rate_paise"])), str(to_rupees(c.get("cost_paise") or 0)),
                call_note(c)]
    yield from csvout.csv_rows(calls.iter_history(db, user_id, f), columns=CALL_COLUMNS, cells=cells)


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
    spending.check_range(start, end)
    return clock.day_span(start, end)
