"""The ledger: every balance change is one immutable entry; balances never go negative.

Protocol (docs/ledger.md has the full argument). A wallet document carries the balance, the held amount,
the open holds, today's and yesterday's rollups, a version `seq`, and `pending`: entries whose balance
change is applied but whose ledger insert may not be done yet. Every change is one compare-and-set on
(`_id`, `seq`) that writes whole top-level values, so it is atomic on any MongoDB and fast on the embedded
engine. The steps of one posting:

  1. read the wallet, then look the idempotency key up in the ledger (in that order: see `post`);
  2. CAS: new balance (+ rollup counters) and the full entry appended to `pending`;
  3. insert the entry into the ledger with `_id` = key (a duplicate means it is already there);
  4. later (the next CAS by this process, or `recover`): drop the entry from `pending`.

A crash after 2 leaves the entry in `pending`; `recover` inserts it (idempotently) and drops it. Nothing
is lost (the entry rides with the balance change) and nothing doubles (the ledger `_id` is the key, and
a key cannot pass step 1 while it is pending or already in the ledger).
"""
from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.errors import BulkWriteError, DuplicateKeyError

from services import clock
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound
from services.money import format_rupees, require_paise

CREDIT, DEBIT = "credit", "debit"
CATEGORIES = ("recharge", "call", "campaign", "manual_credit", "promo_credit", "refund", "adjustment")
CALL_CATEGORIES = ("call", "campaign")
# Days kept inside the wallet document; older ones move to the `rollups` collection.
WALLET_DAYS = 2
# Resolved hold ids remembered on the wallet so a late duplicate "hold" is refused, not re-opened.
CLOSED_HOLDS_KEPT = 200

_KEY = re.compile(r"^[^\x00-\x1f]{1,200}$")
_HOLD_ID = re.compile(r"^[A-Za-z0-9_:\-]{1,100}$")

# Keys whose ledger insert this process has finished: the next CAS on that wallet drops them from
# `pending`, which saves a write per posting. Anything left (crash, exit) is cleaned by `recover`.
_done_lock = threading.Lock()
_done: dict[str, set[str]] = {}

# Threads of one process take turns per wallet instead of racing each other's CAS: correctness
# comes from the CAS (other processes still race), this only saves wasted round trips.
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

    @property
    def available(self) -> int:
        return self.balance - self.held


# ---------------------------------------------------------------------------------------------- wallets

def new_wallet_doc(user_id: str) -> dict:
    t = clock.now()
    return {"_id": user_id, "balance": 0, "held": 0, "seq": 0, "holds": {}, "closed_holds": [],
            "pending": [], "days": {}, "created_at": t, "updated_at": t}


def ensure_wallet(db, user_id: str) -> dict:
    """Create the wallet (balance 0) if missing; safe under races."""
    _check_user_id(user_id)
    doc = db.wallets.find_one({"_id": user_id})
    if doc is not None:
        return doc
    try:
        db.wallets.insert_many([new_wallet_doc(user_id)])
    except (DuplicateKeyError, BulkWriteError) as exc:
        _reraise_unless_duplicate(exc)
    return db.wallets.find_one({"_id": user_id})


def get_wallet(db, user_id: str) -> Wallet:
    doc = db.wallets.find_one({"_id": user_id}, {"balance": 1, "held": 1, "seq": 1, "holds": 1})
    if doc is None:
        doc = ensure_wallet(db, user_id)
    return Wallet(user_id, int(doc["balance"]), int(doc["held"]), int(doc["seq"]), doc.get("holds") or {})


# --------------------------------------------------------------------------------------------- postings

