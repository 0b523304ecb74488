"""Lots leaving the wallet: at their expiry (the worker's step) or voided by an admin, each once.

A lot past its `expires_at` (or voided) is lapsed: no debit or hold draws on it any more. The worker's
`expire_lots` then writes one `expiry` (or `void`) entry per lapsed lot for its whole remainder and drops
the lot, in one compare-and-set per wallet, so a lot can leave only once: the write that takes its money
also removes it. A lot a call still holds from waits: the call keeps what its hold reserved, its settle
debits from it and releases the rest back, and the next sweep takes what is left (docs/ledger.md, "Lots").
Wallets with work are found by `next_expiry` (the soonest expiry among their live lots, kept by every write).
"""
from __future__ import annotations

from datetime import datetime

from services import clock
from services.errors import InvalidInput
from services.ledger import cas, ids, lots as lotmod, wallets
from services.ledger.record import drew, new_entry, record

NOTES = {"expiry": "Credit expired", "void": "Credit voided by an administrator"}
NEXT_EXPIRY = [("next_expiry", 1)]  # the index services.ledger declares (services.index_order walks it)


def expire_lots(db, now: datetime | None = None, *, user_id: str | None = None) -> dict:
    """The worker's step: every lapsed lot no call holds from leaves as one entry. Returns counts."""
    now_s = lotmod.epoch(now or clock.now())
    flt: dict = {"next_expiry": {"$lte": now_s}}
    if user_id is not None:
        flt["_id"] = ids.check_user_id(user_id)
    out = {"expired": 0, "voided": 0, "paise": 0}
    found = db.wallets.find(flt, {"_id": 1})
    if user_id is None:
        found = found.hint(NEXT_EXPIRY)  # walks the index: a tick costs the wallets with work, not every wallet
    for w in found:
        for e in sweep(db, w["_id"], now_s):
            out["voided" if e["category"] == "void" else "expired"] += 1
            out["paise"] += int(e["amount"])
    return out


def sweep(db, user_id: str, now_s: int) -> list[dict]:
    """One wallet: an entry per lapsed, unheld lot, all in one compare-and-set, then recorded."""
    with cas.turn(user_id):
        while True:
            w = wallets.read(db, user_id)
            lots = lotmod.of_wallet(w)
            gone = [lot for n, lot in sorted(lots.items())
                    if lot.lapsed(now_s) and lot.held == 0 and lot.remaining > 0]
            if not gone:
                return []
            entries, after = [], w
            for lot in gone:
                cat = "void" if lot.void else "expiry"
                e = new_entry(after, f"{cat}:{user_id}:{lot.n}", ids.DEBIT, cat, lot.remaining, "lots", NOTES[cat],
                              {"lot": lot.n, "expires_at": lotmod.from_epoch(lot.exp)}, claimed=False)
                drew(e, lots, [(lot.n, lot.remaining)])
                lot.remaining = 0
                entries.append(e)
                after = dict(after, balance=int(e["balance_after"]), n=e["n"])
            total = sum(int(e["amount"]) for e in entries)
            change = cas.Change(balance_delta=-total, entry=entries[0], extra=tuple(entries[1:]), lots=lots)
            if cas.commit(db, w, change):
                break
    for e in entries:
        record(db, e)
    return entries


def expiring(db, before: datetime):
    """(user_id, [LotView]) for every wallet with lots that expire after now and at or before `before`."""
    now_s, until = lotmod.epoch(clock.now()), lotmod.epoch(before)
    for w in db.wallets.find({"next_expiry": {"$lte": until}}, {"lots": 1}).hint(NEXT_EXPIRY):
        soon = [wallets.lot_view(w["_id"], lot) for n, lot in sorted(lotmod.of_wallet(w).items())
                if lot.exp is not None and now_s < lot.exp <= until and not lot.void and lot.remaining > 0]
        if soon:
            yield w["_id"], soon


def void_lot(db, user_id: str, lot: int) -> dict | None:
    """Void the unspent remainder of a grant (a promotional or manual lot): it lapses now and leaves as
    one `void` entry, at once, or when the calls holding part of it end. Returns {"lot", "amount" (what
    leaves), "held" (what calls still hold of it), "entry" (the void, None while calls hold)}, or None
    when the lot has nothing left (spent, expired or voided before)."""
    ids.check_user_id(user_id)
    if isinstance(lot, bool) or not isinstance(lot, int) or lot < 1:
        raise InvalidInput("Name the lot by its number.")
    with cas.turn(user_id):
        while True:
            w = wallets.read(db, user_id)
            lots = lotmod.of_wallet(w)
            found = lots.get(lot)
            if found is None:
                return None
            if found.kind not in lotmod.PROMO_KINDS:
                raise InvalidInput("Only promotional or manual credit can be voided; paid money is refunded.")
            amount, held = found.remaining, found.held
            if found.void:
                break
            found.void = True
            if cas.commit(db, w, cas.Change(lots=lots)):
                break
    entry = next((e for e in sweep(db, user_id, lotmod.epoch(clock.now())) if (e.get("meta") or {}).get("lot") == lot),
                 None)
    return {"lot": lot, "amount": amount, "held": held, "entry": entry}
