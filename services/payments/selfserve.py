"""Self-serve refunds of unused balance: a customer asks for up to the refundable part of the wallet
(services.payments.refundable) and it goes back to the payments it came from, newest first.

One document per request (services.payments.refund_requests: `_id` derived from the user and the
caller's idempotency key, so a repeated request is the same request), moving through

    holding -> refunding -> done | partly_done | failed          (or holding -> approval -> refunding,
                                                                  or approval -> rejected)

1. *Hold.* Each part (a payment and an amount) holds its amount in the wallet (`ledger.hold`, hold id =
   the part's receipt `rq_…-<n>`), so it cannot be spent while Razorpay is asked. With the admin setting
   `refund_approval_required` the request then waits, held, for an admin (`approve` / `reject`).
2. *Refund.* Each part is marked `sending` BEFORE Razorpay is called, then refunded with
   `POST /v1/payments/{id}/refund` carrying `receipt` = the part's receipt and Razorpay's
   `X-Refund-Idempotency` header = the same receipt. The answer goes through `refunds.record`, the one
   path every refund takes (webhooks, reconciliation): its debit settles the part's hold, once per
   refund id. A refusal marks the part failed and releases its hold.
3. *Conclude.* Once every part is sent or failed the request is final, its leftover holds are released
   and the user's lock (`open:<user>`, one open request per user) is dropped.

A crash anywhere leaves the request open with an owner that is gone (or a lapsed lease). The worker's
`recover_requests` carries it on: a part left `sending` is looked up at Razorpay by its receipt, and if
absent sent again with the same idempotency key, so Razorpay holds exactly one refund per part and the
ledger one debit per refund id; a part Razorpay refuses releases its hold.
"""
from __future__ import annotations

import logging

from services import checks, clock, ids, procs, settings, users
from services.db import insert_new
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound, PaymentUnavailable
from services.money import format_rupees, parse_rupees
from services.payments import charge, crediting, gateway, records, refundable, refunds
from services.payments import refund_requests as store
from services.payments.refund_requests import receipt, request_id

log = logging.getLogger("payments.refunds")


# ------------------------------------------------------------------------------------------ ask

def refundable_for(db, user_id: str, *, besides: str | None = None) -> refundable.Refundable:
    """The refundable part of the wallet now: what the open request (other than `besides`) set aside and
    did not send yet is not refundable again."""
    ids.check_user_id(user_id)
    return refundable.compute(db, user_id, store.reserved(db, user_id, besides))


def request_refund(db, user_id: str, amount, *, key: str) -> dict:
    """Refund `amount` rupees of the refundable balance to the payments it came from. Idempotent per
    (user, key): a repeat returns the same request. Raises InvalidInput/InvalidAmount (nothing written),
    Conflict (another request is open, or the key was used for another amount), InsufficientBalance,
    PaymentUnavailable (payments are off). When Razorpay cannot be reached now the request stays
    `refunding`, held, and the worker finishes it."""
    checks.text(key, what="Idempotency key", most=150, least=1)
    gateway.required()
    if users.role_of(db, user_id) is None:
        raise NotFound(f"No user {user_id!r}.")
    paise = parse_rupees(amount, minimum=refundable.MIN_PART, maximum=settings.get(db)["max_amount_paise"],
                         what="Refund amount")
    rid = request_id(user_id, key)
    old = store.get(db, rid)
    if old is not None:
        return _same(old, paise)
    parts = _plan(refundable_for(db, user_id), paise)
    doc = _new(db, rid, user_id, key, paise, parts)
    if not insert_new(db.refund_requests, doc):
        return _same(store.fresh(db, rid), paise)
    try:
        store.lock(db, user_id, rid)
        _plan(refundable_for(db, user_id, besides=rid), paise, parts)  # again: no other request runs now
    except (Conflict, InvalidInput):
        store.unlock(db, user_id, rid)
        db.refund_requests.delete_one({"_id": rid, "status": store.HOLDING})
        raise
    return advance(db, rid)


