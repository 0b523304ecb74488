"""Child processes of tests/test_usage.py and tests/test_usage_fees.py: duplicate deliveries of one usage
event, a death right after a batch's compare-and-set, the worker's fee step killed mid-run."""
from __future__ import annotations

import os
import signal
from datetime import datetime

from services import usage
from services.ledger import batch
from tests.support.targets import open_spec


def deliver(spec: dict, user_id: str, event: usage.Event, go, out_q) -> None:
    """Bill `event` once `go` is set; report the entry id (or the error)."""
    try:
        db = open_spec(spec)
        go.wait(60)
        out_q.put(usage.record(db, user_id, event)["_id"])
    except BaseException as exc:  # tell the parent, or it waits for an answer that never comes
        out_q.put(f"{type(exc).__name__}: {exc}")
        raise


def die_after_batch_cas(spec: dict, user_id: str, events: list) -> None:
    """Bill `events` and SIGKILL this process right after the batch's compare-and-set (steps 3-5 never run)."""
    db = open_spec(spec)
    batch.record_batch = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    usage.record_batch(db, user_id, events)


def die_after_claims(spec: dict, user_id: str, events: list) -> None:
    """Bill `events` and SIGKILL this process once their keys are claimed, before any money moves."""
    db = open_spec(spec)
    batch._apply = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    usage.record_batch(db, user_id, events)


def charge_fees(spec: dict, now: datetime) -> None:
    """The worker's fee step, as the worker runs it."""
    usage.charge_due(open_spec(spec), now)


def deliver_batches(spec: dict, user_id: str, batches: list, go, out_q) -> None:
    """Bill each of `batches` (lists of events) once `go` is set; report the paise debited in all."""
    try:
        db = open_spec(spec)
        go.wait(60)
        out_q.put(sum(int(r.entry["amount"]) for b in batches for r in usage.record_batch(db, user_id, b) if r.entry))
    except BaseException as exc:  # tell the parent, or it waits for an answer that never comes
        out_q.put(f"{type(exc).__name__}: {exc}")
        raise
