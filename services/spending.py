"""A wallet's days: money in and out per business day, the closing balance, and how long the balance lasts
at the recent rate of spending (the runway forecast alerts and auto-recharge plan with). Read from the
ledger's daily rollups, never a re-aggregation of the ledger.

THE rule of what counts as spending: usage only (calls, campaign calls: `USAGE_CATEGORIES`). Money that
leaves the wallet otherwise (a refund to the customer's bank, an amount due paid from a later credit) is
not spending; a day's `other_out` says how much of that there was, so it can be shown as what it is.
Insights, the admin's top spenders, the analyst's totals and the runway forecast all read `spent_of`."""
from __future__ import annotations

from datetime import date, timedelta

from services import clock, ledger
from services.checks import whole_number
from services.errors import InvalidInput

# Longest date range a report may span: bounds what one request reads.
MAX_RANGE_DAYS = 366
# Debits that are usage. Every other debit category (refund) is money going back, never spending; usage
# categories are debits only, so their per-category amounts in a rollup's `cat` are exactly what was spent.
USAGE_CATEGORIES = ledger.CALL_CATEGORIES + ledger.SERVICE_CATEGORIES  # calls, and other services (usage)


def is_usage(category: str) -> bool:
    return category in USAGE_CATEGORIES


def spent_of(cat: dict | None) -> int:
    """Paise spent in a rollup's per-category amounts (`cat`): usage only."""
    return sum(int(v) for k, v in (cat or {}).items() if k in USAGE_CATEGORIES)


def _row(day: str, r: dict) -> dict:
    cat = {k: int(v) for k, v in (r.get("cat") or {}).items()}
    debits, spent = int(r.get("debits", 0)), spent_of(cat)
    return {"day": day, "credits": int(r.get("credits", 0)), "debits": debits, "spent": spent,
            "other_out": debits - spent,
            "credit_count": int(r.get("credit_count", 0)), "debit_count": int(r.get("debit_count", 0)),
            "calls": int(r.get("calls", 0)), "call_seconds": int(r.get("call_seconds", 0)), "cat": cat,
            "keys": {k: int(v) for k, v in (r.get("keys") or {}).items()},
            "svc": {k: int(v) for k, v in (r.get("svc") or {}).items()},
            "balance": int(r["balance"]) if r.get("balance") is not None else None}


def daily(db, user_id: str, start: date, end: date) -> list[dict]:
    """One row per day in [start, end] (inclusive) with credits, debits (all money out), `spent` (usage:
    the spending rule), `other_out` (refunds to the bank, amounts due paid), per-category amounts, calls,
    call seconds and the closing balance; days with no activity are filled with zeros (balance None)."""
    check_range(start, end)
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


def key_totals(rows: list[dict]) -> dict[str, int]:
    """Spend per API key over daily rows (key id -> paise), largest first; calls placed without a key
    are not in it."""
    out: dict[str, int] = {}
    for r in rows:
        for k, v in r["keys"].items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def service_totals(rows: list[dict]) -> dict[str, int]:
    """Spend per other service (SMS, a number's fee...: services.usage) over daily rows, largest first."""
    out: dict[str, int] = {}
    for r in rows:
        for k, v in r["svc"].items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def category_totals(rows: list[dict], kind: str = "debit") -> dict[str, int]:
    """Sum of each category over daily rows; `kind` picks spending (debit: usage only) or money in (credit)."""
    want = set(USAGE_CATEGORIES) if kind == "debit" else set(ledger.CATEGORIES) - set(USAGE_CATEGORIES)
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
    (default today), cut to the wallet's age. Spent is usage only (a refund to the bank does not shorten
    the runway). Low-balance alerts ask for 7 days through yesterday: whole business days, so the figure
    for a day does not move while that day's entries come in."""
    whole_number(window_days, 1, MAX_RANGE_DAYS, what="The window", unit="of days")
    end = through if through is not None else clock.today()
    start = end - timedelta(days=window_days - 1)
    created = ledger.get_wallet(db, user_id).created_at
    # A wallet younger than the window would look thriftier than it is if we divided by the window.
    if created is not None and clock.date_of(created) > start:
        start = clock.date_of(created)
    if start > end:  # not one day of history yet
        return 0, 0
    return sum(r["spent"] for r in daily(db, user_id, start, end)), (end - start).days + 1


def runway_days(available: int, spent: int, span: int) -> int | None:
    """THE runway arithmetic: whole days `available` paise last at `spent` paise per `span` days, rounded
    down (promise no more than the money covers); None when nothing was spent."""
    if spent <= 0:
        return None
    return max(0, available) * span // spent


def check_range(start: date, end: date) -> None:
    if not isinstance(start, date) or not isinstance(end, date):
        raise InvalidInput("Pick a start and an end date.")
    if start > end:
        raise InvalidInput("The start date is after the end date.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(f"Pick a range of at most {MAX_RANGE_DAYS} days.")