def post(db, user_id: str, *, key: str, type: str, category: str, amount: int, source: str = "",
         note: str = "", meta: dict | None = None) -> dict:
    """Credit or debit `amount` paise once per `key`. Repeating a key returns the first entry.

    Raises InsufficientBalance (a debit beyond the available balance), InvalidInput/InvalidAmount (bad
    arguments, nothing written), Conflict (the key was used for a different operation).
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
    with _turn(user_id):
        entry = _post_locked(db, user_id, key, type, category, amount, source, note, meta, want)
    if entry.get("_fresh"):
        del entry["_fresh"]
        _insert_entry(db, entry)
    return entry


def _post_locked(db, user_id, key, type, category, amount, source, note, meta, want) -> dict:
    while True:
        w = _read_wallet(db, user_id)
        # Order matters: the wallet first, then the ledger. An earlier posting of this key either is
        # still in `pending` (seen below) or left it only after its ledger insert (seen by find_entry).
        if any(p["_id"] == key for p in w["pending"]):
            return _same(_finish_pending(db, w, key), want)
        existing = find_entry(db, key)
        if existing is not None:
            return _same(existing, want)
        available = int(w["balance"]) - int(w["held"])
        if type == DEBIT and amount > available:
            raise InsufficientBalance(
                f"Insufficient balance: this needs {_rs(amount)} but {_rs(available)} is available.")
        delta = amount if type == CREDIT else -amount
        entry = _entry(w, key, user_id, type, category, amount, int(w["balance"]) + delta, source, note, meta)
        if _cas(db, w, entry=entry, balance_delta=delta):
            return dict(entry, _fresh=True)


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
        return _hold_locked(db, user_id, hold_id, amount, min_amount, ref)


def _hold_locked(db, user_id, hold_id, amount, min_amount, ref) -> int:
    while True:
        w = _read_wallet(db, user_id)
        if hold_id in w["holds"]:
            return int(w["holds"][hold_id]["amount"])
        if hold_id in w.get("closed_holds", []):
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
    """Debit `amount` (at most the hold) and release the rest of the hold, in one step.

    Returns the debit entry (None when `amount` is 0: nothing moved, so nothing to record). Settling a
    resolved hold again returns the first result; a released hold raises Conflict.
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
        _insert_entry(db, entry)
    return entry


def _settle_locked(db, user_id, hold_id, amount, key, category, source, note, meta):
    while True:
        w = _read_wallet(db, user_id)
        h = w["holds"].get(hold_id)
        if h is None:
            if any(p["_id"] == key for p in w["pending"]):
                return _finish_pending(db, w, key), False
            done = find_entry(db, key)
            if done is not None:
                return done, False
            if hold_id in w.get("closed_holds", []):
                if amount == 0:
                    return None, False
                raise Conflict(f"Hold {hold_id} was already released.")
            raise NotFound(f"No open hold {hold_id}.")
        if amount > int(h["amount"]):
            raise InvalidInput(f"Cannot settle {_rs(amount)} against a hold of {_rs(int(h['amount']))}.")
        holds = {k: v for k, v in w["holds"].items() if k != hold_id}
        closed = (w.get("closed_holds", []) + [hold_id])[-CLOSED_HOLDS_KEPT:]
        entry = None
        if amount > 0:
            entry = _entry(w, key, user_id, DEBIT, category, amount, int(w["balance"]) - amount, source,
                           note, meta)
        if _cas(db, w, entry=entry, balance_delta=-amount, held_delta=-int(h["amount"]), holds=holds,
                closed_holds=closed):
            return entry, entry is not None


def release(db, user_id: str, hold_id: str) -> bool:
    """Give a hold back. True if this call released it, False if it was already resolved."""
    _check_user_id(user_id)
    _check_hold_id(hold_id)
    with _turn(user_id):
        return _release_locked(db, user_id, hold_id)


def _release_locked(db, user_id, hold_id) -> bool:
    while True:
        w = _read_wallet(db, user_id)
        h = w["holds"].get(hold_id)
        if h is None:
            return False
        holds = {k: v for k, v in w["holds"].items() if k != hold_id}
        closed = (w.get("closed_holds", []) + [hold_id])[-CLOSED_HOLDS_KEPT:]
        if _cas(db, w, held_delta=-int(h["amount"]), holds=holds, closed_holds=closed):
            return True


# ------------------------------------------------------------------------------------------ reading

def find_entry(db, key: str) -> dict | None:
    docs = list(db.ledger.find({"_id": key}).limit(1))
    return _clean(docs[0]) if docs else None


def entries(db, user_id: str | None = None, *, type: str | None = None, category: str | None = None,
            start: datetime | None = None, end: datetime | None = None, before_seq: int | None = None,
            limit: int = 50) -> tuple[list[dict], int | None]:
    """One page of a user's entries, newest first, and the cursor for the next page (None at the end).

    Pages walk down `seq` in widening windows: a sorted query would cost as much as the whole ledger on
    the embedded engine, a window costs only what it reads.
    """
    _check_user_id(user_id)
    if not 1 <= int(limit) <= 1000:
        raise InvalidInput("Page size must be between 1 and 1000.")
    flt = _filter(type, category, start, end)
    flt["user_id"] = user_id
    top = (before_seq if before_seq is not None else get_wallet(db, user_id).seq + 1)
    window = max(4 * limit, 200)
    found: list[dict] = []
    while top > 0 and len(found) < limit:
        low = max(0, top - window)
        q = dict(flt, seq={"$lt": top, "$gte": low})
        found.extend(sorted((_clean(d) for d in db.ledger.find(q)), key=lambda e: -e["seq"]))
        top = low
        window *= 2
    page = found[:limit]
    more = len(found) > limit or top > 0
    return page, (page[-1]["seq"] if page and more else None)


