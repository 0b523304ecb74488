"""Call sessions run in child processes by tests/test_calls_storm.py (importable under `spawn`).

`session` plays one voice platform call: start, usage updates, an end (or silence). `storm` runs many
sessions on threads. `crash_stream` is a deterministic stream of sessions, interleaved, with an intent /
ack log, killed at random: on start it repeats the last un-acked step (every step is idempotent through
its call id) and carries on.
"""
from __future__ import annotations

import random
import threading

from services import calls, ledger
from services.errors import WalletError
from tests.support.children import oplog
from tests.support.targets import open_spec


def session(db, uid: str, seed: int, tag: str, silent: bool | None = None) -> dict:
    """One call with random updates and a random end; 1 in 8 falls silent (recovery closes it), or
    as `silent` says."""
    rnd = random.Random(seed)
    cid = f"{tag}_{seed}"
    try:
        g = calls.start_call(db, uid, f"+9198{seed:08d}", "kb_storm", rnd.randint(1, 12), call_id=cid)
    except WalletError as exc:
        return {"call_id": cid, "refused": exc.code}
    used = 0
    for _ in range(rnd.randint(0, 4)):
        used += rnd.randint(20, 400)
        g = calls.update_call(db, uid, cid, used)
        if g["end_at_seconds"] is not None:
            used = min(used, g["end_at_seconds"])
            break
    quiet = (rnd.random() < 0.125) if silent is None else silent
    if quiet:
        return {"call_id": cid, "silent": True, "usage": used}
    talked = used + rnd.randint(0, 120)  # sometimes past the grant: billed up to the grant only
    outcome = "answered" if rnd.random() < 0.85 else rnd.choice(["no-answer", "busy", "failed"])
    r = calls.end_call(db, uid, cid, talked, outcome)
    return {"call_id": cid, "cost_paise": r["cost_paise"], "billed_seconds": r["billed_seconds"]}


def storm(spec: dict, uid: str, seeds: list[int], tag: str, out_q) -> None:
    """Sessions on one thread each; puts the list of their results (or an error) on out_q."""
    try:
        db = open_spec(spec)
        results, errors = [], []

        def run(seed):
            try:
                results.append(session(db, uid, seed, tag))
            except BaseException as exc:  # pragma: no cover - reported to the parent
                errors.append(f"{type(exc).__name__}: {exc}")
        ts = [threading.Thread(target=run, args=(s,)) for s in seeds]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        out_q.put(errors or results)
    except BaseException as exc:  # tell the parent, or it waits for a result that never comes
        out_q.put([f"{type(exc).__name__}: {exc}"])
        raise


# ------------------------------------------------------------------------------- the crash stream

def plan(seed: int, sessions: int) -> list[dict]:
    """The stream's steps, fixed by the seed: sessions interleaved three at a time, a recharge now and then."""
    rnd = random.Random(seed)
    per = []
    for i in range(sessions):
        cid = f"s{seed}_{i}"
        steps = [{"op": "start", "cid": cid, "minutes": rnd.randint(1, 10)}]
        used = 0
        for _ in range(rnd.randint(0, 3)):
            used += rnd.randint(30, 350)
            steps.append({"op": "update", "cid": cid, "usage": used})
        if rnd.random() >= 0.1:  # else silent: never ended, recovery bills its last reported usage
            steps.append({"op": "end", "cid": cid, "seconds": used + rnd.randint(0, 90),
                          "outcome": "answered" if rnd.random() < 0.9 else "busy"})
        per.append(steps)
    out, live = [], []
    while per or live:
        while per and len(live) < 3:
            live.append(per.pop(0))
        k = rnd.randrange(len(live))
        out.append(live[k].pop(0))
        if not live[k]:
            live.pop(k)
        if len(out) % 25 == 0:
            out.append({"op": "credit", "key": f"rch-{seed}-{len(out)}", "amount": 20_000})
    return out


def _do(db, uid: str, step: dict) -> dict:
    op = step["op"]
    try:
        if op == "credit":
            ledger.post(db, uid, key=step["key"], type="credit", category="recharge", amount=step["amount"])
            return {}
        if op == "start":
            g = calls.start_call(db, uid, "+919876543210", "kb_crash", step["minutes"], call_id=step["cid"])
            return {"status": g["status"]}
        if op == "update":
            g = calls.update_call(db, uid, step["cid"], step["usage"])
            return {"authorized": g["authorized_seconds"]}
        r = calls.end_call(db, uid, step["cid"], step["seconds"], step["outcome"])
        return {"cost_paise": r["cost_paise"], "billed_seconds": r["billed_seconds"]}
    except WalletError as exc:  # refused (402, 429) or a call that never started: part of the stream
        return {"error": exc.code}


def crash_stream(spec: dict, uid: str, log_path: str, seed: int, sessions: int) -> None:
    db = open_spec(spec)
    steps = plan(seed, sessions)
    acked, last = read_log(log_path)
    log = open(log_path, "a", buffering=1)
    if last is not None and last not in acked:  # killed inside this step: repeat it, same arguments
        _ack(log, last, _do(db, uid, steps[last]))
        acked[last] = True
    n = max(acked, default=-1) + 1
    while n < len(steps):
        oplog.write(log, {"intent": n})
        _ack(log, n, _do(db, uid, steps[n]))
        n += 1


def _ack(log, n: int, result: dict) -> None:
    oplog.write(log, {"ack": n, **result})


def read_log(path: str) -> tuple[dict, int | None]:
    """{step: its ack record} and the last step begun."""
    acked, last = {}, None
    for rec in oplog.records(path):
        if "intent" in rec:
            last = rec["intent"]
        elif "ack" in rec:
            acked[rec["ack"]] = rec
    return acked, last
