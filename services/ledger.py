"""The ledger: every balance change is one immutable entry; balances never go negative.

docs/ledger.md has the protocol and why it is safe; in short:

- A wallet document holds the balance, the held amount, the open holds, the entry count `n`, a
  version `seq`, today's and yesterday's rollups, and `pending`: entries whose balance change is
  applied but whose ledger insert may not be done yet. Every change is one compare-and-set on
  (`_id`, `seq`) that writes whole top-level values: atomic on any MongoDB, and the fast path of the
  embedded engine.
- Entries are keyed `"{user}:{n}"` (n = 1, 2, 3 … per wallet) so every read is a primary-key hit:
  on the embedded engine a lookup that misses, or any secondary-index query, scans the collection.
- Idempotency keys live in `ledger_keys`, claimed by an insert before the balance moves (a duplicate
  insert is the cheap "seen before" test) and pointed at their entry once it is written.

A posting: claim the key → CAS (balance, rollups, entry into `pending`) → insert the entry → point
the claim at it → (next CAS or `recover`) drop it from `pending`. A crash anywhere leaves a state
that `recover` or a retry of the same key completes; see docs/ledger.md.
"""
from __future__ import annotations

import os
import random
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from services import clock
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound, WalletError
from services.db import insert_new
from services.money import format_rupees, require_paise

CREDIT, DEBIT = "credit", "debit"
CATEGORIES = ("recharge", "call", "campaign", "manual_credit", "promo_credit", "refund", "adjustment")
CALL_CATEGORIES = ("call", "campaign")
# Days kept inside the wallet document; older ones move to the `rollups` collection.
WALLET_DAYS = 2
# Resolved holds remembered on the wallet ("hold=entry_id" tokens) so a late settle returns its first
# result and a late duplicate hold is refused. One string, not a list: on the embedded engine a list
# field costs several times a scalar on every write. The calls layer's records guard older ids.
CLOSED_HOLDS_KEPT = 64
# How long a retry waits for a key's first attempt to finish before giving up with Conflict.
CLAIM_WAIT_SECONDS = 5.0
# A claim whose owner runs on another host is adopted only after this long (owners on this host are
# checked directly: a dead process cannot finish its write).
CLAIM_GRACE_SECONDS = int(os.environ.get("WALLET_CLAIM_GRACE_SECONDS", "300"))

_KEY = re.compile(r"^[^\x00-\x1f]{1,200}$")
_HOLD_ID = re.compile(r"^[A-Za-z0-9_:\-]{1,100}$")


