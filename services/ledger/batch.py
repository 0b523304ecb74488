"""Many debits of one wallet in one compare-and-set: `post_batch` (metered usage, services.usage).

Per debit the promise of `post`: once per idempotency key, never beyond the available balance. For the
batch, a few writes whatever its size (docs/ledger.md, "A batch"):

1. **Claim** every key in one insert: `ledger_keys/{key}` names the batch and the debit's position `i`.
   A key claimed before is resolved alone (`_prior`): its first result; claimed again when its first
   batch refused it (the key stays free for a later attempt, as with `post`) or its owner died first.
2. **CAS** the wallet once: in order, each debit the available money covers draws on the lots in the
   burn order, the rest are refused. The entries ride in `pending` as ONE packed record
   (services.ledger.packed) with the refused positions.
3. **Insert** the entries into `ledger` in one write;  4. **note** the outcome as one document,
   `ledger_keys/batch:{id}` (position -> entry number, refused positions): a claim finds its result
   through its `batch` and `i`, so no claim is written twice.
5. **Drop** the packed record from `pending` with this process's next CAS on the wallet, or in `recover`.

A crash after step 2 leaves the packed record in the wallet; `recover` performs steps 3-5 from it, and a
retry of any of its keys answers from it meanwhile.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace

from pymongo.errors import BulkWriteError

from services import clock, procs
from services.db import insert_new
from services.errors import Conflict, InsufficientBalance, SpendCapReached, WalletError
from services.ledger import (budgets, burn, cas, claims, ids, lots as lotmod, packed, queries, rollups, volumes,
                             wallets)
from services.ledger.record import drew, new_entry
from services.money import format_rupees, require_paise

MAX_BATCH = 1000


@dataclass(frozen=True)
class Debit:
    key: str
    amount: int     # with `volume`, the most it may cost (its list price): what a replay of the key compares
    meta: dict | None = None
    body: str = ""  # a fingerprint of what was asked: the same key with another body is a Conflict
    volume: volumes.Volume | None = None  # priced by the month's units before it, in the compare-and-set


Outcome = dict | WalletError  # the entry, or why this debit was not made


def post_batch(db, user_id: str, debits: list[Debit], *, category: str, source: str = "", note: str = "",
               daily_cap: int | None = None, budget: budgets.Budget | None = None) -> list[Outcome]:
    """Debit each of `debits` once per key, in order, while the available money covers it; one outcome
    per debit (a key repeated in `debits` answers as its first occurrence). With `daily_cap`, a debit that
    would take today's spending plus every open hold past it is refused (SpendCapReached), as a call's
    hold is; with `budget`, an API key's daily and monthly caps bind the same way and its spend is counted."""
    ids.check_user_id(user_id)
    ids.check_posted_category(category)
    if len(debits) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} debits in one batch")
    for d in debits:
        ids.check_key(d.key)
        require_paise(d.amount)
    bid, owner = uuid.uuid4().hex, procs.owner()
    firsts: dict[str, int] = {}
    for i, d in enumerate(debits):
        firsts.setdefault(d.key, i)
    taken = _claim_all(db, [_claim(user_id, debits[i], category, owner, bid, i) for i in firsts.values()])
    out: dict[int, Outcome] = {}
    mine = [i for i in firsts.values() if i in taken]
    adopted: dict[int, list] = {}  # position -> the batches its key was claimed by before (an owner died)
    seen: dict[str, queries.Applied] = {}  # earlier batches found applied: a replayed batch reads each once
    for i in (i for i in firsts.values() if i not in taken):
        r = _prior(db, user_id, debits[i], category, owner, bid, i, seen)
        if isinstance(r, list):
            mine.append(i)
            if r:
                adopted[i] = r
        else:
            out[i] = r
    if mine:
        with cas.turn(user_id):
            rec, results, refused = _apply(db, user_id, bid, debits, sorted(mine), adopted, category, source, note,
                                           _Limits(daily_cap, budget))
        out.update(results)
        if rec is not None:
            record_batch(db, rec)
        elif refused:
            _note(db, bid, user_id, {}, refused)
    return [_same_body(out[firsts[d.key]], debits[firsts[d.key]], d) for d in debits]


def _same_body(first: Outcome, d0: Debit, d: Debit) -> Outcome:
    if d is d0 or (d.amount, d.body) == (d0.amount, d0.body):
        return first
    return Conflict("This idempotency key was already used for a different operation.")


