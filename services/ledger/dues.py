"""The amount due: what a refund took beyond what the wallet had, owed by the customer, never a
negative balance.

`wallets/{user}.due` (paise, default 0) moves only with entries that say so in `due_delta`, in the
same compare-and-set as their balance change, so `due == Σ due_delta` (the audit checks it) and
`balance == Σ credits − Σ debits` stays true:
- `debit_owing` (a refund): takes the refund's own hold first (when it has one), then paid money: its
  payment's lot, then other paid lots newest first (promotional money never becomes a bank refund), and
  adds the rest to `due`: one entry, amount = what was taken (0 when nothing was), `due_delta` = the
  rest. Once per idempotency key, like `post`.
- a credit of paid money (`post`) on a wallet with an amount due pays it first, from itself, in the same
  write: the credit entry and a `refund` debit of min(due, credit) with `due_delta` < 0 (`paying_due`).
- `pay_due`: paid money a running call held when the refund came, and released since, pays the due too
  (the worker sweeps the wallets that have one).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from services import checks, clock, procs
from services.ledger import burn, cas, claims, ids, lots as lotmod, queries, wallets
from services.ledger.holds import close_hold, without_hold
from services.ledger.record import drew, new_entry, record
from services.money import require_paise

DUE_NOTE = "Refund due, paid from this credit"
SWEEP_NOTE = "Refund due, paid from the available balance"


@dataclass(frozen=True)
class Due:
    """A wallet that owes an amount due (admin lists)."""
    user_id: str
    due: int
    balance: int
    held: int


def due_of(w: dict) -> int:
    return int(w.get("due") or 0)


def paying_due(w: dict, change: cas.Change) -> cas.Change:
    """`change` (one new entry) with the wallet's amount due paid first from it when it is a credit of
    paid money: a second entry, a `refund` debit of min(due, credit) from the credit's own lot, rides in
    the same write."""
    due, e = due_of(w), change.entry
    if due <= 0 or e is None or e["type"] != ids.CREDIT:
        return change
    lots = change.lots
    lot = lots.get(e["n"]) if lots is not None else None
    if lots is None or lot is None or lot.kind not in lotmod.REFUNDABLE_KINDS:
        return change
    pay = min(due, int(e["amount"]))
    after = dict(w, balance=int(w["balance"]) + int(e["amount"]), n=e["n"])
    debit = new_entry(after, f"refund-due:{e['_id']}", ids.DEBIT, "refund", pay, e["_id"], DUE_NOTE,
                      {"paid_from": e["_id"], "due_before": due}, claimed=False)
    drew(debit, lots, lotmod.draw_from(lots, e["n"], pay))
    debit["due_delta"] = -pay
    return replace(change, balance_delta=change.balance_delta - pay, due_delta=-pay, extra=(debit,))


def debit_owing(db, user_id: str, *, key: str, amount: int, category: str = "refund", source: str = "",
                note: str = "", meta: dict | None = None, hold_id: str | None = None, lot: int | None = None,
                spend: bool = False) -> dict:
    """Take `amount` once per `key`: from the hold `hold_id` when it is still open (released in the same
    write), then from paid money (lot `lot` first, the refunded payment's, then the newest); what the
    wallet cannot cover becomes an amount due. Never raises InsufficientBalance. Returns the entry
    (`amount` taken, `due_delta` owed). With `spend` (a monthly fee, not money going back to a bank), it
    draws on any money not past expiry in the business's burn order instead, as usage does."""
    ids.check_user_id(user_id)
    ids.check_key(key)
    ids.check_posted_category(category)
    if lot is not None:
        checks.whole_number(lot, 0, what="Lot")
    require_paise(amount)
    checks.text(source, what="Source", most=200)
    checks.text(note, what="Note", most=500)
    if hold_id is not None:
        ids.check_hold_id(hold_id)
    want = {"user_id": user_id, "type": ids.DEBIT, "amount": amount, "category": category}
    prior = claims.claim(db, key, want, procs.owner())
    if prior is not None:
        return prior
    with cas.turn(user_id):
        entry = _apply_owing(db, user_id, key, amount, category, source, note, meta, hold_id, lot, spend)
    record(db, entry)
    return entry


def _apply_owing(db, user_id, key, amount, category, source, note, meta, hold_id, lot, spend) -> dict:
    order, kinds = (burn.Lazy(db), None) if spend else (lotmod.NEWEST_FIRST, lotmod.REFUNDABLE_KINDS)
    while True:
        w = wallets.read(db, user_id)
        p = queries.pending_with_key(w, key)
        if p is not None:  # an adopted claim whose owner had already moved the money
            return queries.clean(p)
        lots, now_s = lotmod.of_wallet(w), lotmod.epoch(clock.now())
        h = w["holds"].get(hold_id) if hold_id else None
        freed = int(h["amount"]) if h else 0
        parts = lotmod.settle_reserved(lots, lotmod.hold_parts(h), min(amount, freed))[0] if h else []
        parts += lotmod.draw(lots, amount - sum(a for _, a in parts), order, now_s, kinds=kinds, first=lot)
        take = sum(a for _, a in parts)
        entry = drew(new_entry(w, key, ids.DEBIT, category, take, source, note, meta, claimed=True), lots,
                     lotmod.merge_parts(parts, ()))
        if amount > take:
            entry["due_delta"] = amount - take
        change = cas.Change(balance_delta=-take, held_delta=-freed, entry=entry, due_delta=amount - take,
                            holds=without_hold(w, hold_id) if h else None,
                            closed_holds=close_hold(w, hold_id, entry["_id"]) if h else None, lots=lots)
        if cas.commit(db, w, change):
            return entry


def pay_due(db, user_id: str) -> dict | None:
    """Pay the amount due from available paid money (money a call released after the refund). Returns
    the entry, or None when nothing is due or nothing is available. Safe to repeat and to race: the
    amount is computed inside the compare-and-set."""
    ids.check_user_id(user_id)
    with cas.turn(user_id):
        while True:
            w = wallets.read(db, user_id)
            lots, now_s = lotmod.of_wallet(w), lotmod.epoch(clock.now())
            pay = min(due_of(w), lotmod.spendable(lots, now_s, lotmod.REFUNDABLE_KINDS))
            if pay <= 0:
                return None
            n = int(w.get("n", 0)) + 1
            entry = new_entry(w, f"refund-due:{ids.entry_id(user_id, n)}", ids.DEBIT, "refund", pay, "",
                              SWEEP_NOTE, {"due_before": due_of(w)}, claimed=False)
            drew(entry, lots, lotmod.draw(lots, pay, lotmod.NEWEST_FIRST, now_s, kinds=lotmod.REFUNDABLE_KINDS))
            entry["due_delta"] = -pay
            if cas.commit(db, w, cas.Change(balance_delta=-pay, entry=entry, due_delta=-pay, lots=lots)):
                break
    record(db, entry)
    return entry


def amounts_due(db) -> list[Due]:
    """Every wallet with an amount due, largest first."""
    # Through the `due` index (services.ledger COLLECTIONS): the wallets that owe, not every wallet.
    rows = [Due(w["_id"], due_of(w), int(w.get("balance", 0)), int(w.get("held", 0)))
            for w in db.wallets.find({"due": {"$gt": 0}}, {"due": 1, "balance": 1, "held": 1}).hint([("due", 1)])]
    return sorted(rows, key=lambda d: (-d.due, d.user_id))


def due_problems(w: dict, expected: int) -> list[str]:
    """The audit's view of a wallet's amount due: never negative, and the sum of its entries' due_delta."""
    due = due_of(w)
    problems = []
    if due < 0:
        problems.append(f"amount due {due} is negative")
    if due != expected:
        problems.append(f"amount due {due} != ledger {expected}")
    return problems
