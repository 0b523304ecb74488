"""Refund requests as stored: `refund_requests` documents (one per request, `_id` = `rq_` + 24 hex
characters derived from the user and the caller's idempotency key), their statuses, the per-user lock
(`open:<user>`: one open request per user) and the public shape. services.payments.selfserve moves them.

A request: `{_id, kind: "request", user_id, key, amount_paise, status, parts: [{n, payment_id, amount_paise,
receipt, status: new|sending|sent|failed, refund_id, error, tries, sent_at}], approval, tidy, owner,
lease_until, reason, decided_by, last_error, created_at, updated_at}`.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from services import clock
from services.db import insert_new
from services.errors import Conflict

HOLDING, APPROVAL, REFUNDING = "holding", "approval", "refunding"
DONE, PARTLY_DONE, FAILED, REJECTED = "done", "partly_done", "failed", "rejected"
OPEN = (HOLDING, APPROVAL, REFUNDING)
FINAL = (DONE, PARTLY_DONE, FAILED, REJECTED)
# A process working on a request renews this lease; another takes over once it lapses or the owner is gone.
LEASE = timedelta(seconds=60)


def request_id(user_id: str, key: str) -> str:
    return "rq_" + hashlib.sha256(f"{user_id}\n{key}".encode()).hexdigest()[:24]


def receipt(rid: str, n: int) -> str:
    """A part's receipt at Razorpay, its idempotency key there and its hold id here."""
    return f"{rid}-{n}"


def get(db, rid: str) -> dict | None:
    return db.refund_requests.find_one({"_id": rid})


def fresh(db, rid: str) -> dict:
    """A request as stored now, read again by a caller that has seen it (only one never locked is deleted,
    by the call that made it)."""
    req = get(db, rid)
    if req is None:
        raise LookupError(f"refund request {rid} is missing")
    return req


def move(db, req: dict, status: str, **fields) -> bool:
    """Status moves on from where `req` was (a compare-and-set: two runs cannot both move it)."""
    res = db.refund_requests.update_one({"_id": req["_id"], "status": req["status"]},
                                        {"$set": dict(fields, status=status, updated_at=clock.now())})
    return res.modified_count == 1


def set_part(db, req: dict, n: int, **fields) -> None:
    sets = {f"parts.{n - 1}.{k}": v for k, v in fields.items()}
    db.refund_requests.update_one({"_id": req["_id"]}, {"$set": dict(sets, updated_at=clock.now(),
                                                                     lease_until=clock.now() + LEASE)})


def lock(db, user_id: str, rid: str) -> None:
    """One open request per user: the lock names it. A lock left by a request that is over is taken over."""
    lid = f"open:{user_id}"
    while not insert_new(db.refund_requests, {"_id": lid, "kind": "lock", "user_id": user_id, "request": rid,
                                              "at": clock.now()}):
        lock = db.refund_requests.find_one({"_id": lid})
        if lock is None:
            continue
        if lock["request"] == rid:
            return
        other = get(db, lock["request"])
        if other is not None and other["status"] not in FINAL:
            raise Conflict("You already have a refund request in progress; wait for it to finish.")
        if db.refund_requests.update_one({"_id": lid, "request": lock["request"]},
                                         {"$set": {"request": rid, "at": clock.now()}}).modified_count:
            return


def unlock(db, user_id: str, rid: str) -> None:
    db.refund_requests.delete_one({"_id": f"open:{user_id}", "request": rid})


def reserved(db, user_id: str, besides: str | None = None) -> dict:
    """{payment_id: paise} of the open request's parts not yet known to `refunds` (not sent)."""
    lock = db.refund_requests.find_one({"_id": f"open:{user_id}"})
    req = get(db, lock["request"]) if lock and lock["request"] != besides else None
    out: dict = {}
    for p in (req or {}).get("parts", []) if req and req["status"] in OPEN else []:
        if p["status"] != "sent":
            out[p["payment_id"]] = out.get(p["payment_id"], 0) + int(p["amount_paise"])
    return out


# ------------------------------------------------------------------------------------------- show

def public(d: dict) -> dict:
    parts = [{"payment_id": p["payment_id"], "amount_paise": int(p["amount_paise"]), "status": p["status"],
              "refund_id": p.get("refund_id"), "error": p.get("error")} for p in d["parts"]]
    return {"request_id": d["_id"], "user_id": d["user_id"], "amount_paise": int(d["amount_paise"]),
            "status": d["status"], "refunded_paise": sum(p["amount_paise"] for p in parts if p["status"] == "sent"),
            "parts": parts, "reason": d.get("reason"), "decided_by": d.get("decided_by"),
            "last_error": d.get("last_error"),
            "created_at": clock.as_utc(d["created_at"]), "updated_at": clock.as_utc(d.get("updated_at"))}


def decided(db) -> list[dict]:
    """Every request an administrator approved or rejected (the audit log's refund decisions)."""
    return list(db.refund_requests.find({"kind": "request", "decided_by": {"$nin": [None, ""]}}))


def list_requests(db, user_id: str | None = None, *, status: str | None = None, limit: int = 100) -> list[dict]:
    """Refund requests, newest first: one user's, or everybody's (admins); optionally of one status."""
    flt = {"kind": "request", **({"user_id": user_id} if user_id is not None else {}),
           **({"status": status} if status is not None else {})}
    rows = sorted(db.refund_requests.find(flt), key=lambda d: clock.as_utc(d["created_at"]), reverse=True)
    return [public(d) for d in rows[:max(1, min(int(limit), 1000))]]
