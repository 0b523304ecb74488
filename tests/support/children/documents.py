"""Child processes of the document-numbering tests (importable under `spawn`): recharges credited and
numbered from several threads, and deliberate deaths at a chosen step of the numbering protocol."""
from __future__ import annotations

import os
import queue
import signal
import threading

from services import clock, documents, ledger, procs
from services.documents import numbering
from tests.support.targets import open_spec

USERS = 7


def recharge_key(i: int) -> str:
    return f"razorpay:pay_doc{i:04d}"


def user_of(i: int) -> str:
    return f"cust{i % USERS}"


def recharge_and_number(db, i: int) -> None:
    """What a credited recharge goes through: the ledger credit, then its numbered document."""
    e = ledger.post(db, user_of(i), key=recharge_key(i), type="credit", category="recharge",
                    amount=10_000 + i, source=f"pay_doc{i:04d}")
    while documents.issue_for_entry(db, e) is None:  # another thread of ours is mid-way: wait for it
        pass


def recharge_many(spec: dict, indices: list[int], threads: int, out_q=None) -> None:
    """Credit and number the recharges `indices` from `threads` threads (all at once, as a burst)."""
    db = open_spec(spec)
    work: queue.Queue = queue.Queue()
    for i in indices:
        work.put(i)
    errors: list[str] = []

    def run():
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                return
            try:
                recharge_and_number(db, i)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                errors.append(f"{i}: {type(exc).__name__}: {exc}")

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if out_q is not None:
        out_q.put(errors or "ok")
    elif errors:  # run as a script: a non-zero exit tells the parent
        raise SystemExit("\n".join(errors[:5]))


def die_at(spec: dict, entry_id: str, step: str) -> None:
    """Start numbering `entry_id` and die by SIGKILL after `step`: "claimed" (the claim is in, nothing
    allocated) or "allocated" (number and document in the series' pending, not yet recorded)."""
    db = open_spec(spec)
    e = ledger.get_entry(db, entry_id)
    fy = numbering.financial_year(clock.date_of(e["created_at"]))
    numbering.insert_new(db.doc_claims, {"_id": entry_id, "series": f"inv:{fy}", "number": None,
                                         "owner": procs.owner(), "at": clock.now()})
    if step == "allocated":
        body = documents.receipts._recharge_body(db, e, documents.business.get(db))
        numbering._allocate(db, entry_id, f"inv:{fy}", "RV", fy, body)
    os.kill(os.getpid(), signal.SIGKILL)
