"""Read models for charts and admin views: daily rollups, never a re-aggregation of the ledger."""
from __future__ import annotations

from datetime import date, timedelta

from services import clock


def daily(db, user_id: str, start: date, end: date) -> list[dict]:
    """One row per day in [start, end] (inclusive) with credits, debits, per-category amounts, calls,
    call seconds and the closing balance; days with no activity are filled with zeros."""
    lo, hi = start.isoformat(), end.isoformat()
    rows = {d["day"]: d for d in db.rollups.find({"user_id": user_id, "day": {"$gte": lo, "$lte": hi}})}
    w = db.wallets.find_one({"_id": user_id}, {"days": 1}) or {}
    for day, vals in (w.get("days") or {}).items():  # the wallet's copy wins: it is the live one
        if lo <= day <= hi:
            rows[day] = dict(vals, day=day)
    out = []
    d = start
    while d <= end:
        r = rows.get(d.isoformat(), {})
        out.append({"day": d.isoformat(), "credits": int(r.get("credits", 0)), "debits": int(r.get("debits", 0)),
                    "credit_count": int(r.get("credit_count", 0)), "debit_count": int(r.get("debit_count", 0)),
                    "calls": int(r.get("calls", 0)), "call_seconds": int(r.get("call_seconds", 0)),
                    "cat": {k: int(v) for k, v in (r.get("cat") or {}).items()},
                    "balance": int(r["balance"]) if "balance" in r else None})
        d += timedelta(days=1)
    return out


def today() -> date:
    return clock.now().date()