def _proc_start(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


_HOST = socket.gethostname()


def _owner() -> str:
    # Computed per call: a forked child must not claim in its parent's name.
    pid = os.getpid()
    return f"{_HOST}|{pid}|{_proc_start(pid)}"


# Keys of entries this process has fully finished (ledger insert and claim pointer done): the next
# CAS on that wallet drops them from `pending`, saving a write per posting.
_done_lock = threading.Lock()
_done: dict[str, set[str]] = {}

# Threads of one process take turns per wallet instead of racing each other's CAS. Correctness comes
# from the CAS (other processes still race); this only saves wasted round trips.
_wallet_locks: dict[str, threading.Lock] = {}
_wallet_locks_guard = threading.Lock()


def _turn(user_id: str) -> threading.Lock:
    with _wallet_locks_guard:
        lock = _wallet_locks.get(user_id)
        if lock is None:
            if len(_wallet_locks) > 10_000:
                _wallet_locks.clear()  # bounded; a dropped lock only costs a CAS retry
            lock = _wallet_locks[user_id] = threading.Lock()
        return lock


@dataclass(frozen=True)
class Wallet:
    user_id: str
    balance: int
    held: int
    seq: int
    holds: dict
    entries: int = 0

    @property
    def available(self) -> int:
        return self.balance - self.held


def entry_id(user_id: str, n: int) -> str:
    return f"{user_id}:{n:010d}"


# ---------------------------------------------------------------------------------------------- wallets

def new_wallet_doc(user_id: str) -> dict:
    t = clock.now()
    return {"_id": user_id, "balance": 0, "held": 0, "seq": 0, "n": 0, "holds": {}, "closed_holds": "",
            "pending": [], "days": {}, "created_at": t, "updated_at": t}


def ensure_wallet(db, user_id: str) -> dict:
    """Create the wallet (balance 0) if missing; safe under races."""
    _check_user_id(user_id)
    doc = db.wallets.find_one({"_id": user_id})
    if doc is not None:
        return doc
    insert_new(db.wallets, new_wallet_doc(user_id))
    return db.wallets.find_one({"_id": user_id})


def get_wallet(db, user_id: str) -> Wallet:
    _check_user_id(user_id)
    doc = db.wallets.find_one({"_id": user_id}, {"balance": 1, "held": 1, "seq": 1, "holds": 1, "n": 1})
    if doc is None:
        doc = ensure_wallet(db, user_id)
    return Wallet(user_id, int(doc["balance"]), int(doc["held"]), int(doc["seq"]), doc.get("holds") or {},
                  int(doc.get("n", 0)))


# --------------------------------------------------------------------------------------------- postings

def post(db, user_id: str, *, key: str, type: str, category: str, amount: int, source: str = "",
         note: str = "", meta: dict | None = None) -> dict:
    """Credit or debit `amount` paise once per `key`. Repeating a key returns the first entry.

    Raises InsufficientBalance (a debit beyond the available balance; the key stays free for a later
    attempt), InvalidInput/InvalidAmount (bad arguments, nothing written), Conflict (the key was used
    for a different operation, or its first attempt is still running).
    """
    _check_user_id(user_id)
    _check_key(key)
    if type not in (CREDIT, DEBIT):
        raise InvalidInput("Entry type must be 'credit' or 'debit'.")
    if category not in CATEGORIES:
        raise InvalidInput(f"Unknown category {category!r}.")
    require_paise(amount)
    _check_text(source, "Source", 200)
    _check_text(note, "Note", 500)
    want = {"user_id": user_id, "type": type, "amount": amount, "category": category}

    owner = _owner()
    while True:
        claim = dict(want, _id=key, entry_id=None, at=clock.now(), owner=owner)
        if insert_new(db.ledger_keys, claim):
            break
        prior = _prior_result(db, key, want, owner)
        if prior is _ADOPTED:
            break
        if prior is not _RETRY:
            return prior
    try:
        with _turn(user_id):
            entry, fresh = _post_locked(db, user_id, key, type, category, amount, source, note, meta)
    except WalletError:
        # Nothing moved: free the key so a later attempt (after a recharge, say) can use it.
        db.ledger_keys.delete_one({"_id": key, "owner": owner, "entry_id": None})
        raise
    _finish(db, entry)
    return entry


_ADOPTED, _RETRY = object(), object()


def _prior_result(db, key: str, want: dict, owner: str):
    """The key is claimed already: its entry, or _ADOPTED (its first attempt died before moving any
    money, and we now own it), or _RETRY (the claim vanished: that attempt failed cleanly)."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while True:
        c = db.ledger_keys.find_one({"_id": key})
        if c is None:
            return _RETRY
        _same(c, want)
        if c.get("entry_id"):
            return _get(db, c["entry_id"])
        w = _read_wallet(db, want["user_id"])
        p = next((p for p in w["pending"] if p.get("key") == key), None)
        if p is not None:          # the money moved; the writer has not finished recording it
            _finish(db, p)
            return _clean(p)
        if _owner_gone(c) and db.ledger_keys.update_one(
                {"_id": key, "owner": c["owner"], "entry_id": None},
                {"$set": {"owner": owner, "at": clock.now()}}).matched_count == 1:
            return _ADOPTED
        if time.monotonic() > deadline:
            raise Conflict("An operation with this idempotency key is still in progress; retry shortly.")
        time.sleep(0.01)


def _owner_gone(claim: dict) -> bool:
    host, _, rest = (claim.get("owner") or "").partition("|")
    pid, _, start = rest.partition("|")
    if host == _HOST and pid.isdigit():
        return _proc_start(int(pid)) != start
    age = clock.now() - clock.as_utc(claim["at"])
    return age > timedelta(seconds=CLAIM_GRACE_SECONDS)


def _post_locked(db, user_id, key, type, category, amount, source, note, meta) -> tuple[dict, bool]:
    while True:
        w = _read_wallet(db, user_id)
        p = next((p for p in w["pending"] if p.get("key") == key), None)
        if p is not None:  # we adopted a claim whose owner had already moved the money
            return _clean(p), False
        available = int(w["balance"]) - int(w["held"])
        if type == DEBIT and amount > available:
            raise InsufficientBalance(
                f"Insufficient balance: this needs {_rs(amount)} but {_rs(available)} is available.")
        delta = amount if type == CREDIT else -amount
        entry = _entry(w, key, user_id, type, category, amount, int(w["balance"]) + delta, source, note,
                       meta, claimed=True)
        if _cas(db, w, entry=entry, balance_delta=delta):
            return entry, True


def hold(db, user_id: str, hold_id: str, amount: int, *, min_amount: int | None = None,
         ref: str = "") -> int:
    """Reserve funds (available = balance - held). Returns the amount held.

    With `min_amount`, holds as much of `amount` as is available, if that is at least `min_amount`
    (a call holds up to its maximum length, never more than the wallet covers). Idempotent per hold_id.
    """
    _check_user_id(user_id)
    _check_hold_id(hold_id)
    require_paise(amount)
    if min_amount is not None:
        require_paise(min_amount, allow_zero=True)
    with _turn(user_id):
        while True:
            w = _read_wallet(db, user_id)
            if hold_id in w["holds"]:
                return int(w["holds"][hold_id]["amount"])
            if hold_id in _closed(w):
                raise Conflict(f"Hold {hold_id} was already resolved.")
            available = int(w["balance"]) - int(w["held"])
            take = amount if min_amount is None else min(amount, available)
            floor = amount if min_amount is None else min_amount
            if available < floor or take <= 0:
                raise InsufficientBalance(
                    f"Insufficient balance: {_rs(available)} available, at least {_rs(floor)} needed.")
            holds = dict(w["holds"])
            holds[hold_id] = {"amount": take, "ref": ref, "created_at": clock.now()}
            if _cas(db, w, held_delta=take, holds=holds):
                return take


def settle(db, user_id: str, hold_id: str, amount: int, *, key: str, category: str = "call",
           source: str = "", note: str = "", meta: dict | None = None) -> dict | None:
    """Debit `amount` (at most the hold) and release the rest of the hold, in one atomic step.

    Returns the debit entry (None when `amount` is 0: nothing moved, so nothing to record). Settling a
    resolved hold again returns the first result; a released hold raises Conflict. The hold is the
    idempotency guard here; `key` is recorded on the entry.
    """
    _check_user_id(user_id)
    _check_hold_id(hold_id)
    _check_key(key)
    require_paise(amount, allow_zero=True)
    if category not in CATEGORIES:
        raise InvalidInput(f"Unknown category {category!r}.")
    with _turn(user_id):
        entry, fresh = _settle_locked(db, user_id, hold_id, amount, key, category, source, note, meta)
    if fresh:
        _finish(db, entry)
    return entry


def _settle_locked(db, user_id, hold_id, amount, key, category, source, note, meta):
    while True:
        w = _read_wallet(db, user_id)
        h = w["holds"].get(hold_id)
        if h is None:
            closed = _closed(w)
            if hold_id not in closed:
                raise NotFound(f"No open hold {hold_id}.")
            eid = closed[hold_id]
            if eid:
                p = next((p for p in w["pending"] if p["_id"] == eid), None)
                return (_clean(p) if p else _get(db, eid)), False
            if amount == 0:
                return None, False
            raise Conflict(f"Hold {hold_id} was already released.")
        if amount > int(h["amount"]):
            raise InvalidInput(f"Cannot settle {_rs(amount)} against a hold of {_rs(int(h['amount']))}.")
        holds = {k: v for k, v in w["holds"].items() if k != hold_id}
        entry = None
        if amount > 0:
            entry = _entry(w, key, user_id, DEBIT, category, amount, int(w["balance"]) - amount, source,
                           note, meta, claimed=False)
        closed = _close(w, hold_id, entry["_id"] if entry else "")
        if _cas(db, w, entry=entry, balance_delta=-amount, held_delta=-int(h["amount"]), holds=holds,
                closed_holds=closed):
            return entry, entry is not None


def release(db, user_id: str, hold_id: str) -> bool:
    """Give a hold back. True if this call released it, False if it was already resolved."""
    _check_user_id(user_id)
    _check_hold_id(hold_id)
    with _turn(user_id):
        while True:
            w = _read_wallet(db, user_id)
            h = w["holds"].get(hold_id)
            if h is None:
                return False
            holds = {k: v for k, v in w["holds"].items() if k != hold_id}
            if _cas(db, w, held_delta=-int(h["amount"]), holds=holds, closed_holds=_close(w, hold_id, "")):
                return True


# ------------------------------------------------------------------------------------------ reading

def find_entry(db, key: str) -> dict | None:
    """The entry a `post` key produced, or None (also while its first attempt is still running).

    On the embedded engine a key that was never used costs a scan of `ledger_keys`: callers on a hot
    path should keep their own record of what they posted.
    """
    c = db.ledger_keys.find_one({"_id": key})
    if c is None:
        return None
    if c.get("entry_id"):
        return _get(db, c["entry_id"])
    w = db.wallets.find_one({"_id": c["user_id"]}, {"pending": 1}) or {}
    p = next((p for p in w.get("pending") or [] if p.get("key") == key), None)
    return _clean(p) if p else None


def get_entry(db, eid: str) -> dict | None:
    d = db.ledger.find_one({"_id": eid}) if isinstance(eid, str) else None
    return _clean(d) if d else None


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
    _check_user_id(user_id)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput("Page size must be between 1 and 1000.")
    if before_seq is not None and (isinstance(before_seq, bool) or not isinstance(before_seq, int)
                                   or before_seq < 1):
        raise InvalidInput("Malformed page cursor.")
    _filter(type, category, start, end)  # validates
    w = _read_wallet(db, user_id)
    pending = {int(p["n"]): p for p in w["pending"] if "n" in p}
    total = int(w.get("n", 0))

    def at(k: int) -> dict | None:
        p = pending.get(k)
        return _clean(p) if p else get_entry(db, entry_id(user_id, k))

    def wanted(e: dict | None) -> bool:
        return e is not None and (type is None or e["type"] == type) and \
            (category is None or e["category"] == category) and \
            (start is None or e["created_at"] >= start) and (end is None or e["created_at"] < end)

    top = min(before_seq, total + 1) if before_seq else total + 1
    if type is None and category is None:
        spans = [(1, top)]
        if end is not None:
            spans = [(1, min(top, _first_at_or_after(at, total, end)))]
        if start is not None:
            spans = [(_first_at_or_after(at, total, start), spans[0][1])]
    else:
        spans = [(max(lo, 1), min(hi, top)) for lo, hi in _matching_day_spans(db, w, type, category, start, end)
                 if lo < top]
    page: list[dict] = []
    reads = 0
    for lo, hi in spans:                      # newest span first; each walked from its top down
        k = hi - 1
        while k >= lo and len(page) < limit and reads < budget:
            e = at(k)
            reads += 1
            if wanted(e):
                page.append(e)
            k -= 1
        if len(page) >= limit or reads >= budget:
            more = k >= lo or any(l2 < h2 for l2, h2 in spans[spans.index((lo, hi)) + 1:])
            return page, (k + 1 if more else None)
    return page, None


def _matching_day_spans(db, w: dict, type, category, start, end) -> list[tuple[int, int]]:
    """[lo, hi) ranges of entry numbers for the days whose rollup shows a possible match, newest first."""
    uid, total = w["_id"], int(w.get("n", 0))
    first_day = clock.day_of(start) if start is not None else "0000-00-00"
    days = day_totals(db, uid, first_day, clock.day_of(clock.now() + timedelta(days=1)), wallet=w)
    spans, hi = [], total + 1
    for d in sorted(days, reverse=True):      # walk back from today: each day's count gives its range
        v = days[d]
        count = int(v.get("credit_count", 0)) + int(v.get("debit_count", 0))
        lo = hi - count
        match = (category is None or int((v.get("cat") or {}).get(category, 0)) > 0) and \
            (type is None or int(v.get(f"{type}_count", 0)) > 0)
        in_range = end is None or d <= clock.day_of(end)
        if match and in_range and count > 0:
            spans.append((lo, hi))
        hi = lo
    return spans


def day_totals(db, user_id: str, first_day: str, last_day: str, *, wallet: dict | None = None) -> dict:
    """Rollup counters per active day in [first_day, last_day] (ISO dates): the `rollups` collection
    for closed days, the wallet's own copy for the live ones (it wins where both exist)."""
    rows = {d["day"]: d for d in db.rollups.find({"user_id": user_id, "day": {"$gte": first_day,
                                                                           "$lte": last_day}})}
    w = wallet if wallet is not None else (db.wallets.find_one({"_id": user_id}, {"days": 1}) or {})
    for day, vals in (w.get("days") or {}).items():
        if first_day <= day <= last_day:
            rows[day] = dict(vals, day=day)
    return rows


def _first_at_or_after(at, total: int, t: datetime) -> int:
    """Smallest n whose entry is at or after t (total + 1 if none)."""
    lo, hi = 1, total + 1
    while lo < hi:
        mid = (lo + hi) // 2
        e = at(mid)
        if e is not None and e["created_at"] >= t:
            hi = mid
        else:
            lo = mid + 1
    return lo


# Below this many entries an export reads a wallet by point lookups; above, one streamed scan is cheaper.
_POINT_READ_EXPORT = 20_000


def iter_entries(db, *, user_id: str | None = None, type: str | None = None, category: str | None = None,
                 start: datetime | None = None, end: datetime | None = None):
    """Every matching entry, oldest first for one user (insertion order for all), with flat memory."""
    flt = _filter(type, category, start, end)
    if user_id is not None:
        _check_user_id(user_id)
        w = _read_wallet(db, user_id)
        total = int(w.get("n", 0))
        if total <= _POINT_READ_EXPORT:
            # A small customer in a big ledger: read their entries, not everybody's. In-flight entries
            # come from `pending` (a point read of one not yet inserted would miss, and misses scan).
            pending = {int(p["n"]): p for p in w["pending"] if "n" in p}
            for k in range(1, total + 1):
                e = _clean(pending[k]) if k in pending else get_entry(db, entry_id(user_id, k))
                if e is not None and (type is None or e["type"] == type) and \
                        (category is None or e["category"] == category) and \
                        (start is None or e["created_at"] >= start) and (end is None or e["created_at"] < end):
                    yield e
            return
        flt["user_id"] = user_id
    for d in db.ledger.find(flt, batch_size=1000):
        yield _clean(d)


def _filter(type, category, start, end) -> dict:
    flt: dict = {}
    if type is not None:
        if type not in (CREDIT, DEBIT):
            raise InvalidInput("Type must be 'credit' or 'debit'.")
        flt["type"] = type
    if category is not None:
        if category not in CATEGORIES:
            raise InvalidInput(f"Unknown category {category!r}.")
        flt["category"] = category
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
    if rng:
        flt["created_at"] = rng
    return flt


# ----------------------------------------------------------------------------- recovery and audit

def recover(db, user_id: str | None = None) -> dict:
    """Finish every posting a crash interrupted, and move old rollup days out of wallets.

    Safe at any time, from any process, beside live traffic: each step is one a live posting takes
    too, and each is idempotent.
    """
    flt = {"_id": user_id} if user_id else {}
    finished = archived = 0
    for w in db.wallets.find(flt, {"_id": 1, "pending": 1, "days": 1}):
        for e in w.get("pending") or []:
            _finish(db, e)
            finished += 1
        if w.get("pending"):
            _drop_pending(db, w["_id"], {e["_id"] for e in w["pending"]})
        if _old_days(w):
            archived += _archive_days(db, _read_wallet(db, w["_id"]))
    return {"pending_finished": finished, "days_archived": archived}


def audit(db) -> list[dict]:
    """Wallets whose balance != credits - debits, or held != open holds, or that left the bounds."""
    sums: dict[str, int] = {}
    counts: dict[str, int] = {}
    for row in db.ledger.aggregate([
        {"$group": {"_id": {"u": "$user_id", "t": "$type"}, "s": {"$sum": "$amount"}, "c": {"$sum": 1}}},
    ]):
        u = row["_id"]["u"]
        sign = 1 if row["_id"]["t"] == CREDIT else -1
        sums[u] = sums.get(u, 0) + sign * int(row["s"])
        counts[u] = counts.get(u, 0) + int(row["c"])
    bad = []
    seen = set()
    for w in db.wallets.find({}, {"balance": 1, "held": 1, "holds": 1, "pending": 1, "n": 1}):
        uid = w["_id"]
        seen.add(uid)
        expected, count = sums.get(uid, 0), counts.get(uid, 0)
        for p in w.get("pending") or []:  # applied to the balance, maybe not yet in the ledger
            if get_entry(db, p["_id"]) is None:
                expected += p["amount"] if p["type"] == CREDIT else -p["amount"]
                count += 1
        balance, held = int(w["balance"]), int(w["held"])
        holds = sum(int(h["amount"]) for h in (w.get("holds") or {}).values())
        problems = []
        if balance != expected:
            problems.append(f"balance {balance} != ledger {expected}")
        if count != int(w.get("n", 0)):
            problems.append(f"{count} entries but the wallet counted {int(w.get('n', 0))}")
        if held != holds:
            problems.append(f"held {held} != open holds {holds}")
        if balance < 0 or held < 0 or held > balance:
            problems.append(f"out of bounds: balance {balance}, held {held}")
        if problems:
            bad.append({"user_id": uid, "balance": balance, "ledger": expected, "held": held,
                        "holds": holds, "problems": problems})
    for uid in set(sums) - seen:  # money with no wallet
        bad.append({"user_id": uid, "balance": None, "ledger": sums[uid], "held": None, "holds": None,
                    "problems": ["ledger entries without a wallet"]})
    return bad


# ---------------------------------------------------------------------------------------- internals

def _read_wallet(db, user_id: str) -> dict:
    w = db.wallets.find_one({"_id": user_id})
    if w is None:
        w = ensure_wallet(db, user_id)
    w.setdefault("pending", [])
    w.setdefault("holds", {})
    return w


def _entry(w, key, user_id, type, category, amount, balance_after, source, note, meta, *, claimed) -> dict:
    t = clock.now()
    n = int(w.get("n", 0)) + 1
    e = {"_id": entry_id(user_id, n), "key": key, "user_id": user_id, "n": n, "seq": int(w["seq"]) + 1,
         "type": type, "category": category, "amount": amount, "balance_after": balance_after,
         "created_at": t, "day": clock.day_of(t), "source": source or "", "note": note or "",
         "claimed": claimed}
    if meta:
        e["meta"] = meta
    return e


def _cas(db, w: dict, *, entry: dict | None = None, balance_delta: int = 0, held_delta: int = 0,
         holds: dict | None = None, closed_holds: str | None = None) -> bool:
    """Apply one change if the wallet is still at the version we read. False: re-read and retry."""
    if _old_days(w):
        _archive_days(db, w)
        return _backoff()
    uid = w["_id"]
    with _done_lock:
        done = set(_done.get(uid, ()))
    pending = [p for p in w["pending"] if p["_id"] not in done]
    if entry is not None:
        pending.append(entry)
    balance = int(w["balance"]) + balance_delta
    held = int(w["held"]) + held_delta
    if balance < 0 or held < 0 or held > balance:  # the invariant, checked where the write happens
        raise InsufficientBalance("Insufficient balance for this operation.")
    sets = {"balance": balance, "held": held, "seq": int(w["seq"]) + 1, "updated_at": clock.now()}
    if pending != w["pending"]:
        sets["pending"] = pending
    if holds is not None:
        sets["holds"] = holds
    if closed_holds is not None:
        sets["closed_holds"] = closed_holds
    if entry is not None:
        sets["n"] = entry["n"]
        # Rollups ride in the same atomic write as the balance. The whole map is rewritten (two days
        # at most): nested $inc paths cost ~3x a top-level $set on the embedded engine.
        sets["days"] = _add_to_day(w.get("days") or {}, entry, balance)
    res = db.wallets.update_one({"_id": uid, "seq": w["seq"]}, {"$set": sets})
    if res.matched_count != 1:
        return _backoff()
    _forget_done(uid, done)
    return True


def _add_to_day(days: dict, entry: dict, balance: int) -> dict:
    d, amt, kind = entry["day"], entry["amount"], entry["type"]
    day = dict(days.get(d) or {})
    side = "credits" if kind == CREDIT else "debits"
    day[side] = int(day.get(side, 0)) + amt
    day[f"{kind}_count"] = int(day.get(f"{kind}_count", 0)) + 1
    cat = dict(day.get("cat") or {})
    cat[entry["category"]] = int(cat.get(entry["category"], 0)) + amt
    day["cat"] = cat
    if entry["category"] in CALL_CATEGORIES:
        day["calls"] = int(day.get("calls", 0)) + 1
        day["call_seconds"] = int(day.get("call_seconds", 0)) + int((entry.get("meta") or {}).get("seconds", 0))
    day["balance"] = balance
    return {**days, d: day}


def _closed(w: dict) -> dict[str, str]:
    """Resolved holds: hold id -> its settle entry id ('' when released or settled at zero)."""
    out = {}
    for tok in (w.get("closed_holds") or "").split():
        hid, _, eid = tok.partition("=")
        out[hid] = eid
    return out


def _close(w: dict, hold_id: str, eid: str) -> str:
    toks = (w.get("closed_holds") or "").split() + [f"{hold_id}={eid}"]
    return " ".join(toks[-CLOSED_HOLDS_KEPT:])


def _forget_done(uid: str, keys: set) -> None:
    with _done_lock:
        if uid in _done:
            _done[uid] -= keys
            if not _done[uid]:
                del _done[uid]


def _backoff() -> bool:
    # Other processes won the CAS; a short random sleep spreads the next attempts.
    time.sleep(random.uniform(0, 0.002))
    return False


def _finish(db, entry: dict) -> None:
    """Record an applied entry: ledger insert, then point its key's claim at it. Both idempotent."""
    doc = {k: v for k, v in entry.items() if k != "_fresh"}
    if not insert_new(db.ledger, doc):
        existing = db.ledger.find_one({"_id": doc["_id"]})
        if existing is None or existing.get("key") != doc.get("key"):
            raise RuntimeError(f"ledger entry {doc['_id']} exists with other content")
    if entry.get("claimed"):
        db.ledger_keys.update_one({"_id": entry["key"]}, {"$set": {"entry_id": entry["_id"]}})
    with _done_lock:
        _done.setdefault(entry["user_id"], set()).add(entry["_id"])


def _get(db, eid: str) -> dict:
    e = get_entry(db, eid)
    if e is None:
        raise RuntimeError(f"ledger entry {eid} is missing")
    return e


def _drop_pending(db, user_id: str, ids: set) -> None:
    while True:
        w = _read_wallet(db, user_id)
        keep = [p for p in w["pending"] if p["_id"] not in ids]
        if len(keep) == len(w["pending"]):
            break
        res = db.wallets.update_one({"_id": user_id, "seq": w["seq"]},
                                    {"$set": {"pending": keep, "seq": int(w["seq"]) + 1}})
        if res.matched_count == 1:
            break
        _backoff()
    _forget_done(user_id, ids)


def _old_days(w: dict) -> list[str]:
    cutoff = clock.day_of(clock.now() - timedelta(days=WALLET_DAYS - 1))
    return [d for d in (w.get("days") or {}) if d < cutoff]


def _archive_days(db, w: dict) -> int:
    """Copy closed days to `rollups` ($set: idempotent), then drop them from the wallet."""
    old = _old_days(w)
    for d in old:
        vals = w["days"][d]
        db.rollups.update_one({"_id": f"{w['_id']}|{d}"},
                              {"$set": {"user_id": w["_id"], "day": d, **vals}}, upsert=True)
    keep = {d: v for d, v in w["days"].items() if d not in old}
    db.wallets.update_one({"_id": w["_id"], "seq": w["seq"]},
                          {"$set": {"days": keep, "seq": int(w["seq"]) + 1}})
    return len(old)


def _same(doc: dict, want: dict) -> dict:
    for k, v in want.items():
        if doc.get(k) != v:
            raise Conflict("This idempotency key was already used for a different operation.")
    return doc


def _clean(doc: dict) -> dict:
    doc = dict(doc)
    doc["created_at"] = clock.as_utc(doc.get("created_at"))
    for k in ("amount", "balance_after", "seq", "n"):
        if k in doc:
            doc[k] = int(doc[k])  # small Int64 may come back as 32-bit
    return doc


def _check_user_id(user_id) -> None:
    if not isinstance(user_id, str) or not user_id or len(user_id) > 64 or "." in user_id or \
            ":" in user_id or user_id.startswith("$"):
        raise InvalidInput("Unknown or malformed user id.")


def _check_key(key) -> None:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput("Idempotency key must be 1-200 printable characters.")


def _check_hold_id(hold_id) -> None:
    if not isinstance(hold_id, str) or not _HOLD_ID.match(hold_id):
        raise InvalidInput("Hold id must be 1-100 letters, digits, '_', ':' or '-'.")


def _check_text(text, what: str, most: int) -> None:
    if not isinstance(text, str) or len(text) > most:
        raise InvalidInput(f"{what} must be text of at most {most} characters.")


_rs = format_rupees
