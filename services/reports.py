"""Staff views and exports: totals, lists and trends from the staff views' read model (services.staffview:
kept from the ledger's feed, so a page costs the same at 1,000 and at 100,000 customers), exports streamed
from the ledger in pages. Every day here is a business day (services.clock: midnight to midnight IST by
default) and CSV times carry its offset.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services import (accounts, calls, clock, csvout, grants, ledger, names, payments, settings, spending, staffview,
                      users)
from services.checks import whole_number
from services.errors import InvalidInput
from services.money import to_rupees

MAX_RANGE_DAYS = spending.MAX_RANGE_DAYS
# A staff page brings the views up to date first when at most this many wallets changed since the last
# pass (a few hundred ms); beyond, it shows them as of the worker's last pass (`as_of`).
REFRESH_MOST = 300
LOW_LISTED = 100


def _fresh(db) -> dict | None:
    """The views refreshed when that is cheap; their totals (None while they are first being built)."""
    staffview.refresh(db, most=REFRESH_MOST)
    return staffview.read.totals(db)


# ------------------------------------------------------------------------------------ across users

def admin_summary(db, *, top: int = 10, period_days: int = 30) -> dict:
    """Totals and lists for the admin dashboard and `GET /admin/summary`. `users` and the lists count
    customers only (staff wallets sit at zero by design); money totals count every wallet. Today's
    credits are split: paid recharges and credits given (manual, promotional, refunds back). `as_of`:
    the time the views were last brought up to date (None: not built yet, every figure 0)."""
    whole_number(top, 1, 1000, what="top")
    whole_number(period_days, 1, MAX_RANGE_DAYS, what="period_days")
    low_at = settings.get(db)["low_balance_paise"]
    t = _fresh(db) or {"balance": 0, "held": 0, "since": None}
    staff = users.staff(db)
    d = staffview.read.day(db, today())
    paid = int(d["cat"].get("recharge", 0))
    low, low_count = _low(db, staff, low_at, max(top, LOW_LISTED))
    top_rows = staffview.read.first(db, "balance", top, descending=True, leave_out=staff)
    spenders = top_spenders(db, today() - timedelta(days=period_days - 1), today(), top=top)
    return {"total_balance_paise": t["balance"], "total_held_paise": t["held"],
            "users": users.count(db) - len(staff), "staff": len(staff), "today_credits_paise": d["credits"],
            "today_recharges_paise": paid, "today_free_credits_paise": d["credits"] - paid,
            "today_debits_paise": d["debits"], "today_count": d["credit_count"] + d["debit_count"],
            "low_balance_paise": low_at, "low_balance_count": low_count, "low_balance_users": low,
            "top_spenders": [{"username": r["username"], "spent_paise": r["spent_paise"]} for r in spenders],
            "top_balances": [{"username": r["_id"], "balance_paise": int(r["balance"])} for r in top_rows],
            "period_days": period_days, "failed_payments": list(payments.failed_payments(db, limit=100)),
            "as_of": t["since"]}


def _low(db, staff: dict, low_at: int, listed: int) -> tuple[list[dict], int]:
    """Customers with less than `low_at` available (wallet.is_low: staff never are), lowest first, and how
    many there are: an index range and an index count."""
    rows = staffview.read.first(db, "available", listed, descending=False, below=low_at, leave_out=staff)
    low = [{"username": r["_id"], "balance_paise": int(r["balance"]), "available_paise": int(r["available"])}
           for r in rows]
    staff_low = sum(1 for r in staffview.read.of(db, staff).values() if int(r["available"]) < low_at)
    return low, staffview.read.count_below(db, "available", low_at) - staff_low


def breakage(db, first: date, last: date) -> list[dict]:
    """services.grants' breakage rows from the staff views' day totals: O(days) whatever the customer
    count (the full recount, grants.breakage, only while the views are first being built)."""
    grants.check_months(first, last)
    if _fresh(db) is None:
        return grants.breakage(db, first, last)
    days = staffview.read.days(db, first.replace(day=1), last)
    return grants.breakage_of((d, x["grants"]) for d, x in days.items())


USER_SORTS = {"balance": "balance_paise", "available": "available_paise", "last_activity": "last_activity",
              "username": "username", "name": "name", "role": "role"}
PER_PAGE = 100


@dataclass(frozen=True)
class UserPage:
    rows: list[dict]
    total: int        # accounts in the listing (for a search: found so far, `more` if it went on)
    page: int         # 1-based
    pages: int
    more: bool = False


def user_page(db, *, search: str = "", sort: str = "balance", descending: bool = True, page: int = 1,
              per_page: int = PER_PAGE) -> UserPage:
    """One page of accounts with their balances and last activity for the admin table, sorted in the
    database: balances through the staff views' indexes, names and roles through the users'. `search`
    finds a username, name or e-mail (the first 500 matches, sorted here)."""
    if sort not in USER_SORTS:
        raise InvalidInput(f"Sort by one of {', '.join(USER_SORTS)}.")
    whole_number(page, 1, what="Page")
    whole_number(per_page, 1, 1000, what="Page size")
    skip = (page - 1) * per_page
    _fresh(db)
    if (search or "").strip():
        found, more = users.search(db, search)
        rows = _with_wallets(db, found)
        key = USER_SORTS[sort]
        known = sorted((r for r in rows if r[key] is not None), key=lambda r: r[key], reverse=descending)
        rows = known + [r for r in rows if r[key] is None]
        return UserPage(rows[skip:skip + per_page], len(rows), page, max(1, -(-len(rows) // per_page)), more)
    total = users.count(db)
    if sort in users.ORDERS:
        rows = _with_wallets(db, users.ordered(db, sort, descending=descending, skip=skip, limit=per_page))
    else:
        ranked = staffview.read.ranked(db, staffview.read.FIELDS[sort], descending=descending, skip=skip,
                                       limit=per_page)
        people = {uid: u for uid in (r["_id"] for r in ranked) if (u := _user(db, uid)) is not None}
        rows = [_row(people[r["_id"]], r) for r in ranked if r["_id"] in people]
    return UserPage(rows, total, page, max(1, -(-total // per_page)))


def _user(db, uid: str) -> dict | None:
    try:
        return users.get(db, uid)
    except Exception:  # a wallet with no user behind it (tests, scripts): not an account to list
        return None


def _with_wallets(db, people: list[dict]) -> list[dict]:
    got = staffview.read.of(db, [u["username"] for u in people])
    return [_row(u, got.get(u["username"])) for u in people]


def _row(u: dict, r: dict | None) -> dict:
    b, h = (int(r["balance"]), int(r["held"])) if r else (0, 0)
    return {"username": u["username"], "name": u["name"], "email": u["email"], "role": u["role"],
            "phone": u.get("phone") or "", "balance_paise": b, "held_paise": h, "available_paise": b - h,
            "last_activity": clock.as_utc(r.get("active_at")) if r else None}


def top_spenders(db, start: date, end: date, *, top: int = 10) -> list[dict]:
    """The `top` customers by what they spent over [start, end] (usage only: services.spending's rule;
    refunds are not spending), largest first: {username, spent_paise, calls, call_seconds}. Within the last
    staffview.WINDOW_DAYS days from the views' indexes; an older range from the rollups."""
    spending.check_range(start, end)
    if (today() - start).days < staffview.WINDOW_DAYS and end <= today():
        _fresh(db)
        best = staffview.read.top_spenders(db, start, end, top)
    else:
        best = _spent_across(db, start, end)[:top]
    out = []
    for r in best:
        days = ledger.day_totals(db, r["username"], start.isoformat(), end.isoformat()).values()
        out.append({"username": r["username"], "spent_paise": r["spent_paise"],
                    "calls": sum(int(v.get("calls", 0)) for v in days),
                    "call_seconds": sum(int(v.get("call_seconds", 0)) for v in days)})
    return out