def _plan(plan: refundable.Refundable, paise: int, parts: list | None = None) -> list[dict]:
    """The parts for `paise`, or InvalidInput saying what may be refunded. With `parts`: check they still fit."""
    if paise > plan.amount_paise:
        raise InvalidInput(f"At most {format_rupees(plan.amount_paise)} can be refunded now (recharges of the "
                           f"last {plan.window_days} days not yet refunded or spent).")
    if parts is not None:
        left = {s.payment_id: s.left_paise for s in plan.sources}
        if any(p["amount_paise"] > left.get(p["payment_id"], 0) for p in parts):
            raise InvalidInput("The refundable balance changed; please ask again.")
        return parts
    split = refundable.split(plan, paise)
    if sum(a for _, a in split) != paise:
        raise InvalidInput("This amount cannot be split into refunds of at least Rs. 1.00 each; try another.")
    return [{"n": n, "payment_id": pid, "amount_paise": a, "status": "new", "refund_id": None, "error": None,
             "tries": 0} for n, (pid, a) in enumerate(split, 1)]


def _new(db, rid: str, user_id: str, key: str, paise: int, parts: list) -> dict:
    now = clock.now()
    for p in parts:
        p["receipt"] = receipt(rid, p["n"])
    return {"_id": rid, "kind": "request", "user_id": user_id, "key": key, "amount_paise": paise,
            "status": store.HOLDING, "parts": parts, "approval": bool(settings.get(db)["refund_approval_required"]),
            "tidy": False, "owner": procs.owner(), "lease_until": now + store.LEASE, "reason": None,
            "decided_by": None, "created_at": now, "updated_at": now}


def _same(old: dict, paise: int) -> dict:
    if old["amount_paise"] != paise:
        raise Conflict("This idempotency key was already used for a refund of another amount.")
    return store.public(old)


# ------------------------------------------------------------------------------------------ move

def advance(db, rid: str) -> dict:
    """Take the request as far as it can go now (safe to repeat and to race). Returns its public shape;
    a request Razorpay could not be asked about stays `refunding` with `last_error`."""
    req = store.fresh(db, rid)
    if req["status"] == store.HOLDING:
        _hold_all(db, req)
    req = store.fresh(db, rid)
    if req["status"] == store.REFUNDING:
        _refund_all(db, req)
    req = store.fresh(db, rid)
    if req["status"] in store.FINAL and not req.get("tidy"):
        _tidy(db, req)
    return store.public(store.fresh(db, rid))


def _hold_all(db, req: dict) -> None:
    for p in req["parts"]:
        try:
            crediting.hold_refund(db, req["user_id"], p["receipt"], p["amount_paise"], p["payment_id"])
        except (InsufficientBalance, Conflict) as exc:  # Conflict: resolved before, by an earlier run
            store.move(db, req, store.FAILED, reason=exc.message)
            return
    store.move(db, req, store.APPROVAL if req.get("approval") else store.REFUNDING)


def _refund_all(db, req: dict) -> None:
    try:
        cfg = gateway.required()
        for p in req["parts"]:
            if p["status"] not in ("sent", "failed"):
                _send(db, cfg, req, p)
    except (PaymentUnavailable, gateway.RazorpayDown) as exc:  # the worker tries again
        db.refund_requests.update_one({"_id": req["_id"]}, {"$set": {"last_error": str(exc)[:300]}})
        return
    req = store.fresh(db, req["_id"])
    sent = [p for p in req["parts"] if p["status"] == "sent"]
    if all(p["status"] in ("sent", "failed") for p in req["parts"]):
        final = store.DONE if len(sent) == len(req["parts"]) else (store.PARTLY_DONE if sent else store.FAILED)
        store.move(db, req, final, reason=next((p["error"] for p in req["parts"] if p["error"]), None))


def _send(db, cfg, req: dict, p: dict) -> None:
    """One part to Razorpay: marked `sending` first; after a crash (tries > 0) found by its receipt, else
    sent again under the same idempotency key. A refusal is believed only once no refund carries our
    receipt (Razorpay answers 409 to a retry that races the first request)."""
    store.set_part(db, req, p["n"], status="sending", tries=int(p.get("tries") or 0) + 1, sent_at=clock.now())
    refund: dict | None
    try:
        refund = (_by_receipt(cfg, p) if p.get("tries") else None) or gateway.refund_payment(
            cfg, p["payment_id"], _body(db, req, p), idempotency_key=p["receipt"])
    except gateway.RazorpayRefused as exc:
        refund = _by_receipt(cfg, p)
        if refund is None:
            store.set_part(db, req, p["n"], status="failed", error=f"Razorpay refused the refund: {exc}"[:300])
            crediting.release_refund_hold(db, req["user_id"], p["receipt"])
            return
    refunds.record(db, refund, None, source="self-serve")  # the debit: its hold, once per refund id
    store.set_part(db, req, p["n"], status="sent", refund_id=refund.get("id"))