def iter_entries(db, *, user_id: str | None = None, type: str | None = None, category: str | None = None,
                 start: datetime | None = None, end: datetime | None = None, chunk: int = 2000):
    """Every matching entry, oldest first, in bounded chunks (exports stream this; memory stays flat)."""
    flt = _filter(type, category, start, end)
    if user_id is not None:
        _check_user_id(user_id)
        flt["user_id"] = user_id
        top = get_wallet(db, user_id).seq + 1
        low = 0
        while low < top:
            q = dict(flt, seq={"$gte": low, "$lt": low + chunk})
            yield from sorted((_clean(d) for d in db.ledger.find(q)), key=lambda e: e["seq"])
            low += chunk
        return
    # All users: walk created_at in hour slices so no single query materialises the ledger.
    first = db.ledger.find_one(flt, sort=[("created_at", 1)]) if start is None else None
    lo = start or (clock.as_utc(first["created_at"]) if first else None)
    hi = end or clock.now() + timedelta(seconds=1)
    if lo is None:
        return
    step = timedelta(hours=1)
    while lo < hi:
        q = dict(flt, created_at={"$gte": lo, "$lt": min(lo + step, hi)})
        yield from sorted((_clean(d) for d in db.ledger.find(q)), key=lambda e: (e["created_at"], e["_id"]))
        lo += step


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
    """Finish every posting a crash interrupted and move old rollup days out of wallets.

    Safe to run at any time, from any process, concurrently with live traffic: every step it takes is
    one a live posting would take, and each is idempotent.
    """
    flt = {"_id": user_id} if user_id else {}
    finished = archived = 0
    for w in db.wallets.find(flt, {"_id": 1, "pending": 1, "days": 1}):
        for e in w.get("pending") or []:
            _insert_entry(db, e)
            finished += 1
        if w.get("pending"):
            _drop_pending(db, w["_id"], {e["_id"] for e in w["pending"]})
        if _old_days(w):
            archived += _archive_days(db, _read_wallet(db, w["_id"]))
    return {"pending_finished": finished, "days_archived": archived}


def audit(db) -> list[dict]:
    """Wallets whose balance != credits - debits, or held != open holds, or that went negative."""
    sums: dict[str, int] = {}
    for row in db.ledger.aggregate([
        {"$group": {"_id": {"u": "$user_id", "t": "$type"}, "s": {"$sum": "$amount"}}},
    ]):
        sign = 1 if row["_id"]["t"] == CREDIT else -1
        sums[row["_id"]["u"]] = sums.get(row["_id"]["u"], 0) + sign * int(row["s"])
    bad = []
    for w in db.wallets.find({}, {"balance": 1, "held": 1, "holds": 1, "pending": 1}):
        uid = w["_id"]
        expected = sums.get(uid, 0)
        for p in w.get("pending") or []:  # applied to the balance, maybe not yet in the ledger
            if find_entry(db, p["_id"]) is None:
                expected += p["amount"] if p["type"] == CREDIT else -p["amount"]
        balance, held = int(w["balance"]), int(w["held"])
        holds = sum(int(h["amount"]) for h in (w.get("holds") or {}).values())
        problems = []
        if balance != expected:
            problems.append(f"balance {balance} != ledger {expected}")
        if held != holds:
            problems.append(f"held {held} != open holds {holds}")
        if balance < 0 or held < 0 or held > balance:
            problems.append(f"out of bounds: balance {balance}, held {held}")
        if problems:
            bad.append({"user_id": uid, "balance": balance, "ledger": expected, "held": held,
                        "holds": holds, "problems": problems})
    # Entries of users with no wallet at all are money with no home.
    for uid in set(sums) - {w["_id"] for w in db.wallets.find({}, {"_id": 1})}:
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