def _want(user_id: str, d: Debit, category: str) -> dict:
    return {"user_id": user_id, "type": ids.DEBIT, "amount": d.amount, "category": category, "body": d.body}


def _claim(user_id, d: Debit, category, owner, bid, i) -> dict:
    return dict(_want(user_id, d, category), _id=d.key, entry_id=None, at=clock.now(), owner=owner, batch=bid, i=i)


def _claim_all(db, docs: list[dict]) -> set[int]:
    """Step 1, in one insert when no key was seen before: the positions whose keys this batch now owns.

    Ordered inserts: on the embedded engine an unordered insert that meets a duplicate falls back to one
    insert per document (~75 ms each). A duplicate ends an ordered insert; a replay resends a run of keys,
    so the keys after it are probed with point reads until a new one, and the insert resumes there."""
    taken: set[int] = set()
    k = 0
    while k < len(docs):
        try:
            db.ledger_keys.insert_many(docs[k:], ordered=True)
            taken.update(d["i"] for d in docs[k:])
            break
        except BulkWriteError as exc:
            errs = exc.details.get("writeErrors", [])
            if not errs or errs[0].get("code") != 11000:
                raise
            j = k + int(errs[0]["index"])
            taken.update(d["i"] for d in docs[k:j])
            k = j + 1
            while k < len(docs) and db.ledger_keys.find_one({"_id": docs[k]["_id"]}, {"_id": 1}) is not None:
                k += 1
    return taken


def _prior(db, user_id, d: Debit, category, owner, bid, i, seen: dict):
    """A key claimed before: its first result (an entry, or Conflict), or a list when this batch now owns
    it: empty when claimed afresh, else the (batch, position) pairs that claimed it before (an owner died:
    any of them may have applied it after all; the claim keeps them in `was`)."""
    want = _want(user_id, d, category)
    deadline = time.monotonic() + claims.CLAIM_WAIT_SECONDS
    while True:
        c = db.ledger_keys.find_one({"_id": d.key})
        if c is None:
            if insert_new(db.ledger_keys, _claim(user_id, d, category, owner, bid, i)):
                return []
            continue
        try:
            claims.same(c, want)
        except Conflict as exc:
            return exc
        if c.get("entry_id"):
            return queries.must_get(db, c["entry_id"])
        if c.get("batch"):
            r = _claimed(db, user_id, c, seen)
            if r is queries.REFUSED:  # its batch could not pay for it: the key is free for this attempt
                db.ledger_keys.delete_one({"_id": d.key, "batch": c["batch"], "entry_id": None})
                continue
            if r is not None:
                return r
        if claims.owner_gone(c) and db.ledger_keys.update_one(
                {"_id": d.key, "owner": c["owner"], "batch": c.get("batch"), "entry_id": None},
                {"$set": {"owner": owner, "batch": bid, "i": i, "at": clock.now()},
                 "$push": {"was": f"{c.get('batch')}:{c.get('i')}"}}).matched_count == 1:
            return queries.claim_batches(c, current=True)
        if time.monotonic() > deadline:
            return Conflict("An operation with this idempotency key is still in progress; retry shortly.")
        time.sleep(0.01)


@dataclass(frozen=True)
class _Limits:
    daily_cap: int | None
    budget: budgets.Budget | None

    def rooms(self, w: dict) -> tuple[int | None, int | None]:
        """(what the wallet's daily cap, what the key's caps leave) on the wallet document `w`."""
        cap = None if self.daily_cap is None else \
            self.daily_cap - rollups.spent(rollups.today(w)) - int(w["held"])  # holds may still be billed
        return cap, None if self.budget is None else budgets.room(w, self.budget)

    def refusal(self, w: dict, d: Debit, available: int, cap: int | None, key: int | None) -> WalletError | None:
        if d.amount > available:
            return InsufficientBalance(f"Insufficient balance: this needs {format_rupees(d.amount)} but "
                                       f"{format_rupees(available)} is available.", available=available,
                                       needed=d.amount)
        if cap is not None and self.daily_cap is not None and d.amount > cap:
            return SpendCapReached(f"Daily spend limit of {format_rupees(self.daily_cap)} reached: "
                                   f"{format_rupees(self.daily_cap - cap)} already spent or reserved today, and "
                                   f"this needs {format_rupees(d.amount)}.", cap=self.daily_cap,
                                   committed=self.daily_cap - cap, wanted=d.amount)
        if key is not None and self.budget is not None and d.amount > key:
            return budgets.cap_refusal(w, self.budget, d.amount)
        return None


