"""Credit lots' child processes: spenders and an expiry worker racing on one wallet, a stream of lot
operations killed at random, an expiry run killed part-way (tests/test_lots_race.py, tests/test_lots_kill.py).

`instrument` wraps the wallet's one write (services.ledger.cas._write) so that every compare-and-set that
lands is logged with the version it replaced: since each version is written exactly once, the logs of all
processes together give every state the wallet went through, in order (tests/test_lots_race.py checks each
transition against the burn order)."""
from __future__ import annotations

import json
import random
import sys
import threading
import time

from services import clock, ledger
from services.errors import Conflict, InsufficientBalance, SpendCapReached
from services.ledger import cas
from tests.support.children import oplog
from tests.support.targets import open_spec


def instrument(sink) -> None:
    """Log every landed write of this process to `sink(record)`."""
    real = cas._write

    def logged(db, w, sets):
        ok = real(db, w, sets)
        if ok:
            sink(record(w, sets))
        return ok
    cas._write = logged


def record(w: dict, sets: dict) -> dict:
    n0 = int(w.get("n", 0))
    new = [{"n": int(e["n"]), "type": e["type"], "category": e["category"], "amount": int(e["amount"]),
            "lots": e.get("lots"), "key": e["key"]} for e in sets.get("pending") or [] if int(e["n"]) > n0]
    holds = sets.get("holds")
    return {"seq": int(w["seq"]), "t": clock.now().timestamp(), "lots": sets.get("lots"),
            "holds": None if holds is None else {h: {"amount": int(v["amount"]), "lots": v.get("lots", "")}
                                                 for h, v in holds.items()},
            "balance": sets.get("balance"), "held": sets.get("held"), "n": sets.get("n"), "new": new}


def spend(db, user_id: str, tag: str, ops: int, seed: int) -> dict:
    """A stream of spending on one wallet: other usage (debits), calls (hold, maybe a longer slice, settle)
    and calls that never connect (hold, release). Refusals for want of money are part of the run."""
    rnd = random.Random(seed)
    done = {"debit": 0, "call": 0, "release": 0, "refused": 0}
    for i in range(ops):
        kind = rnd.choice(["debit", "debit", "call", "call", "release"])
        try:
            if kind == "debit":
                ledger.post(db, user_id, key=f"{tag}-d{i}", type="debit", category="adjustment",
                            amount=rnd.randint(100, 1500))
            else:
                hid = f"{tag}-h{i}"
                held = ledger.hold(db, user_id, hid, rnd.randint(500, 3000), min_amount=100)
                if kind == "release":
                    ledger.release(db, user_id, hid)
                else:
                    if rnd.random() < 0.5:
                        held = ledger.extend(db, user_id, hid, rnd.randint(100, 2000), step=1, min_amount=0)
                    ledger.settle(db, user_id, hid, rnd.randint(0, held), key=f"call:{hid}")
            done[kind] += 1
        except (InsufficientBalance, SpendCapReached, Conflict):
            done["refused"] += 1
    return done


def spend_process(spec: dict, user_id: str, tag: str, ops: int, seed: int, log_path: str, out_q) -> None:
    try:
        logs: list = []
        instrument(logs.append)
        out = spend(open_spec(spec), user_id, tag, ops, seed)
        with open(log_path, "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in logs)
        out_q.put(out)
    except BaseException as exc:  # tell the parent, or it waits for a report that never comes
        out_q.put(f"{type(exc).__name__}: {exc}")
        raise


def expire_process(spec: dict, log_path: str, stop, out_q) -> None:
    """The worker's expiry step, again and again, until told to stop."""
    try:
        logs: list = []
        lock = threading.Lock()

        def sink(r):
            with lock:
                logs.append(r)
        instrument(sink)
        db = open_spec(spec)
        total = {"expired": 0, "paise": 0}
        while not stop.is_set():
            got = ledger.expire_lots(db)
            total["expired"] += got["expired"]
            total["paise"] += got["paise"]
            time.sleep(0.05)
        got = ledger.expire_lots(db)
        total["expired"] += got["expired"]
        with open(log_path, "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in logs)
        out_q.put(total)
    except BaseException as exc:
        out_q.put(f"{type(exc).__name__}: {exc}")
        raise


# ------------------------------------------------------------------------------------ kill -9 children

def lot_stream(spec: dict, user_id: str, seed: int, ops: int, log_path: str) -> None:
    """Credits that make lots (some expiring within seconds), debits, holds settled or released, voids and
    expiry sweeps, each logged (intent, then ack); on start the last un-acked intent is retried with its key."""
    db = open_spec(spec)
    rnd = random.Random(seed)
    done, last = read_log(log_path)
    log = open(log_path, "a", buffering=1)
    if last is not None and last["key"] not in done:
        _do(db, user_id, last)
        oplog.write(log, {"ack": last["key"]})
    n = len(done) + (1 if last is not None and last["key"] not in done else 0)
    while n < ops:
        kind = rnd.choice(["grant", "credit", "debit", "debit", "hold", "hold", "void", "expire"])
        op = {"key": f"s{seed}-op{n}", "kind": kind, "amount": rnd.randint(100, 4000),
              "exp": time.time() + rnd.uniform(0.5, 4)}
        oplog.write(log, {"intent": op})
        _do(db, user_id, op)
        oplog.write(log, {"ack": op["key"]})
        n += 1


def read_log(path: str) -> tuple[set, dict | None]:
    """(keys acknowledged, the last operation begun) of a stream's log."""
    done, last = set(), None
    for rec in oplog.records(path):
        if "intent" in rec:
            last = rec["intent"]
        elif "ack" in rec:
            done.add(rec["ack"])
    return done, last


def _do(db, user_id: str, op: dict) -> None:
    from datetime import datetime, timezone
    key, kind, amount = op["key"], op["kind"], op["amount"]
    try:
        if kind == "grant":
            exp = datetime.fromtimestamp(max(op["exp"], time.time() + 0.5), timezone.utc)
            ledger.post(db, user_id, key=key, type="credit", category="promo_credit", amount=amount,
                        lot={"expires_at": exp, "campaign": "kill"})
        elif kind == "credit":
            ledger.post(db, user_id, key=key, type="credit", category="recharge", amount=amount)
        elif kind == "debit":
            ledger.post(db, user_id, key=key, type="debit", category="adjustment", amount=amount)
        elif kind == "hold":
            try:
                held = ledger.hold(db, user_id, key, amount, min_amount=1)
            except Conflict:
                return  # resolved before the crash
            if amount % 3 == 0:
                ledger.release(db, user_id, key)
            else:
                ledger.settle(db, user_id, key, held // 2, key=f"settle:{key}")
        elif kind == "void":
            grants = [v.lot for v in ledger.get_wallet(db, user_id).lots if v.promotional and not v.voided]
            if grants:
                ledger.void_lot(db, user_id, grants[amount % len(grants)])
        else:
            ledger.expire_lots(db, user_id=user_id)
    except InsufficientBalance:
        pass


def expire_all(spec: dict) -> None:
    """One expiry run over every wallet (the parent kills it part-way)."""
    ledger.expire_lots(open_spec(spec))


if __name__ == "__main__":  # python -m tests.support.children.lots stream SPEC USER SEED OPS LOG | expire SPEC
    if sys.argv[1] == "stream":
        _, _, spec, user, seed, ops, log_path = sys.argv
        lot_stream(json.loads(spec), user, int(seed), int(ops), log_path)
    else:
        expire_all(json.loads(sys.argv[2]))
