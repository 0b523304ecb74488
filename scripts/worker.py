"""Background worker: finishes interrupted postings, releases calls never ended, reconciles open
payment links. Every step is idempotent, so running it alongside live traffic (or twice) is safe."""
from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services import db as dbmod, ledger  # noqa: E402

log = logging.getLogger("worker")


def tick(db) -> dict:
    out = {"ledger": ledger.recover(db)}
    for mod, fn in (("services.calls", "recover_stale_calls"), ("services.payments", "reconcile_open")):
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        if mod == "services.payments" and m.mode() == "off":
            continue
        try:
            out[fn] = getattr(m, fn)(db)
        except Exception as exc:  # one failing step must not stop the others; it runs again next tick
            log.warning("%s failed: %s", fn, exc)
    return out


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    interval = float(os.environ.get("WORKER_INTERVAL_SECONDS", "30"))
    db = dbmod.get_db()
    while True:
        log.info("%s", tick(db))
        time.sleep(interval)


if __name__ == "__main__":
    main()
