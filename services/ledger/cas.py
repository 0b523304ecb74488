"""The one write on a wallet: a compare-and-set on (`_id`, `seq`) that writes whole top-level values.

Every change of an existing wallet goes through `_write`: `commit` (a balance or hold change, step 2 of
a posting, with step 5 riding along), `drop_pending` (step 5 alone) and `archive` (closed rollup days
out). `new_state` is the one place that computes a wallet's next state and checks its bounds
(0 <= held <= balance) on the very values being written. A concurrent change makes the filter miss;
the caller re-reads and retries.

Step 5 of a posting, dropping a recorded entry from `pending`, costs no write of its own: `record`
(services.ledger.record) notes the entry in `FINISHED` once it is in the ledger and its claim points at
it, and the next `commit` this process makes on that wallet drops what `FINISHED` lists. A crash
forgets the list, which is harmless: `recover` drops entries the ledger already holds.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from services import clock
from services.errors import InsufficientBalance
from services.ledger import lots as lotmod, rollups, wallets


@dataclass(frozen=True)
class Change:
    """What one operation does to a wallet; `new_state` turns it into the write."""
    balance_delta: int = 0
    held_delta: int = 0
    entry: dict | None = None        # a new entry: into `pending`, counted in `n` and the day's rollup
    holds: dict | None = None        # the open holds afterwards
    closed_holds: str | None = None  # the resolved-holds memory afterwards
    due_delta: int = 0               # change of the amount due (services.ledger.dues)
    extra: tuple = ()                # entries after `entry` in the same write (a credit paying the due)
    budgets: dict | None = None      # API keys' spend afterwards (services.ledger.budgets)
    volumes: dict | None = None      # metered services' units this month afterwards (services.ledger.volumes)
    lots: dict | None = None         # the wallet's lots afterwards (services.ledger.lots): required with money
    batch: dict | None = None        # many entries as one packed `pending` record (services.ledger.packed)
    batch_entries: tuple = ()        # ... and those entries, counted in `n` and the days' rollups


class Finished:
    """Per wallet, the entries this process has recorded that may still sit in its `pending`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ids: dict[str, set[str]] = {}

    def add(self, user_id: str, eid: str) -> None:
        with self._lock:
            self._ids.setdefault(user_id, set()).add(eid)

    def of(self, user_id: str) -> frozenset:
        with self._lock:
            return frozenset(self._ids.get(user_id, ()))

    def forget(self, user_id: str, eids) -> None:
        with self._lock:
            left = self._ids.get(user_id, set()) - set(eids)
            if left:
                self._ids[user_id] = left
            else:
                self._ids.pop(user_id, None)


FINISHED = Finished()


def new_state(w: dict, change: Change, drop: frozenset = frozenset()) -> dict:
    """The wallet's next values (a `$set`): `change` applied, the entries in `drop` out of `pending`.
    Raises InsufficientBalance if the result would leave 0 <= held <= balance."""
    balance = int(w["balance"]) + change.balance_delta
    held = int(w["held"]) + change.held_delta
    if balance < 0 or held < 0 or held > balance:  # the invariant, checked where the write happens
        raise InsufficientBalance("Insufficient balance for this operation.", available=int(w["balance"]) -
                                  int(w["held"]))
    sets: dict[str, Any] = {"balance": balance, "held": held, "updated_at": clock.now()}
    if change.lots is not None:
        _lots_into(sets, change.lots, balance, held, w)
    elif change.balance_delta or change.held_delta:
        raise RuntimeError("a change of money must say which lots it moves")
    pending = [p for p in w["pending"] if p["_id"] not in drop]
    new = new_entries(change)
    days = w.get("days") or {}
    for e in new:
        sets["n"] = e["n"]
        # Rollups ride in the same atomic write as the balance. The whole map is rewritten (two days
        # at most): nested $inc paths cost ~3x a top-level $set on the embedded engine.
        days = rollups.add_to_day(days, e, balance)
    # A single entry rides as itself; a batch's entries as one packed record (services.ledger.packed).
    pending += [change.batch] if change.batch is not None else list(new)
    if new:
        sets["days"] = days
    if change.due_delta:
        sets["due"] = _due_after(w, change.due_delta)
    if pending != w["pending"]:
        sets["pending"] = pending
    if change.holds is not None:
        sets["holds"] = change.holds
    if change.closed_holds is not None:
        sets["closed_holds"] = change.closed_holds
    if change.budgets is not None:
        sets["budgets"] = change.budgets
    if change.volumes is not None:
        sets["volumes"] = change.volumes
    return sets


