"""The audit log's own records (`audit_log`): what an administrator did to an account or a wallet (manual,
promotional and refund credits, password resets, role changes, unlocks...), one document each.

This module alone writes and reads the collection; services.audit assembles the log people read from
these records and the other owners' histories (settings, refund decisions, credit notes).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from services import clock

COLLECTIONS = {"audit_log": [[("at", -1)], [("account", 1)]]}


def record(db, actor: str, action: str, target: str, detail: str = "", **fields) -> None:
    """Log an action on an account (a fresh record each time). `fields`: more to keep, e.g. the customer
    account it happened in (`account`) and the address it came from (`address`)."""
    db.audit_log.insert_many([{"_id": f"user:{uuid.uuid4().hex}", "at": clock.now(), "actor": actor,
                               "action": action, "target": target, "detail": detail, **fields}])


def record_once(db, record_id: str, *, actor: str, action: str, target: str, **fields) -> None:
    """Log an action keyed by `record_id` (a ledger entry's id): a repeat of the same action writes nothing."""
    db.audit_log.update_one({"_id": record_id},
                            {"$setOnInsert": {"at": clock.now(), "actor": actor, "action": action,
                                              "target": target, **fields}},
                            upsert=True)


def of_account(db, account: str, limit: int = 500) -> list[dict]:
    """The records made in one customer account (members, invitations, API keys), newest first."""
    rows = list(db.audit_log.find({"account": account}))
    rows.sort(key=lambda d: clock.as_utc(d["at"]), reverse=True)
    return rows[:limit]


def between(db, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """Every record made in [start, end) (either bound may be open)."""
    rng: dict = {}
    if start:
        rng["$gte"] = start
    if end:
        rng["$lt"] = end
    return list(db.audit_log.find({"at": rng} if rng else {}))
