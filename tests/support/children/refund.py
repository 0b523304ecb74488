"""A self-serve refund in a child process, for the SIGKILL test (tests/test_refunds_kill.py): it opens the
database, says "ready" on `conn`, asks for the refund and sends its status. The parent kills it at a
random moment. Razorpay (the sandbox) is wherever the environment it was started with points."""
from __future__ import annotations

from services import payments
from tests.support.targets import open_spec


def refund(spec: dict, user_id: str, key: str, rupees: str, conn) -> None:
    db = open_spec(spec)
    conn.send("ready")
    conn.send(payments.request_refund(db, user_id, rupees, key=key)["status"])