def _spent_across(db, start: date, end: date) -> list[dict]:
    spent: dict[str, int] = {}
    for uid, _day, vals in ledger.days_across(db, start.isoformat(), end.isoformat(), {"cat": 1}):
        spent[uid] = spent.get(uid, 0) + spending.spent_of(vals.get("cat"))
    rows = [{"username": u, "spent_paise": x} for u, x in spent.items() if x > 0]
    return sorted(rows, key=lambda r: (-r["spent_paise"], r["username"]))


def spending_trends(db, start: date, end: date) -> list[dict]:
    """Per day across all users: credits, debits (all money out), spent (usage: services.spending's rule),
    other_out (refunds to banks, amounts due paid), per-category amounts, calls, call seconds, active users
    (one document per day of the staff views)."""
    spending.check_range(start, end)
    _fresh(db)
    out = []
    for d, v in staffview.read.days(db, start, end).items():
        spent = spending.spent_of(v["cat"])
        out.append({"day": d, "credits": v["credits"], "debits": v["debits"], "spent": spent,
                    "other_out": v["debits"] - spent, "calls": v["calls"], "call_seconds": v["call_seconds"],
                    "active_users": v["active"], "cat": v["cat"]})
    return out


SUMMARY_COLUMNS = ("username", "name", "email", "recharges_paise", "free_credits_paise", "other_credits_paise",
                   "debits_paise", "spent_paise", "refunded_paise", "credit_count", "debit_count", "calls",
                   "call_seconds", "balance_paise",
                   "held_paise")


