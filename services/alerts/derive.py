"""Deciding alerts: follow every wallet's entries in order and write an alert for each crossing.

Each wallet has a cursor (`alert_cursors/{user}`: the last entry number judged). A pass reads the
wallets changed since the last pass began (services.ledger.feed: an index range, so a quiet platform's
pass costs the same at 1,000 and at 100,000 customers; `alert_cursors/:feed` keeps when, and is moved
only after the wallets it covers are judged), and for each wallet that moved on, judges its new entries in order
(services.alerts.thresholds), writes an outbox document for each crossing (keyed by the entry: writing
it twice is a no-op), and only then moves the cursor. A crash between the two repeats the judging, which
finds the alerts already there; so no crossing is lost and none is alerted twice. Twenty calls that
settle at once are twenty entries one after another: only the one that crossed the line alerts.

A wallet first seen by a pass starts at its current entry if it is older than the alerts themselves
(`alert_cursors/:since`, the first pass): history from before the feature is not alerted on.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from services import clock, config, ledger, spending, users
from services.alerts import outbox, prefs, tariffs
from services.alerts.thresholds import RUNWAY_WINDOW_DAYS, judge
from services.db import insert_new
from services.ledger import DEBIT, feed

SINCE = ":since"  # not a user id (no ':' in those)
FEED = ":feed"    # when the last pass began (less what it left for the next)


def move_old_tariff_state(db) -> None:
    """Once: the tariff notices' record, which an earlier version kept among the cursors (where each pass
    read it as a cursor, and failed), moves to its own collection. Copy first, then delete: a crash in
    between leaves a copy the next start deletes."""
    old = db.alert_cursors.find_one({"_id": tariffs.OLD_STATE_ID})
    if old is None:
        return
    tariffs.adopt_state(db, old)
    db.alert_cursors.delete_one({"_id": tariffs.OLD_STATE_ID})


def derive(db) -> int:
    """One pass over the wallets changed since the last one; returns the alerts written."""
    started = clock.now()
    last = (db.alert_cursors.find_one({"_id": FEED}) or {}).get("at")
    since = _since(db)
    ctx = _Context(db)
    written, resume = 0, started
    for c in ledger.changed(db, last):
        at = _cursor(db, c.user_id, c.entries if c.created_at is not None and c.created_at < since else 0)
        if c.entries > at:
            n, done = _follow(db, ctx, c.user_id, at, c.entries)
            written += n
            if not done and c.updated_at is not None:
                resume = min(resume, c.updated_at)  # an entry still being recorded: see it again next pass
    db.alert_cursors.update_one({"_id": FEED}, {"$set": {"at": resume}}, upsert=True)
    return written


def _cursor(db, uid: str, start: int) -> int:
    """The wallet's cursor, made at `start` the first time it is seen."""
    doc = db.alert_cursors.find_one({"_id": uid})
    if doc is None:
        insert_new(db.alert_cursors, {"_id": uid, "n": start})
        doc = db.alert_cursors.find_one({"_id": uid})
    return int(doc["n"])


def _since(db) -> datetime:
    if db.alert_cursors.find_one({"_id": SINCE}) is None:
        insert_new(db.alert_cursors, {"_id": SINCE, "n": 0, "at": clock.now()})
    return clock.as_utc(db.alert_cursors.find_one({"_id": SINCE})["at"])


class _Context:
    """What a pass reads about a wallet's owner, once per owner."""

    def __init__(self, db):
        self.db = db
        self._roles: dict[str, str] = {}
        self.domain = (config.get().smtp.sender.rpartition("@")[2].strip(" >") or "localhost")

    def role(self, uid: str) -> str | None:
        if uid not in self._roles:
            self._roles[uid] = users.role_of(self.db, uid) or "user"  # a wallet without a user is a customer's
        return self._roles[uid]

    def prefs(self, uid: str) -> prefs.Prefs:
        return prefs.of_wallet(self.db, uid)


def _follow(db, ctx: _Context, uid: str, at: int, upto: int) -> tuple[int, bool]:
    """Judge the wallet's entries after `at` up to `upto`: (alerts written, whether all were there)."""
    entries = feed.entries_after(db, uid, at, upto)
    if not entries:
        return 0, False  # the next entry is still being recorded: next pass
    written = 0
    role = ctx.role(uid)
    if role not in users.STAFF_ROLES:
        p = ctx.prefs(uid)
        lines = prefs.thresholds_of(db, p)
        bases: dict[str, tuple[int, int]] = {}
        for e in entries:
            if e["type"] != DEBIT:
                continue
            basis = _basis(db, uid, e["day"], bases) if p.runway_days else None
            c = judge(e["balance_after"] + e["amount"], e["balance_after"], lines, role, basis, p.runway_days)
            if c is not None:
                written += outbox.add(db, outbox.build(uid, e, c, emails=p.emails, webhook_url=p.webhook_url,
                                                       sender_domain=ctx.domain))
    db.alert_cursors.update_one({"_id": uid, "n": at}, {"$set": {"n": int(entries[-1]["n"])}})
    return written, int(entries[-1]["n"]) >= upto


def _basis(db, uid: str, day: str, cache: dict) -> tuple[int, int]:
    """The runway's (spent, days) for an entry of `day`: the 7 whole business days before it."""
    if day not in cache:
        cache[day] = spending.runway_basis(db, uid, window_days=RUNWAY_WINDOW_DAYS,
                                          through=date.fromisoformat(day) - timedelta(days=1))
    return cache[day]