def new_entries(change: Change) -> tuple:
    """Every entry `change` adds, in number order: its entry and the ones riding with it, or a batch's."""
    return ((change.entry,) if change.entry is not None else ()) + tuple(change.extra) + tuple(change.batch_entries)


def _lots_into(sets: dict, lots: dict, balance: int, held: int, w: dict) -> None:
    """The lots afterwards, checked against the very balance and held amount being written."""
    bad = lotmod.problems(lots, balance, held)
    if bad:  # a bug in the operation that computed them: nothing is written
        raise RuntimeError("lot invariant broken: " + "; ".join(bad))
    sets["lots"] = lotmod.encode(lots)
    nxt = lotmod.next_expiry(lots)
    if nxt != w.get("next_expiry") or "next_expiry" not in w:  # indexed: written only when it moves
        sets["next_expiry"] = nxt


def _due_after(w: dict, delta: int) -> int:
    due = int(w.get("due") or 0) + delta
    if due < 0:  # an amount due is never paid beyond what is owed
        raise InsufficientBalance("The amount due cannot go below zero.")
    return due


def commit(db, w: dict, change: Change) -> bool:
    """Write `change` (step 2) and step 5 if the wallet is still at the version read. False: re-read
    and retry (also after moving closed rollup days out first)."""
    if rollups.closed_days(w):
        archive(db, w)
        return _backoff()
    uid = w["_id"]
    drop = FINISHED.of(uid)
    if not _write(db, w, new_state(w, change, drop)):
        return _backoff()
    FINISHED.forget(uid, drop)
    new = new_entries(change)
    if new:
        rollups.checkpoint(db, w, new)
    return True


def drop_pending(db, user_id: str, eids: set) -> None:
    """Step 5 on its own (recovery): take recorded entries out of the wallet's `pending`."""
    while True:
        w = wallets.read(db, user_id)
        keep = [p for p in w["pending"] if p["_id"] not in eids]
        if len(keep) == len(w["pending"]) or _write(db, w, {"pending": keep}):
            break
        _backoff()
    FINISHED.forget(user_id, eids)


def archive(db, w: dict) -> int:
    """Move the wallet's closed days to `rollups`: copy (idempotent), then drop them if unchanged."""
    keep = rollups.copy_out(db, w)
    _write(db, w, {"days": keep})
    return len(w.get("days") or {}) - len(keep)


def set_lots(db, w: dict, lots: dict, holds: dict) -> bool:
    """Write the lots of a wallet from before lots (services.ledger.migrate) if it is still at the version read."""
    sets = {"holds": holds}
    _lots_into(sets, lots, int(w["balance"]), int(w["held"]), w)
    return _write(db, w, sets)


def set_days(db, w: dict, days: dict) -> bool:
    """Replace the wallet's live rollup days (services.ledger.rebuild) if it is still at the version read."""
    return _write(db, w, {"days": days})


def _write(db, w: dict, sets: dict) -> bool:
    res = db.wallets.update_one({"_id": w["_id"], "seq": w["seq"]},
                                {"$set": dict(sets, seq=int(w["seq"]) + 1)})
    return res.matched_count == 1


def _backoff() -> bool:
    # Other processes won the CAS; a short random sleep spreads the next attempts.
    time.sleep(random.uniform(0, 0.002))
    return False


# Threads of one process take turns per wallet instead of racing each other's CAS. Correctness comes
# from the CAS (other processes still race); this only saves wasted round trips.
_turns: dict[str, threading.Lock] = {}
_turns_guard = threading.Lock()


def turn(user_id: str) -> threading.Lock:
    with _turns_guard:
        lock = _turns.get(user_id)
        if lock is None:
            if len(_turns) > 10_000:
                _turns.clear()  # bounded; a dropped lock only costs a CAS retry
            lock = _turns[user_id] = threading.Lock()
        return lock
