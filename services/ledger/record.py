"""An entry: built once, inside the compare-and-set that applies it (step 2), then recorded (steps 3-4).

`ledger/{user}:{n}` holds the entry: `key`, `type`, `category`, `amount`, `balance_after`, `created_at`,
`day`, `source`, `note`, `meta`, and `claimed` (whether a `ledger_keys` claim points at it).
"""
from __future__ import annotations

from services import clock
from services.db import insert_new
from services.ledger import ids, lots as lotmod
from services.ledger.cas import FINISHED


def new_entry(w: dict, key: str, type: str, category: str, amount: int, source: str, note: str,
              meta: dict | None, *, claimed: bool) -> dict:
    """The wallet's next entry (number n+1) for a change of `amount` applied to the document `w`."""
    t = clock.now()
    n = int(w.get("n", 0)) + 1
    balance_after = int(w["balance"]) + (amount if type == ids.CREDIT else -amount)
    e = {"_id": ids.entry_id(w["_id"], n), "key": key, "user_id": w["_id"], "n": n, "seq": int(w["seq"]) + 1,
         "type": type, "category": category, "amount": amount, "balance_after": balance_after,
         "created_at": t, "day": clock.day_of(t), "source": source or "", "note": note or "",
         "claimed": claimed}
    if meta:
        e["meta"] = meta
    return e


def drew(entry: dict, lots: dict, parts) -> dict:
    """Mark a debit with the lots it drew from, and its promotional part (the rest was paid money): the
    lot parts sum to the amount (docs/ledger.md, L3)."""
    promo, by = lotmod.promo_split(lots, parts)
    entry["lots"] = lotmod.encode_parts(parts)
    entry["promo_paise"] = promo
    if by:
        entry["promo_by"] = by
    return entry


def made_lot(entry: dict, lot) -> dict:
    """Mark a credit with the lot it created (its number is the entry's)."""
    entry["lot"] = {"kind": lotmod.KINDS[lot.kind], "expires_at": lotmod.from_epoch(lot.exp),
                    "priority": lot.prio, "campaign": lot.tag}
    return entry


def record(db, entry: dict) -> None:
    """Steps 3 and 4 for an applied entry: insert it into the ledger, point its key's claim at it.
    Both are idempotent; afterwards the entry is due for step 5 (see services.ledger.cas)."""
    if not insert_new(db.ledger, entry):
        existing = db.ledger.find_one({"_id": entry["_id"]})
        if existing is None or existing.get("key") != entry.get("key"):
            raise RuntimeError(f"ledger entry {entry['_id']} exists with other content")
    if entry.get("claimed"):
        db.ledger_keys.update_one({"_id": entry["key"]}, {"$set": {"entry_id": entry["_id"]}})
    FINISHED.add(entry["user_id"], entry["_id"])