def _body(db, req: dict, p: dict) -> dict:
    # The same body on every try: Razorpay refuses a retry whose body differs from the first. A payment that
    # paid GST on top gets that GST back with the part (the debit stays the part: services.payments.refunds).
    entry = crediting.credit_entry(db, p["payment_id"])
    rec = records.get(db, (entry.get("meta") or {}).get("reference_id") or "") if entry else None
    amount = charge.with_gst(rec, p["amount_paise"]) if rec else p["amount_paise"]
    return {"amount": amount, "speed": "normal", "receipt": p["receipt"],
            "notes": {"request_id": req["_id"], "user_id": req["user_id"]}}


def _by_receipt(cfg, p: dict) -> dict | None:
    found = gateway.list_payment_refunds(cfg, p["payment_id"], {"count": 100}).get("items") or []
    return next((r for r in found if isinstance(r, dict) and r.get("receipt") == p["receipt"]), None)


def _tidy(db, req: dict) -> None:
    """A final request: every part's hold is resolved (settled by its refund's debit, or released) and the
    user's lock dropped. Repeated by recovery until done."""
    for p in req["parts"]:
        if p.get("refund_id"):
            refunds.settle(db, p["refund_id"])
        crediting.release_refund_hold(db, req["user_id"], p["receipt"])
    store.unlock(db, req["user_id"], req["_id"])
    db.refund_requests.update_one({"_id": req["_id"]}, {"$set": {"tidy": True, "updated_at": clock.now()}})


# ------------------------------------------------------------------------------------------ admin

def approve(db, rid: str, *, by: str) -> dict:
    """An admin lets a request waiting for approval go to Razorpay."""
    req = _waiting(db, rid)
    store.move(db, req, store.REFUNDING, decided_by=by, decided_at=clock.now(), owner=procs.owner(),
               lease_until=clock.now() + store.LEASE)
    return advance(db, rid)


def reject(db, rid: str, *, by: str, reason: str = "") -> dict:
    """An admin refuses a request waiting for approval: its holds are released, nothing is refunded."""
    reason = checks.text(reason.strip() if isinstance(reason, str) else "", what="Reason", most=300)
    req = _waiting(db, rid)
    store.move(db, req, store.REJECTED, decided_by=by, decided_at=clock.now(),
               reason=reason or "Rejected by an administrator.")
    return advance(db, rid)


def _waiting(db, rid) -> dict:
    req = store.get(db, rid) if isinstance(rid, str) and rid.startswith("rq_") else None
    if req is None or req.get("kind") != "request":
        raise NotFound("No such refund request.")
    if req["status"] != store.APPROVAL:
        raise Conflict(f"This refund request is {req['status']}; only one waiting for approval can be decided.")
    return req


# ---------------------------------------------------------------------------------------- recover

def recover_requests(db) -> int:
    """The worker's step: carry on every request whose process is gone (or whose lease lapsed), and tidy
    final ones. Returns how many were taken up."""
    now, taken = clock.now(), 0
    # Through the `tidy` index: the requests still being carried on, not every request ever made.
    for req in db.refund_requests.find({"tidy": False}).hint([("tidy", 1)]):
        if req.get("kind") != "request" or req["status"] == store.APPROVAL or not _take_over(db, req, now):
            continue
        taken += 1
        try:
            advance(db, req["_id"])
        except Exception:  # one broken request must not keep the others waiting; it is tried next tick
            log.exception("refund request %s could not be carried on", req["_id"])
    return taken


def _take_over(db, req: dict, now) -> bool:
    gone = procs.owner_gone(req.get("owner") or "")
    if req["status"] in store.OPEN and not gone and clock.as_utc(req.get("lease_until")) > now:
        return False
    res = db.refund_requests.update_one({"_id": req["_id"], "owner": req.get("owner")},
                                        {"$set": {"owner": procs.owner(), "lease_until": now + store.LEASE}})
    return res.modified_count == 1 or req["status"] in store.FINAL
