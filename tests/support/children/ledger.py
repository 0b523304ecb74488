"""The ledger's child processes: racing debits, a stream of operations killed at random, a death in step 2."""
from __future__ import annotations

import os
import random

from services import ledger
from services.errors import Conflict, InsufficientBalance
from tests.support.children import oplog
from tests.support.targets import open_spec


def debit_many(spec: dict, user_id: str, n: int, tag: str, out_q, progress=None) -> None:
    """Try `n` debits of Rs. 1; report how many succeeded. `progress` (a shared counter) counts attempts
    as they finish, so the parent can tell a slow run from a stuck one."""
    try:
        db = open_spec(spec)
        ok = 0
        for i in range(n):
            try:
                ledger.post(db, user_id, key=f"{tag}-{i}", type="debit", category="call", amount=100)
                ok += 1
            except InsufficientBalance:
                pass
            if progress is not None:
                with progress.get_lock():
                    progress.value += 1
        out_q.put(ok)
    except BaseException as exc:  # tell the parent, or it waits for a number that never comes
        out_q.put(f"{type(exc).__name__}: {exc}")
        raise


def crash_stream(spec: dict, user_id: str, log_path: str, seed: int, ops: int) -> None:
    """A stream of credits, debits and hold/settle/release pairs. Before each operation its intent is
    logged; after it returns, its ack. On start, the last un-acked intent is retried with the same key,
    as any client retrying after a crash would."""
    db = open_spec(spec)
    rnd = random.Random(seed)
    done, last_intent = _read_log(log_path)
    log = open(log_path, "a", buffering=1)
    if last_intent is not None and last_intent["key"] not in done:
        _do(db, user_id, last_intent)
        oplog.write(log, {"ack": last_intent["key"]})
    n = len(done) + (1 if last_intent is not None and last_intent["key"] not in done else 0)
    while n < ops:
        kind = rnd.choice(["credit", "credit", "debit", "hold"])
        op = {"key": f"s{seed}-op{n}", "kind": kind, "amount": rnd.randint(1, 5000)}
        oplog.write(log, {"intent": op})
        _do(db, user_id, op)
        oplog.write(log, {"ack": op["key"]})
        n += 1


def claim_and_die(spec: dict, user_id: str, key: str, amount: int) -> None:
    """Claim `key` for a debit, then die (exit status 9) before moving any money: step 2 never runs."""
    from services.ledger import posting
    posting._apply = lambda *a, **k: os._exit(9)
    ledger.post(open_spec(spec), user_id, key=key, type="debit", category="call", amount=amount)


def _do(db, user_id: str, op: dict) -> None:
    key, kind, amount = op["key"], op["kind"], op["amount"]
    try:
        if kind == "credit":
            ledger.post(db, user_id, key=key, type="credit", category="recharge", amount=amount)
        elif kind == "debit":
            ledger.post(db, user_id, key=key, type="debit", category="call", amount=amount)
        else:
            try:
                held = ledger.hold(db, user_id, key, amount, min_amount=1)
            except Conflict:
                return  # resolved before the crash: the retry has nothing left to do
            if amount % 3 == 0:
                ledger.release(db, user_id, key)
            else:
                ledger.settle(db, user_id, key, held // 2, key=f"settle:{key}", meta={"seconds": 30})
    except InsufficientBalance:
        pass


def _read_log(path: str):
    done, last = set(), None
    for rec in oplog.records(path):
        if "intent" in rec:
            last = rec["intent"]
        elif "ack" in rec:
            done.add(rec["ack"])
    return done, last
