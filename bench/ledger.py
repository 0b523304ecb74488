"""Ledger benchmark on the embedded engine (prints figures and ratios; asserts nothing).

(a) one raw guarded find_one_and_update on a wallet document;
(b) one full billed call: hold + settle (ledger entry + rollup) — what every AI call costs us;
(c) one update of a call's rolling authorisation at the ledger: a hold extension (`extend`);
(d) a billed call with two updates: hold + extend + extend + settle (5 writes: 4 wallet compare-and-sets
    and the entry), and the same through services.calls (start, 2 updates, end: its writes counted by the
    engine, the call document's included);
then (b) with 1k and with 100k entries already in the ledger (the cost must not grow with it);
then (b) on a wallet of 1 lot and on one of 100 live lots (promotional, manual, paid; some expiring), in
the same run, alternating rounds so both see the same machine (the lots ride in the wallet's one write).
Every billed call draws on lots and records its lot parts (docs/ledger.md, "Lots").
Targets: b/a <= 4; d per write it needs <= 4 x a; 100k/1k <= 1.5; 100 lots / 1 lot <= 1.5.
Last line: ratio_call_vs_raw=X ratio_100k_vs_1k=Y ratio_updated_call_per_write=Z ratio_100lots_vs_1lot=W
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from pymongo import ReturnDocument

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from datetime import timedelta  # noqa: E402

from services import calls, clock, db as dbmod, engine, ledger, schema, settings  # noqa: E402

N = 400
ROUNDS = 4


def fresh(tmp: str, name: str):
    db = dbmod.open_db(uri="", name="bench", path=str(Path(tmp) / f"{name}.sqlite"))
    schema.ensure_schema(db)
    return db


def seed(db, user_id: str, n: int) -> None:
    """n ledger entries for this user, written in bulk, with a wallet that agrees with them."""
    ledger.ensure_wallet(db, user_id)
    t = clock.now()
    batch = []
    for i in range(1, n + 1):
        batch.append({"_id": ledger.entry_id(user_id, i), "key": f"seed-{user_id}-{i}", "user_id": user_id,
                      "n": i, "seq": i, "type": "credit", "claimed": False,
                      "category": "recharge", "amount": 100_000, "balance_after": i * 100_000, "created_at": t,
                      "day": clock.day_of(t), "source": "seed", "note": ""})
        if len(batch) == 2000:
            db.ledger.insert_many(batch)
            batch = []
    if batch:
        db.ledger.insert_many(batch)
    # Entries without lots: the wallet reads as one from before them, its balance in lot 0.
    db.wallets.update_one({"_id": user_id}, {"$set": {"balance": n * 100_000, "seq": n, "n": n},
                                             "$unset": {"lots": "", "next_expiry": ""}})


def billed_calls(db, user_id: str, n: int, tag: str) -> list[float]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        hid = f"{tag}{i}"
        held = ledger.hold(db, user_id, hid, 10_000, min_amount=1_000)
        ledger.settle(db, user_id, hid, min(held, 3_000), key=f"call:{hid}", meta={"seconds": 180})
        times.append(time.perf_counter() - t0)
    return times


def extensions(db, user_id: str, n: int, tag: str) -> list[float]:
    """n hold extensions, 10 steps on each of n/10 open holds (released afterwards, untimed)."""
    times = []
    for h in range(n // 10):
        hid = f"{tag}{h}"
        ledger.hold(db, user_id, hid, 5_000)
        for step in range(1, 11):
            t0 = time.perf_counter()
            ledger.extend(db, user_id, hid, 5_000, step=step, min_amount=0)
            times.append(time.perf_counter() - t0)
        ledger.release(db, user_id, hid)
    return times


def updated_calls(db, user_id: str, n: int, tag: str) -> list[float]:
    """n billed calls with two updates each, at the ledger: hold, extend, extend, settle."""
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        hid = f"{tag}{i}"
        ledger.hold(db, user_id, hid, 5_000, min_amount=1_000)
        ledger.extend(db, user_id, hid, 5_000, step=1, min_amount=0)
        held = ledger.extend(db, user_id, hid, 5_000, step=2, min_amount=0)
        ledger.settle(db, user_id, hid, min(held, 12_000), key=f"call:{hid}", meta={"seconds": 720})
        times.append(time.perf_counter() - t0)
    return times


def service_calls(db, user_id: str, n: int) -> list[float]:
    """n calls through services.calls: start (first slice), update at 290 s and 590 s, end at 720 s."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        cid = calls.start_call(db, user_id, "+919876543210", "kb_bench", 15)["call_id"]
        calls.update_call(db, user_id, cid, 290)
        calls.update_call(db, user_id, cid, 590)
        calls.end_call(db, user_id, cid, 720)
        times.append(time.perf_counter() - t0)
    return times