def _claimed(db, user_id: str, c: dict, seen: dict):
    """What became of a batch claim: the entry (from its batch, or from one that claimed it before), REFUSED
    by its batch, or None (not applied yet). Applied batches are read once per call (`seen`)."""
    w = None
    for n, (b, i) in enumerate(queries.claim_batches(c, current=True)):
        a = seen.get(b)
        if a is None:
            w = w or wallets.read(db, user_id)  # the wallet before the notes: see queries.applied_batch
            a = queries.applied_batch(db, w, b)
            if a is not None:
                seen[b] = a
        r = a.at(db, i) if a is not None else None
        if isinstance(r, dict) or (r is queries.REFUSED and n == 0):
            return r
    return None


def _apply(db, user_id, bid, debits, mine, adopted, category, source, note, limits: _Limits):
    """Step 2: one compare-and-set debiting, in order, what the available money and the caps cover."""
    rule = burn.Lazy(db)
    while True:
        w = wallets.read(db, user_id)
        lots, now_s, t = lotmod.of_wallet(w), lotmod.epoch(clock.now()), clock.now()
        available = lotmod.spendable(lots, now_s)
        cap, key = limits.rooms(w)
        balance, n = int(w["balance"]), int(w.get("n", 0))
        entries: list[dict] = []
        refused: list[int] = []
        results: dict[int, Outcome] = {}
        used = volumes.of_wallet(w)
        for i in mine:
            if i in adopted:  # an owner that died may have applied it after all
                r = next((r for b, p in adopted[i] if isinstance(r := queries.batch_outcome(db, w, b, p), dict)),
                         None)
                if r is not None:
                    results[i] = r
                    continue
            d = _priced(debits[i], used)
            no = limits.refusal(w, d, available, cap, key)
            if no is not None:
                refused.append(i)
                results[i] = no
                continue
            e = new_entry(dict(w, balance=balance, n=n), d.key, ids.DEBIT, category, d.amount, source, note, d.meta,
                          claimed=False)
            e.update(created_at=t, day=clock.day_of(t), batch=bid, i=i)
            drew(e, lots, lotmod.draw(lots, d.amount, rule, now_s))
            available, balance, n = available - d.amount, balance - d.amount, n + 1
            if d.volume is not None:
                used[d.volume.counter] = used.get(d.volume.counter, 0) + d.volume.quantity
            cap, key = (None if cap is None else cap - d.amount), (None if key is None else key - d.amount)
            entries.append(e)
        if not entries:
            return None, results, refused
        rec = packed.pack(bid, entries, refused)
        spent = int(w["balance"]) - balance
        change = cas.Change(balance_delta=-spent, lots=lots, batch=rec, batch_entries=tuple(entries),
                            budgets=budgets.after_settle(w, {"budget": limits.budget.key}, spent) if limits.budget
                            else None, volumes=volumes.after(used) if used != volumes.of_wallet(w) else None)
        if cas.commit(db, w, change):
            results.update({e["i"]: queries.clean(e) for e in packed.expand(rec)})
            return rec, results, refused


def _priced(d: Debit, used: dict[str, int]) -> Debit:
    """`d` at its price on the volume `used` so far this month (its amount as it is without a volume)."""
    if d.volume is None:
        return d
    before = used.get(d.volume.counter, 0)
    amount = d.volume.price(before)
    if not 0 < amount <= d.amount:  # a price rule that charges more than the list price is a bug: write nothing
        raise RuntimeError(f"volume price {amount} outside 1..{d.amount} for {d.key}")
    return replace(d, amount=amount, meta=dict(d.meta or {}, units_before=before))


def record_batch(db, rec: dict) -> None:
    """Steps 3 and 4 for an applied batch (idempotent: a retry or `recover` may repeat them)."""
    entries = packed.expand(rec)
    try:
        db.ledger.insert_many(entries, ordered=False)
    except BulkWriteError as exc:  # entries a first attempt inserted already: the same, from the same record
        if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise
    _note(db, rec["batch"], entries[0]["user_id"], {e["i"]: e["n"] for e in entries}, packed.refused_of(rec))
    cas.FINISHED.add(entries[0]["user_id"], rec["_id"])


def _note(db, bid: str, user_id: str, done: dict[int, int], refused) -> None:
    insert_new(db.ledger_keys, {"_id": packed.record_id(bid), "user_id": user_id, "at": clock.now(),
                                "done": " ".join(f"{i}:{n}" for i, n in done.items()),
                                "refused": " ".join(map(str, sorted(refused)))})
