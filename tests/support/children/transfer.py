"""The API's webhook handling of a bank transfer (or a fixed UPI QR payment) in a child process, for the
SIGKILL tests (tests/test_bank_transfers.py, tests/test_fixed_upi_qr.py): it opens the database, says "ready"
on `conn`, hands the signed `virtual_account.credited` (or `qr_code.credited`) delivery to
services.razorpay_events as api/routes_payment.py does, and sends the outcome. The parent kills it at a
random moment, or (`die_at`) it kills itself when a named function is called: a kill between two steps that
a random moment may miss on a busy machine."""
from __future__ import annotations

import importlib
import os
import signal

from services import razorpay_events
from tests.support.targets import open_spec

CREDIT = "services.payments.transfers._credit"  # the payment recorded, not yet credited


def webhook(spec: dict, body: bytes, signature: str, event_id: str, conn, die_at: str | None = None) -> None:
    db = open_spec(spec)
    if die_at:
        module, name = die_at.rsplit(".", 1)
        setattr(importlib.import_module(module), name, lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))
    conn.send("ready")
    conn.send(razorpay_events.handle_webhook(db, body, signature, event_id)["status"])
