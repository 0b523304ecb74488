"""The API's webhook handling of a bank transfer (or a fixed UPI QR payment) in a child process, for the
SIGKILL tests (tests/test_bank_transfers.py, tests/test_fixed_upi_qr.py): it opens the database, says "ready"
on `conn`, hands the signed `virtual_account.credited` (or `qr_code.credited`) delivery to
services.razorpay_events as api/routes_payment.py does, and sends the outcome. The parent kills it at a
random moment."""
from __future__ import annotations

from services import razorpay_events
from tests.support.targets import open_spec


def webhook(spec: dict, body: bytes, signature: str, event_id: str, conn) -> None:
    db = open_spec(spec)
    conn.send("ready")
    conn.send(razorpay_events.handle_webhook(db, body, signature, event_id)["status"])
