"""Document numbers: one consecutive series per kind and financial year, never reused, never skipped,
whatever runs concurrently or dies (docs/documents.md has the argument).

The ledger's protocol, applied to a counter:
1. **Claim** the source (`doc_claims/{key}`, key = the ledger entry id, or `cn:{number}` for a credit
   note) with an insert: one owner per source, so one number per source.
2. **Allocate** in one compare-and-set on the series (`doc_series/{kind}:{fy}`): `n + 1` and the complete
   document appended to its `pending`, in the same write. This is the commit point: a number exists only
   together with its document.
3. **Insert** the document into `documents` (`_id` = its number; immutable from here on).
4. **Point** the claim at the number.
5. **Drop** it from `pending` (in this process's next allocation on the series, or in `recover`).

A crash after 1 leaves a claim with no number and nothing pending: a later attempt adopts the claim once
its owner is gone (the pid check of services.procs; another host's after the grace period) and
allocates. A crash after 2 leaves the document in `pending`: `recover` (the worker, every tick; `make
run`) or the next attempt performs 3-5 with the document exactly as allocated. Numbers are taken only by
the compare-and-set, one at a time, and every number taken rides with its document: no gap, no repeat.
"""
from __future__ import annotations

import random
import threading
import time
from datetime import date, timedelta

from services import clock, config, procs
from services.db import insert_new

_ADOPTED = object()
CLAIM_WAIT_SECONDS = 5.0
DIGITS = 6
MAX_LENGTH = 16


class _Finished:
    """Per series, the claims this process recorded whose documents may still sit in `pending`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._keys: dict[str, set[str]] = {}

    def add(self, series: str, key: str) -> None:
        with self._lock:
            self._keys.setdefault(series, set()).add(key)

    def of(self, series: str) -> frozenset:
        with self._lock:
            return frozenset(self._keys.get(series, ()))

    def forget(self, series: str, keys) -> None:
        with self._lock:
            left = self._keys.get(series, set()) - set(keys)
            if left:
                self._keys[series] = left
            else:
                self._keys.pop(series, None)


FINISHED = _Finished()


def financial_year(d: date) -> str:
    """`2627` for 1 April 2026 to 31 March 2027 (India's financial year)."""
    start = d.year if d.month >= 4 else d.year - 1
    return f"{start % 100:02d}{(start + 1) % 100:02d}"


def fy_span(fy: str) -> tuple[date, date]:
    """First and last business day of a financial year label."""
    start = 2000 + int(fy[:2])
    return date(start, 4, 1), date(start + 1, 3, 31)


def format_number(prefix: str, fy: str, n: int) -> str:
    number = f"{prefix}/{fy}/{n:0{DIGITS}d}"
    if len(number) > MAX_LENGTH:
        raise RuntimeError(f"document number {number} is longer than {MAX_LENGTH} characters")
    return number


def issue(db, key: str, series: str, prefix: str, fy: str, body: dict) -> dict | None:
    """The document numbered once for `key` in `series` (`body` plus `_id`, `number`, `n`, `series`,
    `claim`), or None while another live process is issuing it."""
    owner = procs.owner()
    while True:
        if insert_new(db.doc_claims, {"_id": key, "series": series, "number": None, "owner": owner,
                                      "at": clock.now()}):
            break
        prior = _prior(db, key, series, owner)
        if prior is _ADOPTED:
            break
        if prior != "retry":
            return prior
    doc = _allocate(db, key, series, prefix, fy, body)
    record(db, series, doc)
    return doc


def _prior(db, key: str, series: str, owner: str):
    """The claim exists: its document, _ADOPTED (its owner died before allocating), None (in progress
    elsewhere) or "retry" (the claim vanished)."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while True:
        c = db.doc_claims.find_one({"_id": key})
        if c is None:
            return "retry"
        if c.get("number"):
            return db.documents.find_one({"_id": c["number"]})
        p = _pending(_series(db, series), key)
        if p is not None:           # allocated, not yet recorded: finish it
            record(db, series, p)
            return p
        if _owner_gone(c) and db.doc_claims.update_one(
                {"_id": key, "owner": c["owner"], "number": None},
                {"$set": {"owner": owner, "at": clock.now()}}).matched_count == 1:
            return _ADOPTED
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


def _owner_gone(claim: dict) -> bool:
    gone = procs.owner_gone(claim.get("owner") or "")
    if gone is not None:
        return gone
    return clock.now() - clock.as_utc(claim["at"]) > timedelta(seconds=config.get().claim_grace_seconds)


def _series(db, series: str) -> dict:
    s = db.doc_series.find_one({"_id": series})
    if s is None:
        insert_new(db.doc_series, {"_id": series, "n": 0, "seq": 0, "pending": []})
        s = db.doc_series.find_one({"_id": series})
    return s


def _pending(s: dict, key: str) -> dict | None:
    return next((p for p in s.get("pending") or [] if p["claim"] == key), None)


def _allocate(db, key: str, series: str, prefix: str, fy: str, body: dict) -> dict:
    """Step 2: the next number and its document, in one compare-and-set on the series."""
    while True:
        s = _series(db, series)
        p = _pending(s, key)
        if p is not None:  # an adopted claim whose dead owner had allocated after all
            return p
        c = db.doc_claims.find_one({"_id": key}) or {}
        if c.get("number"):
            return db.documents.find_one({"_id": c["number"]})
        n = int(s["n"]) + 1
        number = format_number(prefix, fy, n)
        doc = {**body, "_id": number, "number": number, "n": n, "series": series, "claim": key}
        done = FINISHED.of(series)
        pending = [q for q in s.get("pending") or [] if q["claim"] not in done] + [doc]
        if _write(db, s, {"n": n, "pending": pending}):
            FINISHED.forget(series, done)
            return doc
        time.sleep(random.uniform(0, 0.002))


def _write(db, s: dict, sets: dict) -> bool:
    return db.doc_series.update_one({"_id": s["_id"], "seq": s["seq"]},
                                    {"$set": dict(sets, seq=int(s["seq"]) + 1)}).matched_count == 1


def record(db, series: str, doc: dict) -> None:
    """Steps 3 and 4 (idempotent); step 5 rides on the next allocation or `recover`."""
    if not insert_new(db.documents, doc):
        existing = db.documents.find_one({"_id": doc["_id"]}) or {}
        if existing.get("claim") != doc["claim"]:
            raise RuntimeError(f"document {doc['_id']} exists for another source")
    db.doc_claims.update_one({"_id": doc["claim"]}, {"$set": {"number": doc["_id"]}})
    FINISHED.add(series, doc["claim"])


def recover(db) -> dict:
    """Finish every allocation a crash interrupted (steps 3-5). Safe at any time, from any process."""
    finished = 0
    for s in db.doc_series.find({}, {"_id": 1, "pending": 1}):
        pending = s.get("pending") or []
        for doc in pending:
            record(db, s["_id"], doc)
            finished += 1
        if pending:
            _drop(db, s["_id"], {d["claim"] for d in pending})
    return {"documents_finished": finished}


def _drop(db, series: str, keys: set) -> None:
    while True:
        s = _series(db, series)
        keep = [p for p in s.get("pending") or [] if p["claim"] not in keys]
        if len(keep) == len(s.get("pending") or []) or _write(db, s, {"pending": keep}):
            break
    FINISHED.forget(series, keys)


def numbers_in(db, series: str) -> int:
    """How many numbers the series has given out."""
    s = db.doc_series.find_one({"_id": series})
    return int(s["n"]) if s else 0
