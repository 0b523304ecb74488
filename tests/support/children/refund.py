"""A self-serve refund in a child process, for the SIGKILL test (tests/test_refunds_kill.py).

`python -m tests.support.children.refund <db spec json> <sandbox url> <user> <key> <rupees>`: opens the database,
prints "ready", asks for the refund and prints its status. The parent kills it at a random moment.
"""
from __future__ import annotations

import json
import os
import sys


def main(spec: str, sandbox_url: str, user_id: str, key: str, rupees: str) -> None:
    os.environ["RAZORPAY_SANDBOX_URL"] = sandbox_url
    from services import payments
    from tests.support.targets import open_spec
    db = open_spec(json.loads(spec))
    print("ready", flush=True)
    print(payments.request_refund(db, user_id, rupees, key=key)["status"], flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])
