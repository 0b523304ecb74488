"""The amount due: what a refund took beyond what the wallet had, owed by the customer, never a
negative balance.

`wallets/{user}.due` (paise, default 0) moves only with entries that say so in `due_delta`, in the
same compare-and-set as their balance change, so `due == Σ due_delta` (the audit checks it) and
`balance == Σ credits − Σ debits` stays true:
- `debit_owing` (a refund): takes what is available (releasing the refund's own hold first, when it
  has one) and adds the rest to `due`: one entry, amount = what was taken (0 when nothing was),
  `due_delta` = the rest. Once per idempotency key, like `post`.
- a credit (`post`) on a wallet with an amount due pays it first, in the same write: the credit entry
  and a `refund` debit of min(due, credit) with `due_delta` < 0 (`paying_due`).
- `pay_due`: money a running call held when the refund came, and released since, pays the due too
  (the worker sweeps the wallets that have one).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from services import checks, procs
from services.ledger import cas, claims, ids, queries, wallets
from services.ledger.holds import close_hold, without_hold
from services.ledger.record import new_entry, record
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
    """`change` (one new entry) with the wallet's amount due paid first from it when it is a credit: a
    second entry, a `refund` debit of min(due, credit), rides in the same write."""
    due, e = due_of(w), change.entry
    if due <= 0 or e is None or e["type"] != ids.CREDIT:
        return change
    pay = min(due, int(e["amount"]))
    after = dict(w, balance=int(w["balance"]) + int(e["amount"]), n=e["n"])
    debit = new_entry(after, f"refund-due:{e['_id']}", ids.DEBIT, "refund", pay, e["_id"], DUE_NOTE,
                      {"paid_from": e["_id"], "due_before": due}, claimed=False)
    debit["due_delta"] = -pay
    return replace(change, balance_delta=change.balance_delta - pay, due_delta=-pay, extra=(debit,))


def debit_owing(db, user_id: str, *, key: str, amount: int, category: str = "refund", source: str = "",
                note: str = "", meta: dict | None = None, hold_id: str | None = None) -> dict:
    """Take `amount` once per `key`: from the hold `hold_id` when it is still open (released in the same
    write), then from what is available; what the wallet cannot cover becomes an amount due. Never
    raises InsufficientBalance. Returns the entry (`amount` taken, `due_delta` owed)."""
    ids.check_user_id(user_id)
    ids.check_key(key)
    ids.check_category(category)
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
        entry = _apply_owing(db, user_id, key, amount, category, source, note, meta, hold_id)
    record(db, entry)
    return entry


def _apply_owing(db, user_id, key, amount, category, source, note, meta, hold_id) -> dict:
    while True:
        w = wallets.read(db, user_id)
        p = queries.pending_with_key(w, key)
        if p is not None:  # an adopted claim whose owner had already moved the money
            return queries.clean(p)
        h = w["holds"].get(hold_id) if hold_id else None
        freed = int(h["amount"]) if h else 0
        available = int(w["balance"]) - int(w["held"]) + freed
        take = max(0, min(amount, available))
        entry = new_entry(w, key, ids.DEBIT, category, take, source, note, meta, claimed=True)
        if amount > take:
            entry["due_delta"] = amount - take
        change = cas.Change(balance_delta=-take, held_delta=-freed, entry=entry, due_delta=amount - take,
                            holds=without_hold(w, hold_id) if h else None,
                            closed_holds=close_hold(w, hold_id, entry["_id"]) if h else None)
        if cas.commit(db, w, change):
            return entry


def pay_due(db, user_id: str) -> dict | None:
    """Pay the amount due from the available balance (money a call released after the refund). Returns
    the entry, or None when nothing is due or nothing is available. Safe to repeat and to race: the
    amount is computed inside the compare-and-set."""
    ids.check_user_id(user_id)
    with cas.turn(user_id):
        while True:
            w = wallets.read(db, user_id)
            pay = min(due_of(w), int(w["balance"]) - int(w["held"]))
            if pay <= 0:
                return None
            n = int(w.get("n", 0)) + 1
            entry = new_entry(w, f"refund-due:{ids.entry_id(user_id, n)}", ids.DEBIT, "refund", pay, "",
                              SWEEP_NOTE, {"due_before": due_of(w)}, claimed=False)
            entry["due_delta"] = -pay
            if cas.commit(db, w, cas.Change(balance_delta=-pay, entry=entry, due_delta=-pay)):
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