def raw_updates(db, user_id: str, n: int) -> list[float]:
    """n raw guarded updates on a copy of the wallet document (same size; the wallet itself stays exact)."""
    raw = f"{user_id}-raw"
    db.wallets.delete_one({"_id": raw})
    db.wallets.insert_many([dict(db.wallets.find_one({"_id": user_id}), _id=raw)])
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        db.wallets.find_one_and_update({"_id": raw, "balance": {"$gte": 1}}, {"$inc": {"balance": -1}},
                                       return_document=ReturnDocument.AFTER)
        times.append(time.perf_counter() - t0)
    db.wallets.delete_one({"_id": raw})
    return times


def lots_wallet(db, user_id: str, n: int) -> None:
    """A wallet of n live lots, each large enough that the calls below never use one up."""
    kinds = ("recharge", "promo_credit", "manual_credit", "recharge")
    for i in range(n):
        lot = {"expires_at": clock.now() + timedelta(days=30 + i)} if i % 3 == 1 else None
        if lot and kinds[i % 4] != "recharge":
            lot["campaign"] = f"bench-{i % 7}"
        ledger.post(db, user_id, key=f"lot-{user_id}-{i}", type="credit", category=kinds[i % 4],
                    amount=10**9, lot=lot)


def lots_ratio(tmp: str) -> float:
    db = fresh(tmp, "lots")
    lots_wallet(db, "one", 1)
    lots_wallet(db, "hundred", 100)
    assert len(ledger.get_wallet(db, "hundred").lots) == 100
    billed_calls(db, "one", 30, "warm")
    billed_calls(db, "hundred", 30, "warm")
    per = {1: [], 100: []}
    for r in range(ROUNDS):   # alternating rounds: both wallets see the same machine
        per[1] += billed_calls(db, "one", N // ROUNDS, f"r{r}-")
        per[100] += billed_calls(db, "hundred", N // ROUNDS, f"r{r}-")
    assert len(ledger.get_wallet(db, "hundred").lots) == 100 and ledger.audit(db) == []
    size = len(db.wallets.find_one({"_id": "hundred"})["lots"])
    one, hundred = ms(per[1]), ms(per[100])
    print(f"billed call, wallet of   1 lot : {one:.2f} ms")
    print(f"billed call, wallet of 100 lots: {hundred:.2f} ms  (lots string {size:,} bytes)")
    dbmod.client_of(db).close()
    return hundred / one


def ms(xs: list[float]) -> float:
    return statistics.mean(xs) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = fresh(tmp, "ab")
        ledger.post(db, "u", key="seed", type="credit", category="recharge", amount=10**10)
        billed_calls(db, "u", 30, "warm")
        a = ms(raw_updates(db, "u", N))
        b = ms(billed_calls(db, "u", N, "b"))
        print(f"raw guarded find_one_and_update: {a:.2f} ms")
        print(f"full billed call (hold+settle+entry+rollup): {b:.2f} ms  ({1000 / b:.0f} calls/s)")
        print(f"ratio call/raw: {b / a:.2f}  (target <= 4)")
        c = ms(extensions(db, "u", N, "x"))
        d = ms(updated_calls(db, "u", N, "d"))
        print(f"one update (hold extension): {c:.2f} ms  ({c / a:.2f} x raw)")
        print(f"billed call with two updates (hold+2 extends+settle, 5 writes): {d:.2f} ms  ({d / a:.2f} x raw, "
              f"{d / (5 * a):.2f} x raw per write; target <= 4)")
        settings.set_value(db, "max_concurrent_calls", 1000, by="bench")
        w0 = engine.write_transactions()
        e = ms(service_calls(db, "u", N // 4))
        wr = (engine.write_transactions() - w0) / (N // 4)  # counted, not assumed
        print(f"same through services.calls (start, 2 updates, end: {wr:.0f} writes): {e:.2f} ms  ({e / a:.2f} x raw, "
              f"{e / (wr * a):.2f} x raw per write)")
        dbmod.client_of(db).close()  # an engine left to the garbage collector complains at exit

        per = {}
        for n in (1_000, 100_000):
            db = fresh(tmp, f"n{n}")
            t0 = time.perf_counter()
            seed(db, "u", n)
            seed(db, "other", n // 10)
            print(f"seeded {n} entries in {time.perf_counter() - t0:.1f} s")
            billed_calls(db, "u", 30, "warm")
            per[n] = ms(billed_calls(db, "u", N, "c"))
            print(f"billed call with {n:>7,} entries in the ledger: {per[n]:.2f} ms")
            assert ledger.audit(db) == [], "audit must stay clean"
            dbmod.client_of(db).close()
        r2 = per[100_000] / per[1_000]
        print(f"ratio 100k/1k: {r2:.2f}  (target <= 1.5)")
        r3 = lots_ratio(tmp)
        print(f"ratio 100 lots / 1 lot: {r3:.2f}  (target <= 1.5)")
        print(f"ratio_call_vs_raw={b / a:.2f} ratio_100k_vs_1k={r2:.2f} ratio_updated_call_per_write={d / (5 * a):.2f}"
              f" ratio_100lots_vs_1lot={r3:.2f}")


if __name__ == "__main__":
    main()