def _entry(w, key, user_id, type, category, amount, balance_after, source, note, meta) -> dict:
    t = clock.now()
    e = {"_id": key, "user_id": user_id, "seq": int(w["seq"]) + 1, "type": type, "category": category,
         "amount": amount, "balance_after": balance_after, "created_at": t, "day": clock.day_of(t),
         "source": source or "", "note": note or ""}
    if meta:
        e["meta"] = meta
    return e


def _cas(db, w: dict, *, entry: dict | None = None, balance_delta: int = 0, held_delta: int = 0,
         holds: dict | None = None, closed_holds: list | None = None) -> bool:
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
    if balance < 0 or held < 0 or held > balance:  # the invariant, checked at the one place that writes
        raise InsufficientBalance("Insufficient balance for this operation.")
    now = clock.now()
    sets = {"balance": balance, "held": held, "seq": int(w["seq"]) + 1, "pending": pending,
            "updated_at": now}
    if holds is not None:
        sets["holds"] = holds
    if closed_holds is not None:
        sets["closed_holds"] = closed_holds
    update: dict = {"$set": sets}
    if entry is not None:
        d, amt = entry["day"], entry["amount"]
        incs = {f"days.{d}.{'credits' if entry['type'] == CREDIT else 'debits'}": amt,
                f"days.{d}.{entry['type']}_count": 1,
                f"days.{d}.cat.{entry['category']}": amt}
        if entry["category"] in CALL_CATEGORIES:
            incs[f"days.{d}.calls"] = 1
            incs[f"days.{d}.call_seconds"] = int((entry.get("meta") or {}).get("seconds", 0))
        update["$inc"] = incs
        sets[f"days.{d}.balance"] = balance
    res = db.wallets.update_one({"_id": uid, "seq": w["seq"]}, update)
    if res.matched_count != 1:
        return _backoff()
    _forget_done(uid, done)
    return True


def _forget_done(uid: str, keys: set) -> None:
    with _done_lock:
        if uid in _done:
            _done[uid] -= keys
            if not _done[uid]:
                del _done[uid]


def _backoff() -> bool:
    # Under contention many writers lose the CAS; a short random sleep spreads them out.
    time.sleep(random.uniform(0, 0.002))
    return False


def _insert_entry(db, entry: dict) -> None:
    doc = {k: v for k, v in entry.items()}
    try:
        db.ledger.insert_many([doc])  # insert_many: the embedded engine's insert_one is slow
    except (DuplicateKeyError, BulkWriteError) as exc:
        _reraise_unless_duplicate(exc)
    with _done_lock:
        _done.setdefault(entry["user_id"], set()).add(entry["_id"])


def _finish_pending(db, w: dict, key: str) -> dict:
    """Another writer applied this key and may not have inserted it yet: insert it (idempotent)."""
    e = next(p for p in w["pending"] if p["_id"] == key)
    _insert_entry(db, e)
    return _clean(e)


def _drop_pending(db, user_id: str, ids: set) -> None:
    while True:
        w = _read_wallet(db, user_id)
        keep = [p for p in w["pending"] if p["_id"] not in ids]
        if len(keep) == len(w["pending"]):
            _forget_done(user_id, ids)
            return
        res = db.wallets.update_one({"_id": user_id, "seq": w["seq"]},
                                    {"$set": {"pending": keep, "seq": int(w["seq"]) + 1}})
        if res.matched_count == 1:
            _forget_done(user_id, ids)
            return
        _backoff()


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


def _same(entry: dict, want: dict) -> dict:
    for k, v in want.items():
        if entry.get(k) != v:
            raise Conflict("This idempotency key was already used for a different operation.")
    return entry


def _clean(doc: dict) -> dict:
    doc = dict(doc)
    doc["created_at"] = clock.as_utc(doc.get("created_at"))
    for k in ("amount", "balance_after", "seq"):
        if k in doc:
            doc[k] = int(doc[k])  # small Int64 may come back as 32-bit
    return doc


def _reraise_unless_duplicate(exc) -> None:
    if isinstance(exc, BulkWriteError):
        errs = exc.details.get("writeErrors", [])
        if errs and all(e.get("code") == 11000 for e in errs):
            return
        raise exc
    if isinstance(exc, DuplicateKeyError):
        return
    raise exc


def _check_user_id(user_id) -> None:
    if not isinstance(user_id, str) or not user_id or len(user_id) > 64 or "." in user_id or \
            user_id.startswith("$"):
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
