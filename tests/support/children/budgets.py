"""Run in child processes by tests/test_ledger_budgets.py (importable under `spawn`)."""
from __future__ import annotations

from services import ledger
from services.errors import SpendCapReached
from tests.support.targets import open_spec


def hold_many(spec: dict, user_id: str, n: int, tag: str, out_q) -> None:
    """`n` holds of up to Rs. 10 (at least Rs. 1) under one key capped at Rs. 100; report what was held."""
    try:
        db = open_spec(spec)
        budget = ledger.Budget("key_race", daily_cap=10_000)
        total = 0
        for i in range(n):
            try:
                total += ledger.hold(db, user_id, f"{tag}-{i}", 1_000, min_amount=100, budget=budget)
            except SpendCapReached:
                pass
        out_q.put(total)
    except BaseException as exc:
        out_q.put(f"{type(exc).__name__}: {exc}")
        raise
