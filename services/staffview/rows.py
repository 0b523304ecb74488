"""One wallet's row of the staff views, and what a new state of the wallet changes in the totals.

A row (`staff_rows/{user}`) is what the totals count for that wallet, as of one read of it:
- `seq`: the wallet's version, `n` its entries counted; `v`: the batch that wrote the row, `b`: the build it belongs to
  (services.staffview.batches, services.staffview.build);
- `balance`, `held`, `available`, `active_at` (the wallet's last change), each indexed for the lists;
- `days`: the wallet's live rollup days as counted (today's and yesterday's, or a quiet wallet's last
  ones); `upto`: every closed day before it is counted from the `rollups` collection (the day totals hold
  `rollups` for days before `upto`, and `days` from it on);
- `hist`: the wallet's days of the last WINDOW_DAYS days (HIST: money in, paid and free apart, money out,
  counts, calls, call seconds, spent: usage only, services.spending's rule): a customer's summary over any
  range inside it reads the row alone;
- `spent_1/7/30/90`: what was spent in the windows ending on `spend_day`, indexed for the top spenders. As
  days pass with no new spending a window's sum only falls, so a stored sum is never below the current one:
  readers recompute the range they want from `hist`.
Pure functions: the reads and writes are services.staffview.batches'.
"""
from __future__ import annotations

from datetime import date, timedelta

from services import clock, names, spending

WINDOWS = (1, 7, 30, 90)
WINDOW_DAYS = max(WINDOWS)
COUNTERS = ("credits", "debits", "credit_count", "debit_count", "calls", "call_seconds")
NO_DAY = "9999-12-31"  # `upto` of a wallet with no live day: every day it had is closed


HIST = COUNTERS + ("paid", "free", "spent")
FORMAT = 3  # of rows and totals: views written in another are built again (services.staffview.build)


def window_field(days: int) -> str:
    return f"spent_{days}"


def counters(v: dict) -> dict:
    """The counters of a rollup day that the day totals add up (plain ints)."""
    out: dict = {k: int(v.get(k, 0)) for k in COUNTERS}
    out["cat"] = {k: int(x) for k, x in (v.get("cat") or {}).items()}
    # Free credit by campaign (the breakage report), keyed by the tag in hex: a campaign's name is free text,
    # and the day totals add to it by a dotted path.
    out["grants"] = nested({grant_key(t): g for t, g in (v.get("grants") or {}).items()})
    return out


def grant_key(tag: str) -> str:
    return "g" + tag.encode().hex()


def grant_tag(key: str) -> str:
    return bytes.fromhex(key[1:]).decode()


def nested(a: dict | None, b: dict | None = None, sign: int = 1) -> dict:
    """{tag: {field: paise}} maps a + sign*b, with zeros left out."""
    out: dict = {}
    for src, k in ((a or {}, 1), (b or {}, sign)):
        for t, g in src.items():
            for f, x in g.items():
                out.setdefault(t, {})[f] = out.get(t, {}).get(f, 0) + k * int(x)
    return {t: {f: x for f, x in g.items() if x} for t, g in out.items() if any(g.values())}


def hist_of(c: dict) -> list[int]:
    """A day's counters as one `hist` entry (HIST order)."""
    cat = c.get("cat") or {}
    free = sum(int(cat.get(k, 0)) for k in names.FREE_CREDIT_CATEGORIES)
    return [int(c.get(k, 0)) for k in COUNTERS] + [int(cat.get("recharge", 0)), free, spending.spent_of(cat)]


def window_sums(hist: dict[str, list], today: date) -> dict[str, int]:
    spent = HIST.index("spent")
    return {window_field(w): sum(x[spent] for d, x in hist.items()
                                 if d >= (today - timedelta(days=w - 1)).isoformat()) for w in WINDOWS}


def summed(row: dict, first_day: str, last_day: str) -> dict[str, int]:
    """The row's days in [first_day, last_day] (inside the kept window), summed: {HIST name: total}."""
    out = dict.fromkeys(HIST, 0)
    for d, x in (row.get("hist") or {}).items():
        if first_day <= d <= last_day:
            for k, v in zip(HIST, x, strict=False):  # an older row may have fewer
                out[k] += int(v)
    return out


def new_row(old: dict | None, change, closed: dict[str, dict], today: date, v: int, b: str) -> dict:
    """The row for `change` (a ledger.Change), given the previous row and the closed days read from the
    `rollups` collection between the old `upto` and the new one."""
    old = old or {}
    live = {d: counters(x) for d, x in change.days.items()}
    first = (today - timedelta(days=WINDOW_DAYS - 1)).isoformat()
    hist = {d: x for d, x in (old.get("hist") or {}).items() if d >= first}
    for d, x in list(closed.items()) + list(live.items()):
        if d >= first:
            hist[d] = hist_of(x)
    return {"_id": change.user_id, "seq": change.seq, "n": change.entries, "v": v, "b": b, "balance": change.balance,
            "held": change.held, "available": change.available, "active_at": change.updated_at or change.created_at,
            "days": live, "upto": min(live) if live else NO_DAY, "hist": hist, "spend_day": today.isoformat(),
            **window_sums(hist, today)}


EMPTY = counters({})


def day_deltas(old: dict | None, new: dict, closed: dict[str, dict]) -> dict[str, dict]:
    """What moving from the old row to the new one adds to each day's totals (only days that move)."""
    before = (old or {}).get("days") or {}
    now = dict(closed)
    now.update(new["days"])
    out = {}
    for d in set(before) | set(now):
        a, b = before.get(d), now.get(d)
        # A day the wallet no longer holds, missing from `rollups` too, stays as counted.
        delta = _minus(b if b is not None else a or EMPTY, a or EMPTY)  # both counted already
        delta["active"] = int(a is None)
        if any(delta[k] for k in COUNTERS) or delta["cat"] or delta["grants"] or delta["active"]:
            out[d] = delta
    return out


def _minus(b: dict, a: dict) -> dict:
    out = {k: b[k] - a[k] for k in COUNTERS}
    cats = {k: b["cat"].get(k, 0) - a["cat"].get(k, 0) for k in set(a["cat"]) | set(b["cat"])}
    out["cat"] = {k: x for k, x in cats.items() if x}
    out["grants"] = nested(b.get("grants"), a.get("grants"), -1)
    return out


RECENT = 200  # today's latest entries kept across wallets (the admin overview's list)


def today_count(change, today: date) -> int:
    d = change.days.get(today.isoformat()) or {}
    return int(d.get("credit_count", 0)) + int(d.get("debit_count", 0))


def recent_of(e: dict) -> dict:
    """What the list of today's latest entries shows of one."""
    return {k: e.get(k) for k in ("_id", "key", "user_id", "created_at", "type", "amount", "category", "note")}


def latest(entries, limit: int = RECENT) -> list[dict]:
    """The newest `limit` of these entries (each once), newest first."""
    by_id = {e["_id"]: dict(e, created_at=clock.as_utc(e["created_at"])) for e in entries}
    return sorted(by_id.values(), key=lambda e: (e["created_at"], e["_id"]), reverse=True)[:limit]


def unchanged(old: dict | None, change, today: date) -> bool:
    """Whether the row already stands for this state of the wallet (and today's windows)."""
    return old is not None and int(old.get("seq", -1)) == change.seq and old.get("spend_day") == today.isoformat()
