"""The audit: every wallet against its ledger entries (invariants I1, I2 and the lot invariants L1-L4 of
docs/ledger.md).

One pass over the ledger counts, per wallet, credits - debits, entries, the amount due and, per lot, what
its credit put in, what debits drew from it and how often it left (expiry, void); entries still riding
in a wallet's `pending` count too. Each wallet document is then checked against those counts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from services.ledger import lots as lotmod, packed
from services.ledger.dues import due_problems
from services.ledger.ids import CREDIT, LOT_CATEGORIES
from services.ledger.queries import get_entry

_FIELDS = {"user_id": 1, "type": 1, "amount": 1, "due_delta": 1, "category": 1, "lots": 1, "lot": 1, "n": 1}


@dataclass
class _Totals:
    """One wallet's ledger, counted."""
    money: int = 0
    count: int = 0
    owed: int = 0
    put: dict = field(default_factory=dict)     # lot -> paise its credit(s) put in
    drawn: dict = field(default_factory=dict)   # lot -> paise debits drew from it
    exits: dict = field(default_factory=dict)   # lot -> expiry/void entries
    bad_parts: list = field(default_factory=list)

    def add(self, e: dict) -> None:
        amt = int(e["amount"])
        self.count += 1
        self.owed += int(e.get("due_delta") or 0)
        if e["type"] == CREDIT:
            self.money += amt
            n = int(e["n"]) if e.get("lot") else 0   # before lots, every credit went into lot 0
            self.put[n] = self.put.get(n, 0) + amt
            return
        self.money -= amt
        parts = lotmod.parse_parts(e["lots"]) if "lots" in e else [(0, amt)]
        if sum(a for _, a in parts) != amt:
            self.bad_parts.append(e["_id"])
        for n, a in parts:
            self.drawn[n] = self.drawn.get(n, 0) + a
        if e["category"] in LOT_CATEGORIES:
            for n, _ in parts:
                self.exits[n] = self.exits.get(n, 0) + 1


def audit(db) -> list[dict]:
    """Wallets whose balance != credits - debits, or held != open holds, or that left the bounds, or
    whose amount due is not the sum of their entries' `due_delta`, or whose lots break L1-L4."""
    totals = _ledger_totals(db)
    bad = []
    seen = set()
    for w in db.wallets.find({}, {"balance": 1, "held": 1, "holds": 1, "pending": 1, "n": 1, "due": 1,
                                  "lots": 1}):
        uid = w["_id"]
        seen.add(uid)
        row = _check(db, w, totals.get(uid) or _Totals())
        if row["problems"]:
            bad.append(row)
    for uid in set(totals) - seen:  # money with no wallet
        bad.append({"user_id": uid, "balance": None, "ledger": totals[uid].money, "held": None, "holds": None,
                    "problems": ["ledger entries without a wallet"]})
    return bad


def _ledger_totals(db) -> dict[str, _Totals]:
    out: dict[str, _Totals] = {}
    for e in db.ledger.find({}, _FIELDS, batch_size=2000):
        out.setdefault(e["user_id"], _Totals()).add(e)
    return out


def _check(db, w: dict, t: _Totals) -> dict:
    """One wallet's audit row; `problems` is empty when it agrees with the ledger."""
    for p in packed.entries_of(w.get("pending")):  # applied to the balance, maybe not yet in the ledger
        if get_entry(db, p["_id"]) is None:
            t.add(p)
    balance, held, n = int(w["balance"]), int(w["held"]), int(w.get("n", 0))
    holds = sum(int(h["amount"]) for h in (w.get("holds") or {}).values())
    problems = []
    if balance != t.money:
        problems.append(f"balance {balance} != ledger {t.money}")
    if t.count != n:
        problems.append(f"{t.count} entries but the wallet counted {n}")
    if held != holds:
        problems.append(f"held {held} != open holds {holds}")
    if balance < 0 or held < 0 or held > balance:
        problems.append(f"out of bounds: balance {balance}, held {held}")
    problems += due_problems(w, t.owed)
    problems += lot_problems(w, t)
    return {"user_id": w["_id"], "balance": balance, "ledger": t.money, "held": held, "holds": holds,
            "problems": problems}


def lot_problems(w: dict, t: _Totals) -> list[str]:
    """L1 remainders sum to the balance (and reservations to held, hold by hold); L2 no lot below 0, and
    each live lot's remainder is what its credit put in less what debits drew; L3 every debit's lot parts
    sum to the debit; L4 a lot leaves (expires or is voided) at most once, and nothing of it stays."""
    lots = lotmod.of_wallet(w)
    out = lotmod.problems(lots, int(w["balance"]), int(w["held"]))
    reserved: dict[int, int] = {}
    for hid, h in (w.get("holds") or {}).items():
        parts = lotmod.hold_parts(h)
        if sum(a for _, a in parts) != int(h["amount"]):
            out.append(f"hold {hid} reserves {sum(a for _, a in parts)} from lots but holds {h['amount']}")
        for k, a in parts:
            reserved[k] = reserved.get(k, 0) + a
    for k in set(reserved) | {k for k, lot in lots.items() if lot.held}:
        if reserved.get(k, 0) != (lots[k].held if k in lots else 0):
            out.append(f"lot {k}: holds reserve {reserved.get(k, 0)}, the lot says {lots[k].held if k in lots else 0}")
    if t.bad_parts:
        out.append(f"debits whose lot parts do not sum to their amount: {', '.join(t.bad_parts[:5])}")
    for k in set(t.put) | set(t.drawn) | set(lots):
        left = t.put.get(k, 0) - t.drawn.get(k, 0)
        if left < 0:
            out.append(f"lot {k} drawn below zero: {t.put.get(k, 0)} put in, {t.drawn.get(k, 0)} drawn")
        if k in lots and lots[k].remaining != left:
            out.append(f"lot {k}: {lots[k].remaining} left, the ledger says {left}")
        if k not in lots and left != 0:
            out.append(f"lot {k}: gone from the wallet with {left} left in the ledger")
        if t.exits.get(k, 0) > 1:
            out.append(f"lot {k} left the wallet {t.exits[k]} times")
    return out
