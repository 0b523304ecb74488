"""Deciding alerts: follow every wallet's entries in order and write an alert for each crossing.

Each wallet has a cursor (`alert_cursors/{user}`: the last entry number judged). A pass reads the
wallets' entry counts in one sweep, and for each wallet that moved on, judges its new entries in order
(services.alerts.thresholds), writes an outbox document for each crossing (keyed by the entry: writing
it twice is a no-op), and only then moves the cursor. A crash between the two repeats the judging, which
finds the alerts already there; so no crossing is lost and none is alerted twice. Twenty calls that
settle at once are twenty entries one after another: only the one that crossed the line alerts.

A wallet first seen by a pass starts at its current entry if it is older than the alerts themselves
(`alert_cursors/:since`, the first pass): history from before the feature is not alerted on.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from services import clock, config, spending, users
from services.alerts import outbox, prefs, tariffs
from services.alerts.thresholds import RUNWAY_WINDOW_DAYS, judge
from services.db import insert_new
from services.ledger import DEBIT, feed

SINCE = ":since"  # not a user id (no ':' in those)


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
    """One pass over every wallet; returns the alerts written."""
    cursors = {d["_id"]: int(d["n"]) for d in db.alert_cursors.find({})}
    since = _since(db, cursors)
    ctx = _Context(db)
    written = 0
    for uid, n, created in feed.heads(db):
        at = cursors.get(uid)
        if at is None:
            at = 0 if created is None or created >= since else n
            insert_new(db.alert_cursors, {"_id": uid, "n": at})
            at = int(db.alert_cursors.find_one({"_id": uid})["n"])
        if n > at:
            written += _follow(db, ctx, uid, at, n)
    return written


def _since(db, cursors: dict) -> datetime:
    if SINCE not in cursors:
        insert_new(db.alert_cursors, {"_id": SINCE, "n": 0, "at": clock.now()})
    return clock.as_utc(db.alert_cursors.find_one({"_id": SINCE})["at"])


class _Context:
    """What a pass reads once, when some wallet first needs it."""

    def __init__(self, db):
        self.db = db
        self._roles = self._prefs = self._emails = None
        self.domain = (config.get().smtp.sender.rpartition("@")[2].strip(" >") or "localhost")

    def role(self, uid: str) -> str | None:
        if self._roles is None:
            self._roles = users.roles(self.db)
        return self._roles.get(uid, "user")  # a wallet without a user is a customer's

    def prefs(self, uid: str) -> prefs.Prefs:
        if self._prefs is None or self._emails is None:
            self._prefs = prefs.everyone(self.db)
            self._emails = users.emails(self.db)
        return prefs.of(self._prefs.get(uid), uid, self._emails.get(uid, ""))


def _follow(db, ctx: _Context, uid: str, at: int, upto: int) -> int:
    entries = feed.entries_after(db, uid, at, upto)
    if not entries:
        return 0  # the next entry is still being recorded: next pass
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
    return written


def _basis(db, uid: str, day: str, cache: dict) -> tuple[int, int]:
    """The runway's (spent, days) for an entry of `day`: the 7 whole business days before it."""
    if day not in cache:
        cache[day] = spending.runway_basis(db, uid, window_days=RUNWAY_WINDOW_DAYS,
                                          through=date.fromisoformat(day) - timedelta(days=1))
    return cache[day]
