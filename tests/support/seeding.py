"""A long ledger history written at once, for tests that need many entries but prove nothing about how they
were posted (the ledger's own tests post one by one). bench/dashboard.py's builder writes it: the entries,
the wallet and the rollups the ledger would have left (tests/test_bench_smoke.py checks that it audits
clean and reads like the services' own writes)."""
from __future__ import annotations

import functools
import importlib.util
from datetime import timedelta
from pathlib import Path

from services import clock

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dashboard.py"


@functools.cache
def bench():
    """bench/dashboard.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_dashboard", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def history(db, uid: str, rows: list[tuple[str, str, int]]) -> list[dict]:
    """Write `rows` ((type, category, paise), oldest first, 1 ms apart, the last just now) as the whole ledger
    of `uid`, whose wallet must be new. Returns the entries."""
    w = db.wallets.find_one({"_id": uid})
    assert w is None or int(w["n"]) == 0, f"{uid} already has entries"
    now = clock.now()
    b = bench()._UserBuilder(uid, now - timedelta(days=1))
    entries = [b.entry(now - timedelta(milliseconds=len(rows) - i), t, c, amount)
               for i, (t, c, amount) in enumerate(rows, start=1)]
    db.ledger.insert_many(entries)
    db.wallets.replace_one({"_id": uid}, b.wallet_doc(), upsert=True)
    if rollups := b.rollup_docs():
        db.rollups.insert_many(rollups)
    return entries