def user_summary(db, start: date, end: date, *, page: int = 1000):
    """Per customer over [start, end] (staff accounts are not customers), in username order, streamed in
    pages of customers: money in, split into paid recharges, free credits (manual, promotional) and other
    credits (refunds back, adjustments); money out; calls, call seconds; the current balance. Keys:
    SUMMARY_COLUMNS (plus `credits_paise`); money out is split into spent (usage: services.spending's rule)
    and refunded (to the bank, amounts due paid). A range inside the staff views' window (the last
    staffview.WINDOW_DAYS days) is read from each customer's row alone; an older one from the rollups of
    its days (an index range), summed per customer who had any first."""
    spending.check_range(start, end)
    lo, hi = start.isoformat(), end.isoformat()
    _fresh(db)
    older = (today() - start).days >= staffview.WINDOW_DAYS
    acc = _summed_across(db, lo, hi) if older else None
    batch: list[dict] = []
    for u in users.every(db, page=page):
        batch.append(u)
        if len(batch) == page:
            yield from _summaries(db, batch, acc, lo, hi)
            batch = []
    yield from _summaries(db, batch, acc, lo, hi)


def _summaries(db, people: list[dict], acc, lo: str, hi: str):
    if not people:
        return
    got = staffview.read.between(db, people[0]["username"], people[-1]["username"])
    for u in people:
        if u["role"] in users.STAFF_ROLES:
            continue
        r = got.get(u["username"])
        sums = (acc.get(u["username"]) if acc is not None else staffview.summed(r, lo, hi) if r else None) or \
            dict.fromkeys(staffview.HIST, 0)
        yield _summary_row(u, sums, r)


def _summed_across(db, lo: str, hi: str) -> dict[str, dict]:
    acc: dict[str, dict] = {}
    for uid, _day, vals in ledger.days_across(db, lo, hi):
        a = acc.setdefault(uid, dict.fromkeys(staffview.HIST, 0))
        for k, v in zip(staffview.HIST, staffview.hist_of(vals), strict=True):
            a[k] += v
    return acc


def _summary_row(u: dict, a: dict, w: dict | None) -> dict:
    return {"username": u["username"], "name": u["name"], "email": u["email"], "credits_paise": a["credits"],
            "recharges_paise": a["paid"], "free_credits_paise": a["free"],
            "other_credits_paise": a["credits"] - a["paid"] - a["free"], "debits_paise": a["debits"],
            "spent_paise": a["spent"], "refunded_paise": a["debits"] - a["spent"], "credit_count": a["credit_count"],
            "debit_count": a["debit_count"], "calls": a["calls"],
            "call_seconds": a["call_seconds"], "balance_paise": int(w["balance"]) if w else 0,
            "held_paise": int(w["held"]) if w else 0}


# ------------------------------------------------------------------------------------------- CSV

# New columns go at the end: a reader that picks columns by position keeps working.
LEDGER_COLUMNS = ("created_at", "entry_id", "user_id", "entry_no", "type", "category", "amount_rupees",
                  "balance_after_rupees", "reference", "source", "note", "api_key")


def entry_cells(e: dict, key_names: dict[str, str] | None = None) -> list:
    # ISO-8601 with the business zone's offset: a spreadsheet shows the time a person in India read.
    key = (e.get("meta") or {}).get("key_id") or ""
    return [clock.iso(e["created_at"]), e["_id"], e["user_id"],
            int(e.get("n", e.get("seq", 0))), e["type"], e["category"], str(to_rupees(e["amount"])),
            str(to_rupees(e["balance_after"])), e.get("key", ""), e.get("source", ""), e.get("note", ""),
            (key_names or {}).get(key, key)]


