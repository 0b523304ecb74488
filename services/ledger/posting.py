"""Credits and debits: `post`, once per idempotency key, and the claim protocol behind it.

1. **Claim** the key: insert `ledger_keys/{key}` (the operation, its owner, later `entry_id`). A
   duplicate means it was seen before: return its entry, wait for the attempt in flight, or adopt the
   claim of an owner that died before moving any money.
2. **CAS** the wallet: balance, rollups, `n+1`, the entry appended to `pending` (services.ledger.cas).
3. **Insert** the entry into `ledger`;  4. **point** the claim at it (services.ledger.record).
5. **Drop** it from `pending`, in this process's next CAS on the wallet, or in `recover`.
"""
from __future__ import annotations

import time
from datetime import timedelta

from services import checks, clock, config, procs
from services.db import insert_new
from services.errors import Conflict, InsufficientBalance, WalletError
from services.ledger import cas, dues, ids, queries, wallets
from services.ledger.record import new_entry, record
from services.money import format_rupees, require_paise

# How long a retry waits for a key's first attempt to finish before giving up with Conflict.
CLAIM_WAIT_SECONDS = 5.0

_ADOPTED, _RETRY = object(), object()


def post(db, user_id: str, *, key: str, type: str, category: str, amount: int, source: str = "",
         note: str = "", meta: dict | None = None) -> dict:
    """Credit or debit `amount` paise once per `key`. Repeating a key returns the first entry.

    Raises InsufficientBalance (a debit beyond the available balance; the key stays free for a later
    attempt), InvalidInput/InvalidAmount (bad arguments, nothing written), Conflict (the key was used
    for a different operation, or its first attempt is still running).
    """
    ids.check_user_id(user_id)
    ids.check_key(key)
    ids.check_type(type)
    ids.check_category(category)
    require_paise(amount)
    checks.text(source, what="Source", most=200)
    checks.text(note, what="Note", most=500, lines=True)
    want = {"user_id": user_id, "type": type, "amount": amount, "category": category}
    owner = procs.owner()
    prior = _claim(db, key, want, owner)
    if prior is not None:
        return prior
    try:
        with cas.turn(user_id):
            entry, extra = _apply(db, user_id, key, type, category, amount, source, note, meta)
    except WalletError:
        # Nothing moved: free the key so a later attempt (after a recharge, say) can use it.
        db.ledger_keys.delete_one({"_id": key, "owner": owner, "entry_id": None})
        raise
    record(db, entry)
    for e in extra:  # an amount due paid from this credit
        record(db, e)
    return entry


def _claim(db, key: str, want: dict, owner: str) -> dict | None:
    """Step 1. None once this process owns the key; else the entry of the key's first use."""
    while True:
        if insert_new(db.ledger_keys, dict(want, _id=key, entry_id=None, at=clock.now(), owner=owner)):
            return None
        prior = _prior_result(db, key, want, owner)
        if prior is _ADOPTED:
            return None
        if prior is not _RETRY:
            return prior


def _prior_result(db, key: str, want: dict, owner: str):
    """The key is claimed already: its entry, or _ADOPTED (its first attempt died before moving any
    money, and we now own it), or _RETRY (the claim vanished: that attempt failed cleanly)."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while True:
        c = db.ledger_keys.find_one({"_id": key})
        if c is None:
            return _RETRY
        _same(c, want)
        if c.get("entry_id"):
            return queries.must_get(db, c["entry_id"])
        p = queries.pending_with_key(wallets.read(db, want["user_id"]), key)
        if p is not None:          # the money moved; the writer has not finished recording it
            record(db, p)
            return queries.clean(p)
        if _owner_gone(c) and db.ledger_keys.update_one(
                {"_id": key, "owner": c["owner"], "entry_id": None},
                {"$set": {"owner": owner, "at": clock.now()}}).matched_count == 1:
            return _ADOPTED
        if time.monotonic() > deadline:
            raise Conflict("An operation with this idempotency key is still in progress; retry shortly.")
        time.sleep(0.01)


def _owner_gone(claim: dict) -> bool:
    """A dead process cannot finish its write: adopt its claim. An owner on another host cannot be
    asked; its claim is adopted only after the configured grace period."""
    gone = procs.owner_gone(claim.get("owner") or "")
    if gone is not None:
        return gone
    age = clock.now() - clock.as_utc(claim["at"])
    return age > timedelta(seconds=config.get().claim_grace_seconds)


def _same(claim: dict, want: dict) -> None:
    for k, v in want.items():
        if claim.get(k) != v:
            raise Conflict("This idempotency key was already used for a different operation.")


def _apply(db, user_id, key, type, category, amount, source, note, meta) -> tuple[dict, tuple]:
    """Step 2: the balance moves and the entry joins `pending`, in one compare-and-set (with the entry
    paying an amount due, for a credit on a wallet that has one)."""
    while True:
        w = wallets.read(db, user_id)
        p = queries.pending_with_key(w, key)
        if p is not None:  # we adopted a claim whose owner had already moved the money
            return queries.clean(p), ()
        available = int(w["balance"]) - int(w["held"])
        if type == ids.DEBIT and amount > available:
            raise InsufficientBalance(f"Insufficient balance: this needs {format_rupees(amount)} but "
                                      f"{format_rupees(available)} is available.", available=available,
                                      needed=amount)
        entry = new_entry(w, key, type, category, amount, source, note, meta, claimed=True)
        delta = amount if type == ids.CREDIT else -amount
        change = dues.paying_due(w, cas.Change(balance_delta=delta, entry=entry))
        if cas.commit(db, w, change):
            return entry, change.extra
