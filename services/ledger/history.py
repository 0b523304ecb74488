"""A wallet as it stood at a past instant: its balance and its lots, from the ledger alone, exact.

The balance is the `balance_after` of the last entry at or before the instant (entries are numbered in
time order: a binary search by primary-key reads). The lots are replayed: each credit made a lot, each
debit drew its parts from lots (an entry from before lots drew from lot 0). The replay starts from the
nearest checkpoint, the lots a day's first entry found in the wallet (`open_lots`, `open_n` in its
rollup), so it reads at most that day's entries; without one (days recounted by `rebuild_rollups`, or
from before lots) it starts from the first entry.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from services.errors import InvalidInput
from services.ledger import ids, lots as lotmod, queries, rollups, wallets
from services.ledger.wallets import LotView, lot_view

_MS = timedelta(milliseconds=1)


def balance_at(db, user_id: str, at: datetime, *, before: bool = False) -> dict:
    """{balance, entries (how many count), entry_id (the last), lots (LotView as they stood, held 0:
    holds are not history)} after every entry created at or before `at` (strictly before, with `before`)."""
    ids.check_user_id(user_id)
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise InvalidInput("Give the time with its zone, e.g. 2026-11-30T23:59:59+05:30.")
    wal = queries._Wallet(db, wallets.read(db, user_id))
    k = wal.first_at_or_after(at if before else at + _MS) - 1
    if k <= 0:
        return {"balance": 0, "entries": 0, "entry_id": None, "lots": ()}
    last = wal.at(k)
    if last is None:
        raise RuntimeError(f"ledger entry {ids.entry_id(user_id, k)} is missing (run recovery)")
    lots = _replay(db, wal, k, last)
    balance = int(last["balance_after"])
    if sum(lot.remaining for lot in lots.values()) != balance:
        raise RuntimeError(f"the lots of {user_id} at entry {k} do not add up to its balance {balance}")
    views = tuple(lot_view(user_id, lot) for n, lot in sorted(lots.items()) if lot.remaining)
    return {"balance": balance, "entries": k, "entry_id": last["_id"], "lots": views}


def _replay(db, wal: queries._Wallet, k: int, last: dict) -> dict:
    lots, start = _checkpoint(db, wal, k, last)
    for i in range(start + 1, k + 1):
        e = last if i == k else wal.at(i)
        if e is None:
            raise RuntimeError(f"ledger entry {ids.entry_id(wal.user_id, i)} is missing (run recovery)")
        apply(lots, e)
    return lots


def _checkpoint(db, wal: queries._Wallet, k: int, last: dict) -> tuple[dict, int]:
    """The lots after some entry before k, and its number (nothing, 0, without a checkpoint): the
    checkpoint of entry k's day, else the newest before it."""
    row = rollups.checkpoint_before(db, wal.user_id, last.get("day") or "", k)
    if row is None:
        return {}, 0
    lots = lotmod.parse(row["open_lots"])
    for lot in lots.values():
        lot.held = 0
    return lots, int(row["open_n"])


def apply(lots: dict, e: dict) -> None:
    """One entry's effect on the lots (held amounts aside)."""
    amt = int(e["amount"])
    if e["type"] == ids.CREDIT:
        spec = e.get("lot")
        if spec:
            lotmod.add(lots, int(e["n"]), lotmod.KIND_OF_NAME.get(spec.get("kind"), "u"), amt,
                       lotmod.maybe_epoch(spec.get("expires_at")), spec.get("priority"), spec.get("campaign") or "")
        else:  # a credit from before lots: into lot 0
            lot = lots.get(0) or lotmod.add(lots, 0, "u", 0)
            lot.amount += amt
            lot.remaining += amt
        return
    parts = lotmod.parse_parts(e["lots"]) if "lots" in e else [(0, amt)]
    for n, a in parts:
        lot = lots.get(n) or lotmod.add(lots, n, "u", 0)
        lot.remaining -= a


__all__ = ["LotView", "apply", "balance_at"]
