"""The audit: every wallet against its ledger entries (invariants I1 and I2 of docs/ledger.md)."""
from __future__ import annotations

from services.ledger.dues import due_problems
from services.ledger.ids import CREDIT
from services.ledger.queries import get_entry


def audit(db) -> list[dict]:
    """Wallets whose balance != credits - debits, or held != open holds, or that left the bounds, or
    whose amount due is not the sum of their entries' `due_delta`."""
    sums, counts, owed = _ledger_totals(db)
    bad = []
    seen = set()
    for w in db.wallets.find({}, {"balance": 1, "held": 1, "holds": 1, "pending": 1, "n": 1, "due": 1}):
        uid = w["_id"]
        seen.add(uid)
        row = _check(db, w, sums.get(uid, 0), counts.get(uid, 0), owed.get(uid, 0))
        if row["problems"]:
            bad.append(row)
    for uid in set(sums) - seen:  # money with no wallet
        bad.append({"user_id": uid, "balance": None, "ledger": sums[uid], "held": None, "holds": None,
                    "problems": ["ledger entries without a wallet"]})
    return bad


def _ledger_totals(db) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Per user: credits - debits, the number of entries and the sum of due_delta, over the whole ledger."""
    sums: dict[str, int] = {}
    counts: dict[str, int] = {}
    owed: dict[str, int] = {}
    for row in db.ledger.aggregate([
        {"$group": {"_id": {"u": "$user_id", "t": "$type"}, "s": {"$sum": "$amount"}, "c": {"$sum": 1},
                    "d": {"$sum": "$due_delta"}}},
    ]):
        u = row["_id"]["u"]
        sign = 1 if row["_id"]["t"] == CREDIT else -1
        sums[u] = sums.get(u, 0) + sign * int(row["s"])
        counts[u] = counts.get(u, 0) + int(row["c"])
        owed[u] = owed.get(u, 0) + int(row.get("d") or 0)
    return sums, counts, owed


def _check(db, w: dict, expected: int, count: int, owed: int = 0) -> dict:
    """One wallet's audit row; `problems` is empty when it agrees with the ledger."""
    for p in w.get("pending") or []:  # applied to the balance, maybe not yet in the ledger
        if get_entry(db, p["_id"]) is None:
            expected += p["amount"] if p["type"] == CREDIT else -p["amount"]
            count += 1
            owed += int(p.get("due_delta") or 0)
    balance, held, n = int(w["balance"]), int(w["held"]), int(w.get("n", 0))
    holds = sum(int(h["amount"]) for h in (w.get("holds") or {}).values())
    problems = []
    if balance != expected:
        problems.append(f"balance {balance} != ledger {expected}")
    if count != n:
        problems.append(f"{count} entries but the wallet counted {n}")
    if held != holds:
        problems.append(f"held {held} != open holds {holds}")
    if balance < 0 or held < 0 or held > balance:
        problems.append(f"out of bounds: balance {balance}, held {held}")
    problems += due_problems(w, owed)
    return {"user_id": w["_id"], "balance": balance, "ledger": expected, "held": held, "holds": holds,
            "problems": problems}
