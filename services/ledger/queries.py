"""Reading entries: by key, by id, a page of a wallet's history, every match for an export.

On the embedded engine a lookup that misses, or any secondary-index query, scans the collection. So a
page walks entry numbers down with primary-key reads (`{user}:{n}`), and entries still riding in the
wallet's `pending` are read from there (a point read of one not yet inserted would miss).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, TypeGuard

from services import clock
from services.checks import whole_number
from services.db import in_order
from services.errors import InvalidInput
from services.ledger import ids, packed, rollups, wallets

_EXPORT_PAGE = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def find_entry(db, key: str) -> dict | None:
    """The entry a `post` key produced, or None (also while its first attempt is still running).

    On the embedded engine a key that was never used costs a scan of `ledger_keys`: callers on a hot
    path should keep their own record of what they posted.
    """
    c = db.ledger_keys.find_one({"_id": key})
    if c is None:
        return None
    if c.get("entry_id"):
        return must_get(db, c["entry_id"])
    w = db.wallets.find_one({"_id": c["user_id"]}, {"pending": 1}) or {}
    if c.get("batch"):  # claimed by a batch (services.ledger.batch), maybe by others before it
        return next((r for b, i in claim_batches(c, current=True) if isinstance(r := batch_outcome(db, w, b, i), dict)),
                    None)
    p = pending_with_key(w, key)
    return clean(p) if p else None


REFUSED = object()


@dataclass
class Applied:
    """What an applied batch (services.ledger.batch) did, by position: immutable once applied."""
    user_id: str
    numbers: dict[int, int]                                  # position -> entry number
    refused: set[int]
    entries: dict[int, dict] = field(default_factory=dict)   # position -> entry, when read from the wallet

    def at(self, db, i: int):
        """The entry of position `i`, REFUSED, or None (not in this batch)."""
        if i in self.refused:
            return REFUSED
        if i in self.entries:
            return self.entries[i]
        n = self.numbers.get(i)
        return None if n is None else must_get(db, ids.entry_id(self.user_id, n))


def applied_batch(db, w: dict, bid: str) -> Applied | None:
    """Batch `bid` as applied, or None (not yet). `w` must be read BEFORE this looks for the batch's note:
    recovery notes a batch before it drops its packed record, so one of the two reads sees an applied batch."""
    rec = next((p for p in w.get("pending") or [] if p.get("batch") == bid), None)
    if rec is not None:
        es = packed.expand(rec)
        return Applied(w["_id"], {e["i"]: e["n"] for e in es}, packed.refused_of(rec), {e["i"]: clean(e) for e in es})
    note = db.ledger_keys.find_one({"_id": packed.record_id(bid)})
    if note is None:
        return None
    done = {int(i): int(n) for i, n in (tok.split(":") for tok in note["done"].split())}
    return Applied(note["user_id"], done, {int(k) for k in note["refused"].split()})


def claim_batches(c: dict, current: bool = False) -> list[tuple[str, int]]:
    """The (batch, position) pairs that claimed a key before the one named now (`current`: that one first)."""
    was = [(b, int(i)) for b, _, i in (tok.rpartition(":") for tok in c.get("was") or []) if b and b != "None"]
    now = [(c["batch"], int(c["i"]))] if current and c.get("batch") else []
    return now + was[::-1]


def batch_outcome(db, w: dict, bid: str, i: int):
    """What batch `bid` did with its debit at position `i`: the entry, REFUSED, or None (not yet applied)."""
    a = applied_batch(db, w, bid)
    return None if a is None else a.at(db, i)


def get_entry(db, eid: str) -> dict | None:
    d = db.ledger.find_one({"_id": eid}) if isinstance(eid, str) else None
    return clean(d) if d else None


def must_get(db, eid: str) -> dict:
    e = get_entry(db, eid)
    if e is None:
        raise RuntimeError(f"ledger entry {eid} is missing")
    return e


def pending_with_key(w: dict, key: str) -> dict | None:
    return next((p for p in packed.entries_of(w.get("pending")) if p.get("key") == key), None)


def pending_with_id(w: dict, eid: str) -> dict | None:
    return next((p for p in packed.entries_of(w.get("pending")) if p["_id"] == eid), None)


def clean(doc: dict) -> dict:
    """An entry as callers get it: aware UTC time, plain ints."""
    doc = dict(doc)
    doc["created_at"] = clock.as_utc(doc.get("created_at"))
    for k in ("amount", "balance_after", "seq", "n"):
        if k in doc:
            doc[k] = int(doc[k])  # small Int64 may come back as 32-bit
    return doc


class _Wallet:
    """Entry number -> entry for one wallet, as of one read of it (in-flight entries from `pending`)."""

    def __init__(self, db, w: dict):
        self.db, self.w, self.user_id = db, w, w["_id"]
        self.total = int(w.get("n", 0))
        self.pending = {int(p["n"]): p for p in packed.entries_of(w["pending"]) if "n" in p}

    def at(self, k: int) -> dict | None:
        p = self.pending.get(k)
        return clean(p) if p else get_entry(self.db, ids.entry_id(self.user_id, k))

    def between(self, lo: int, hi: int) -> dict[int, dict]:
        """Entries lo..hi by number: one range of their ids (a point read each costs a round trip)."""
        rng = {"$gte": ids.entry_id(self.user_id, lo), "$lte": ids.entry_id(self.user_id, hi)}
        got = {int(d["n"]): d for d in self.db.ledger.find({"_id": rng}).hint("_id_")}
        got.update((n, p) for n, p in self.pending.items() if lo <= n <= hi)
        return {n: clean(d) for n, d in got.items()}

    def first_at_or_after(self, t: datetime) -> int:
        """Smallest n whose entry is at or after t (total + 1 if none): entries are numbered in time order."""
        lo, hi = 1, self.total + 1
        while lo < hi:
            mid = (lo + hi) // 2
            e = self.at(mid)
            if e is not None and e["created_at"] >= t:
                hi = mid
            else:
                lo = mid + 1
        return lo


def entries(db, user_id: str, *, type: str | None = None, category: str | None = None,
            start: datetime | None = None, end: datetime | None = None, before_seq: int | None = None,
            limit: int = 50, budget: int = 2000) -> tuple[list[dict], int | None]:
    """One page of a user's entries, newest first, and the cursor for the next page (None at the end).

    The cursor is an entry number: pages walk `n` down with primary-key reads, so a page costs what it
    shows, not what the ledger holds. With a type or category filter, the daily rollups say which days
    can match and how many entries each day holds; since a wallet numbers its entries in time order,
    that gives each day's range of `n` by arithmetic, and days without a match are never read. At most
    `budget` entries are read per call (a page may come back short, with a cursor to continue).
    """
    ids.check_user_id(user_id)
    whole_number(limit, 1, 1000, what="Page size")
    if before_seq is not None:
        whole_number(before_seq, 1, what="Page cursor")
    _filter(type, category, start, end)  # validates
    wal = _Wallet(db, wallets.read(db, user_id))
    top = min(before_seq, wal.total + 1) if before_seq else wal.total + 1
    if type is None and category is None:
        spans = [_time_span(wal, top, start, end)]
    else:
        spans = [(max(lo, 1), min(hi, top)) for lo, hi in _matching_day_spans(db, wal, type, category, start, end)
                 if lo < top]
    return _walk(wal, spans, _matcher(type, category, start, end), limit, budget,
                 filtered=type is not None or category is not None)


def _time_span(wal: _Wallet, top: int, start, end) -> tuple[int, int]:
    """[lo, hi) entry numbers below `top` inside [start, end), found by binary search on time."""
    hi = min(top, wal.first_at_or_after(end)) if end is not None else top
    lo = wal.first_at_or_after(start) if start is not None else 1
    return lo, hi


_CHUNK = 200  # entries read at once while a filter looks for matches


def _walk(wal: _Wallet, spans: list[tuple[int, int]], wanted: Callable[[dict | None], TypeGuard[dict]], limit: int,
          budget: int, filtered: bool = False):
    """Read each span from its top down until the page is full or the budget spent, in ranges of ids: as
    many as the page still needs, or _CHUNK at a time when a filter may skip some."""
    page: list[dict] = []
    reads = 0
    for i, (lo, hi) in enumerate(spans):      # newest span first
        k, got = hi - 1, {}
        while k >= lo and len(page) < limit and reads < budget:
            if k not in got:
                size = min(_CHUNK if filtered else limit - len(page), k - lo + 1, budget - reads)
                got = wal.between(k - size + 1, k)
            e = got.get(k)
            reads += 1
            if wanted(e):
                page.append(e)
            k -= 1
        if len(page) >= limit or reads >= budget:
            more = k >= lo or any(l2 < h2 for l2, h2 in spans[i + 1:])
            return page, (k + 1 if more else None)
    return page, None


def _matching_day_spans(db, wal: _Wallet, type, category, start, end) -> list[tuple[int, int]]:
    """[lo, hi) ranges of entry numbers for the days whose rollup shows a possible match, newest first."""
    first_day = clock.day_of(start) if start is not None else "0000-00-00"
    last_day = clock.day_of(end) if end is not None else None
    days = rollups.day_totals(db, wal.user_id, first_day, clock.day_of(clock.now() + timedelta(days=1)),
                              wallet=wal.w)
    spans, hi = [], wal.total + 1
    for d in sorted(days, reverse=True):      # walk back from today: each day's count gives its range
        v = days[d]
        count = int(v.get("credit_count", 0)) + int(v.get("debit_count", 0))
        lo = hi - count
        # A category's key exists once the day has an entry of it (a refund entry may be of 0 paise).
        match = (category is None or category in (v.get("cat") or {})) and \
            (type is None or int(v.get(f"{type}_count", 0)) > 0)
        if match and (last_day is None or d <= last_day) and count > 0:
            spans.append((lo, hi))
        hi = lo
    return spans


def iter_entries(db, *, user_id: str | None = None, type: str | None = None, category: str | None = None,
                 start: datetime | None = None, end: datetime | None = None, page: int = _EXPORT_PAGE):
    """Every matching entry, oldest first (in time order across users), with flat memory. One user's are
    read `page` at a time as a range of their ids (`{user}:{n}`, the primary key): a 100,000-entry export
    is 100 reads, whatever the ledger holds; entries still in the wallet's `pending` come from there.
    Across users, entries in the ledger walk the `created_at` index, in pages."""
    _filter(type, category, start, end)  # validates
    wanted = _matcher(type, category, start, end)
    if user_id is None:
        for d in in_order(db.ledger, "created_at", lo=start or _EPOCH, hi=end, page=page):
            e = clean(d)
            if wanted(e):
                yield e
        return
    ids.check_user_id(user_id)
    wal = _Wallet(db, wallets.read(db, user_id))
    lo, hi = _time_span(wal, wal.total + 1, start, end)
    for k in range(lo, hi, page):
        top = min(hi, k + page) - 1
        rng = {"$gte": ids.entry_id(user_id, k), "$lte": ids.entry_id(user_id, top)}
        got = {int(d["n"]): d for d in db.ledger.find({"_id": rng}).hint("_id_").batch_size(page)}
        for n in range(k, top + 1):
            doc = got.get(n) or wal.pending.get(n)
            one = clean(doc) if doc is not None else None
            if wanted(one):
                yield one


def last_entries(db, user_id: str, count: int, upto: int | None = None) -> list[dict]:
    """The wallet's last `count` entries up to number `upto` (default: its last), newest first: one range
    of their ids (and `pending` for entries not in the ledger yet)."""
    ids.check_user_id(user_id)
    wal = _Wallet(db, wallets.read(db, user_id))
    top = wal.total if upto is None else min(upto, wal.total)
    lo = max(1, top - count + 1)
    if lo > top:
        return []
    rng = {"$gte": ids.entry_id(user_id, lo), "$lte": ids.entry_id(user_id, top)}
    got = {int(d["n"]): d for d in db.ledger.find({"_id": rng}).hint("_id_")}
    out = [got.get(n) or wal.pending.get(n) for n in range(top, lo - 1, -1)]
    return [clean(d) for d in out if d is not None]


def _matcher(type, category, start, end) -> Callable[[dict | None], TypeGuard[dict]]:
    def wanted(e: dict | None) -> TypeGuard[dict]:
        return e is not None and (type is None or e["type"] == type) and \
            (category is None or e["category"] == category) and \
            (start is None or e["created_at"] >= start) and (end is None or e["created_at"] < end)
    return wanted


def _filter(type, category, start, end) -> dict:
    """The query for these filters (checked: bad ones raise InvalidInput)."""
    flt: dict = {}
    if type is not None:
        flt["type"] = ids.check_type(type)
    if category is not None:
        flt["category"] = ids.check_category(category)
    rng = _time_range(start, end)
    if rng:
        flt["created_at"] = rng
    return flt


def _time_range(start, end) -> dict:
    for t in (start, end):
        if t is not None and not isinstance(t, datetime):
            raise InvalidInput("Dates must be dates.")
    if start is not None and end is not None and start > end:
        raise InvalidInput("The start date is after the end date.")
    rng = {}
    if start is not None:
        rng["$gte"] = start
    if end is not None:
        rng["$lt"] = end
    return rng


def entries_after(db, user_id: str, after: int, *, category: str | None = None) -> list[dict]:
    """The entries numbered above `after`, oldest first, of `category` if given. The wallet's live days
    (today's and yesterday's counts ride in its document) say which of its newest entries can match, so a
    reader that keeps up (a worker sweep) reads no rollups and no day without a match."""
    ids.check_user_id(user_id)
    whole_number(after, 0, what="Entry number")
    if category is not None:
        ids.check_category(category)
    wal = _Wallet(db, wallets.read(db, user_id))
    spans, covered = _live_day_spans(wal, after, category)
    if not covered:  # older than the live days: the rollups say which days can match
        spans = [(max(lo, after + 1), h) for lo, h in _matching_day_spans(db, wal, None, category, None, None)
                 if h - 1 > after]
    wanted = _matcher(None, category, None, None)
    return [e for lo, h in sorted(spans) for e in map(wal.at, range(lo, h)) if wanted(e)]


def _live_day_spans(wal: _Wallet, after: int, category) -> tuple[list[tuple[int, int]], bool]:
    """[lo, hi) spans above `after` of the wallet document's own days that can hold `category`, and
    whether those days reach back to `after` (else older entries are involved)."""
    spans, hi = [], wal.total + 1
    live = wal.w.get("days") or {}
    for d in sorted(live, reverse=True):
        if hi - 1 <= after:
            break
        v = live[d]
        lo = hi - int(v.get("credit_count", 0)) - int(v.get("debit_count", 0))
        if category is None or int((v.get("cat") or {}).get(category, 0)) > 0:
            spans.append((max(lo, after + 1), hi))
        hi = lo
    return spans, hi - 1 <= after
