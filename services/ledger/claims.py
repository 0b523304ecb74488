"""Step 1 of every once-per-key ledger write: claim the idempotency key.

Claiming inserts `ledger_keys/{key}` (the operation, its owner, later `entry_id`). A duplicate means the key
was seen before: its entry is returned, the attempt in flight is waited for, or the claim of an owner that
died before moving any money is adopted. `post` (services.ledger.posting) and `debit_owing`
(services.ledger.dues) both start here.
"""
from __future__ import annotations

import time
from datetime import timedelta

from services import clock, config, procs
from services.db import insert_new
from services.errors import Conflict
from services.ledger import queries, wallets
from services.ledger.record import record

# How long a retry waits for a key's first attempt to finish before giving up with Conflict.
CLAIM_WAIT_SECONDS = 5.0

_ADOPTED, _RETRY = object(), object()


def claim(db, key: str, want: dict, owner: str) -> dict | None:
    """None once this process owns the key; else the entry of the key's first use."""
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
        same(c, want)
        if c.get("entry_id"):
            return queries.must_get(db, c["entry_id"])
        p = queries.pending_with_key(wallets.read(db, want["user_id"]), key)
        if p is not None:          # the money moved; the writer has not finished recording it
            record(db, p)
            return queries.clean(p)
        if owner_gone(c) and db.ledger_keys.update_one(
                {"_id": key, "owner": c["owner"], "entry_id": None},
                {"$set": {"owner": owner, "at": clock.now()}}).matched_count == 1:
            return _ADOPTED
        if time.monotonic() > deadline:
            raise Conflict("An operation with this idempotency key is still in progress; retry shortly.")
        time.sleep(0.01)


def owner_gone(claim: dict) -> bool:
    """A dead process cannot finish its write: adopt its claim. An owner on another host cannot be
    asked; its claim is adopted only after the configured grace period."""
    gone = procs.owner_gone(claim.get("owner") or "")
    if gone is not None:
        return gone
    age = clock.now() - clock.as_utc(claim["at"])
    return age > timedelta(seconds=config.get().claim_grace_seconds)


def same(claim: dict, want: dict) -> None:
    for k, v in want.items():
        if claim.get(k) != v:
            raise Conflict("This idempotency key was already used for a different operation.")


def free(db, key: str, owner: str) -> None:
    """Give a claimed key back when nothing moved (a refused debit), so a later attempt can use it."""
    db.ledger_keys.delete_one({"_id": key, "owner": owner, "entry_id": None})
