"""The ledger as a feed: which wallets changed since a reader last looked, and their entries in order.

Every compare-and-set that changes a wallet's balance or holds writes the time in `updated_at`
(services.ledger.cas), and `wallets` is indexed on it. A reader (a worker step, a read model) keeps the
time it last started looking and asks for the wallets changed since: an index range, so a pass costs the
wallets that moved, not every wallet (100,000 quiet customers cost what 1,000 do).

A write carries the time it was computed, and lands a moment later (the write lock, the network). So the
range starts `LATE` before the time asked for: a change that landed up to `LATE` after the time it
carries is still seen; readers are idempotent per wallet (they keep the entry number, or version, they
handled), so seeing a wallet again costs a read and changes nothing. A process frozen longer than that
between computing a wallet's next state and writing it is the residual risk, the same one the claims'
grace period takes (docs/ledger.md). A reader with no time yet, or whose time lies ahead of the clock
(a clock set back), walks every wallet once (`since=None`).

A wallet numbers its entries 1, 2, 3 ... (`n`); a follower keeps the last number it handled and asks for
what came after (`entries_after`): primary-key reads, and one still riding in the wallet's `pending` (its
ledger insert not done yet) ends the batch, so a follower never skips an entry and sees each as it stays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterator

from services import clock
from services.db import in_order
from services.ledger import ids, queries

LATE = timedelta(seconds=300)
PAGE = 500
_FIELDS = {"n": 1, "seq": 1, "balance": 1, "held": 1, "due": 1, "created_at": 1, "updated_at": 1, "days": 1}


@dataclass(frozen=True)
class Change:
    """A wallet as one read of it found it: its numbers agree with each other."""
    user_id: str
    entries: int                # n: entries so far
    seq: int                    # the wallet's version
    balance: int
    held: int
    due: int
    created_at: datetime | None
    updated_at: datetime | None  # its last change: its last activity
    days: dict = field(default_factory=dict)  # live rollup days {day: counters} (services.ledger.rollups)

    @property
    def available(self) -> int:
        return self.balance - self.held


def start(since: datetime | None) -> datetime | None:
    """The lower end of the range a reader with this `since` reads (None: every wallet)."""
    since = clock.as_utc(since)
    if since is None or since > clock.now():
        return None
    return since - LATE


def changed(db, since: datetime | None) -> Iterator[Change]:
    """Every wallet changed at or after `since` (less `LATE`), oldest change first; every wallet when
    `since` is None or lies ahead of the clock. Read in pages: memory stays flat."""
    for w in changed_docs(db, since, _FIELDS):
        yield view(w)


def count_changed(db, since: datetime | None) -> int:
    """How many wallets `changed(db, since)` would give (an index count; every wallet for None)."""
    lo = start(since)
    if lo is None:
        return db.wallets.count_documents({})
    return db.wallets.count_documents({"updated_at": {"$gte": lo}}, hint=[("updated_at", 1)])


def view(w: dict) -> Change:
    return Change(w["_id"], int(w.get("n", 0)), int(w.get("seq", 0)), int(w.get("balance", 0)),
                  int(w.get("held", 0)), int(w.get("due") or 0), clock.as_utc(w.get("created_at")),
                  clock.as_utc(w.get("updated_at")), w.get("days") or {})


def changed_docs(db, since: datetime | None, fields: dict) -> Iterator[dict]:
    """The wallet documents (`fields` of them) `changed` stands for."""
    lo = start(since)
    yield from (_every(db, fields) if lo is None else updated_since(db, lo, fields))


def updated_since(db, lo: datetime, fields: dict) -> Iterator[dict]:
    """The wallet documents whose `updated_at` is at or after `lo`, oldest first, in pages."""
    return in_order(db.wallets, "updated_at", lo=lo, projection=fields, page=PAGE)


def changed_newest_first(db, lo: datetime) -> Iterator[Change]:
    """The wallets changed at or after `lo` (no allowance added), most recent change first."""
    for w in in_order(db.wallets, "updated_at", lo=lo, projection=_FIELDS, descending=True, page=200):
        yield view(w)


def _every(db, fields: dict) -> Iterator[dict]:
    return in_order(db.wallets, "_id", projection=fields, page=PAGE)


def days_across(db, first_day: str, last_day: str, fields: dict | None = None):
    """(user_id, day, counters) for every active (wallet, day) in [first_day, last_day], across users.
    `fields` projects the counters read from the `rollups` collection (None: all of them). Both reads go
    through an index: the closed days by `day`; the live ones ride in wallets, and a wallet holding a day
    changed on or after that day began (`updated_at`, less the feed's allowance for late writes)."""
    seen: dict[tuple[str, str], dict] = {}
    proj = dict(fields, user_id=1, day=1) if fields else None
    for d in in_order(db.rollups, "day", lo=first_day, hi=last_day, projection=proj, page=2000):
        seen[(d["user_id"], d["day"])] = d
    lo = clock.start_of_day(date.fromisoformat(first_day)) - LATE
    for w in updated_since(db, lo, {"days": 1}):
        for day, vals in (w.get("days") or {}).items():
            if first_day <= day <= last_day:
                seen[(w["_id"], day)] = vals
    for (uid, day), vals in seen.items():
        yield uid, day, vals


def entries_after(db, user_id: str, after: int, upto: int, limit: int = 500) -> list[dict]:
    """The wallet's entries numbered after+1 .. upto (at most `limit`), oldest first, stopping at the
    first one not in the ledger yet."""
    ids.check_user_id(user_id)
    out = []
    for k in range(after + 1, min(upto, after + limit) + 1):
        e = queries.get_entry(db, ids.entry_id(user_id, k))
        if e is None:
            break
        out.append(e)
    return out