def export_csv(db, *, user_id: str | None = None, type: str | None = None, category: str | None = None,
               start: datetime | None = None, end: datetime | None = None, progress=None):
    """Stream the matching ledger entries as CSV lines, oldest first.

    `progress(done_fraction, rows)` is called every 500 rows when a start and end are given.
    """
    entries = ledger.iter_entries(db, user_id=user_id, type=type, category=category, start=start, end=end)
    key_names = accounts.keys.names_of(db, user_id)  # the API key each call was placed with, by name

    def cells(e: dict) -> list:
        return entry_cells(e, key_names)
    if progress is None:
        yield from csvout.csv_rows(entries, columns=LEDGER_COLUMNS, cells=cells)
        return
    span = (end - start).total_seconds() if start and end else 0
    n = 0
    yield csvout.line(LEDGER_COLUMNS)
    for e in entries:
        yield csvout.line(cells(e))
        n += 1
        if n % 500 == 0 and span > 0:
            progress(min(1.0, (clock.as_utc(e["created_at"]) - start).total_seconds() / span), n)
    progress(1.0, n)


CALL_COLUMNS = ("started_at", "call_id", "to_number", "status", "outcome", "campaign", "kb_id", "billed_seconds",
                "rate_rupees", "cost_rupees", "note", "api_key")


def call_note(c: dict) -> str:
    """What a person should know about a call beyond its status: cut off, and why it was refused or ended."""
    return "; ".join(x for x in ("cut off" if c.get("cut_off") else "", c.get("message") or "") if x)


def _call_cells(c: dict, campaign_names: dict[str, str], key_names: dict[str, str]) -> list:
    return [clock.iso(c["started_at"]) if c.get("started_at") else "", c["call_id"], c["to_number"],
            names.label(names.CALL_STATUS, c["status"]), names.label(names.OUTCOME, c.get("outcome")),
            campaign_names.get(c.get("campaign_id") or "", c.get("campaign_id") or ""), c["kb_id"],
            c.get("billed_seconds") or 0, str(to_rupees(c["rate_paise"])), str(to_rupees(c.get("cost_paise") or 0)),
            call_note(c), key_names.get(c.get("key_id") or "", c.get("key_id") or "")]


def calls_csv(db, user_id: str, f, campaign_names: dict[str, str] | None = None):
    """CSV lines of every call of `user_id` matching `f` (services.calls.Filters), newest first."""
    cn = campaign_names or {}
    kn = accounts.keys.names_of(db, user_id)
    yield from csvout.csv_rows(calls.iter_history(db, user_id, f), columns=CALL_COLUMNS,
                               cells=lambda c: _call_cells(c, cn, kn))


ALL_CALL_COLUMNS = ("username",) + CALL_COLUMNS


def all_calls_csv(db, first: date, last: date, progress=None):
    """The analyst's calls export: CSV lines of every customer's calls started on the business days
    [first, last], oldest first. `progress(done_fraction, rows)` every 500 rows and at the end."""
    start, end = day_range(first, last)
    span = (end - start).total_seconds()
    yield csvout.line(ALL_CALL_COLUMNS)
    n = 0
    for c in calls.iter_all(db, start, end):
        yield csvout.line([c["user_id"], *_call_cells(c, {}, {})])  # key ids: names are each account's own
        n += 1
        if progress and n % 500 == 0:
            progress(min(1.0, (c["started_at"] - start).total_seconds() / span), n)
    if progress:
        progress(1.0, n)


# ------------------------------------------------------------------------------------------ dates

def today_transactions(db, *, limit: int = 200) -> list[dict]:
    """Today's entries across all users, newest first, at most `limit` (up to staffview's RECENT): the staff
    views keep the day's latest as they count each wallet's new entries."""
    _fresh(db)
    return staffview.read.recent(db, today(), limit)


def today() -> date:
    """The business day now (services.clock: midnight in the business zone starts a day)."""
    return clock.today()


def day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the business zone: the UTC instants a ledger query wants."""
    spending.check_range(start, end)
    return clock.day_span(start, end)
