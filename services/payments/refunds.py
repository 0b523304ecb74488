"""Refunds as Razorpay reports them (refund webhooks, reconciliation): one record per refund id in
`payment_refunds`, and the wallet debited at most once per refund id.

Which event debits: the FIRST sighting of a refund that is not failed (usually `refund.created`, status
`pending`). Razorpay takes the amount from the merchant's balance when the refund is created and the
customer's money is on its way back from then on; debiting only at `refund.processed` (days later for
a normal refund) would let the customer spend the same money twice meanwhile. `refund.processed` then
only confirms (and `refund.created` is never final, even when its entity says "processed" as Razorpay's
published sample does). A refund that FAILS after its debit gives the amount back exactly once, as a credit with
its own key (`razorpay-refund-failed:<id>`). Every handler moves the status up first, then the money,
then reads the status again, so a `refund.failed` racing a `refund.created` still ends returned once.

The debit is the refund's amount (less the GST inside it, for a payment that paid GST on top: that goes
back to the payer with it), capped by what is left of the payment's credit (a convenience fee is refunded
to the payer too, but was never in the wallet): the cap is allocated per payment with a
compare-and-set, so concurrent refunds of one payment never take more than it credited. A refund of a
payment never captured (Razorpay's auto-refund, `payment.captured == false`) or never credited here
debits nothing. When the wallet cannot cover the debit (the money was spent), it takes what the wallet
has and the rest becomes the wallet's amount due (services.ledger.dues), paid first from the next
credits; `uncovered` records that on the refund.

A self-serve refund (services.payments.selfserve) carries our `receipt` (`rq_…-<n>`), which is also the
id of the hold set aside for it: its debit settles that hold, and a refund that fails before any debit
releases it.
"""
from __future__ import annotations

import re
from datetime import timedelta

from services import clock
from services.db import insert_new
from services.errors import Conflict, InvalidPayment, NotFound
from services.payments import charge, crediting, gateway, records
from services.payments.admin import suspicious
from services.payments.outcomes import (AMOUNT_DUE, AUTO_REFUND, DEBITED, NOT_CREDITED, NOTHING_TO_DEBIT,
                                        RETURNED)
from services.payments.records import to_int, valid_id

STATUSES = ("pending", "processed", "failed")
_RANK = {"pending": 0, "processed": 1, "failed": 1}  # both final: the first word stands
# A refund whose payment is not credited (yet) is looked at again this long by reconciliation.
WAITING = timedelta(days=7)
RETRY_SLOWEST = timedelta(hours=1)
MAX_PAISE = 10 ** 13
# Our receipts (services.payments.selfserve): the request id and the part number; also the part's hold id.
_OUR_RECEIPT = re.compile(r"^rq_[0-9a-f]{24}-[0-9]{1,2}$")


def record(db, refund: dict, payment: dict | None = None, *, source: str, event: str | None = None) -> dict:
    """One refund as Razorpay reports it (a webhook's or a fetched entity, with its payment entity when
    known). Idempotent: any number of repeats, in any order, debit once. Returns the public record.
    Raises InvalidPayment for an entity without valid ids or amount (nothing written)."""
    fields = _fields(refund, event)
    captured = payment.get("captured") if isinstance(payment, dict) and isinstance(payment.get("captured"),
                                                                                    bool) else None
    _store(db, fields, captured, source)
    return public(settle(db, fields["_id"]))


def _fields(refund: dict, event: str | None) -> dict:
    rid, pid, amount = refund.get("id"), refund.get("payment_id"), refund.get("amount")
    if not (valid_id(rid) and rid.startswith("rfnd_") and valid_id(pid) and pid.startswith("pay_")):
        raise InvalidPayment("The refund does not carry valid Razorpay ids.")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_PAISE:
        raise InvalidPayment("The refund does not carry a valid amount.")
    receipt = refund.get("receipt")
    receipt = receipt if isinstance(receipt, str) and _OUR_RECEIPT.match(receipt) else None
    status = refund.get("status") if refund.get("status") in STATUSES else "pending"
    if event in ("refund.processed", "refund.failed"):  # the event's name is Razorpay's final word
        status = event.split(".")[1]
    elif event is not None:  # refund.created (even one that says "processed", as published) is not final
        status = "pending"
    return {"_id": rid, "payment_id": pid, "amount_paise": amount, "status": status, "receipt": receipt}


def _store(db, fields: dict, captured, source: str) -> None:
    now = clock.now()
    doc = dict(fields, kind="refund", captured=captured, user_id=None, reference_id=None, credited_paise=None,
               debit_paise=None, outcome=None, amount_due_paise=0, debited_paise=0, returned_paise=0,
               source=source, created_at=now, updated_at=now)
    if insert_new(db.payment_refunds, doc):
        return
    old = fresh(db, fields["_id"])
    if old["amount_paise"] != fields["amount_paise"] or old["payment_id"] != fields["payment_id"]:
        suspicious(db, "refund reported again with another amount or payment", source=source,
                   payment_id=fields["payment_id"], details={"refund_id": fields["_id"]})
        return
    sets = {"updated_at": now}
    if captured is not None and old.get("captured") is None:
        sets["captured"] = captured
    if fields["receipt"] and not old.get("receipt"):
        sets["receipt"] = fields["receipt"]
    db.payment_refunds.update_one({"_id": fields["_id"]}, {"$set": sets})
    _raise_status(db, old, fields["status"], source)


def _raise_status(db, old: dict, status: str, source: str) -> None:
    if _RANK[status] > _RANK[old["status"]]:
        db.payment_refunds.update_one({"_id": old["_id"], "status": "pending"}, {"$set": {"status": status}})
    elif _RANK[status] == 1 and status != old["status"]:
        suspicious(db, f"refund reported {status} after {old['status']}; the first stands", source=source,
                   user_id=old.get("user_id"), payment_id=old["payment_id"], details={"refund_id": old["_id"]})


# ------------------------------------------------------------------------------------------- money

def settle(db, refund_id: str) -> dict:
    """Bring the wallet in line with what is known of one refund. Safe to repeat and to race."""
    doc = fresh(db, refund_id)
    if not _owner_known(db, doc):
        return fresh(db, refund_id)
    debit = _allocate(db, doc)
    if doc["status"] != "failed":  # the ledger key takes it once, however often this runs
        _take(db, doc, debit)
    if fresh(db, refund_id)["status"] == "failed":  # read again: a refund.failed may have raced the debit
        _give_back(db, doc)
    return fresh(db, refund_id)


def _owner_known(db, doc: dict) -> bool:
    """Whose wallet the refund comes out of: the credit of its payment. False: nobody's (recorded why)."""
    if doc["captured"] is False:
        _set(db, doc["_id"], outcome=AUTO_REFUND)
        return False
    if doc.get("user_id"):
        return True
    entry = crediting.credit_entry(db, doc["payment_id"])
    if entry is None:
        _set(db, doc["_id"], outcome=NOT_CREDITED)
        return False
    _set(db, doc["_id"], user_id=entry["user_id"], reference_id=(entry.get("meta") or {}).get("reference_id"),
         credited_paise=int(entry["amount"]))
    doc.update(user_id=entry["user_id"], reference_id=(entry.get("meta") or {}).get("reference_id"),
               credited_paise=int(entry["amount"]))
    return True


def _allocate(db, doc: dict) -> int:
    """The refund's debit, fixed once: its amount capped by what other refunds left of the payment's credit.
    A compare-and-set on the payment's allocation keeps concurrent refunds of one payment within it."""
    aid, rid = f"alloc:{doc['payment_id']}", doc["_id"]
    insert_new(db.payment_refunds, {"_id": aid, "kind": "allocation", "payment_id": doc["payment_id"],
                                    "credited_paise": doc["credited_paise"], "refunds": {}, "seq": 0})
    for _ in range(200):
        alloc = db.payment_refunds.find_one({"_id": aid})
        mine = alloc["refunds"].get(rid)
        if mine is not None:
            return int(mine["debit"])
        used = sum(int(r["debit"]) for r in alloc["refunds"].values() if not r.get("released"))
        debit = max(0, min(_wallet_part(db, doc), int(alloc["credited_paise"]) - used))
        if db.payment_refunds.update_one({"_id": aid, "seq": alloc["seq"]}, {
                "$set": {f"refunds.{rid}": {"debit": debit, "released": False}}, "$inc": {"seq": 1}}).modified_count:
            _set(db, rid, debit_paise=debit)
            return debit
    raise Conflict("Too many concurrent refunds of one payment; retry shortly.")


def _wallet_part(db, doc: dict) -> int:
    """What of the refund comes out of the wallet: all of it, but for a payment that paid GST on top, the
    GST inside the refund goes back to the payer with it (the refund voucher returns it)."""
    rec = records.get(db, doc["reference_id"]) if doc.get("reference_id") else None
    return charge.wallet_part(rec, doc["amount_paise"]) if rec else doc["amount_paise"]


def allocated(db, payment_ids) -> dict[str, int]:
    """{payment_id: paise of its credit already taken by its refunds (released ones excepted)}, in one read
    (a point read that misses would scan the collection on the embedded engine)."""
    wanted = [p for p in payment_ids if valid_id(p)]
    rows = db.payment_refunds.find({"kind": "allocation", "payment_id": {"$in": wanted}}) if wanted else []
    return {a["payment_id"]: sum(int(r["debit"]) for r in (a.get("refunds") or {}).values() if not r.get("released"))
            for a in rows}


def _take(db, doc: dict, debit: int) -> None:
    if debit == 0:
        _release_hold(db, doc)
        _set(db, doc["_id"], outcome=NOTHING_TO_DEBIT)
        return
    entry = crediting.debit_refund(db, doc["user_id"], doc["_id"], debit, payment_id=doc["payment_id"],
                                   reference_id=doc["reference_id"], hold_id=doc.get("receipt"))
    owed = int(entry.get("due_delta") or 0)
    if owed:
        uncovered(db, doc, entry)
        return
    _set(db, doc["_id"], outcome=DEBITED, debited_paise=int(entry["amount"]), amount_due_paise=0)


def uncovered(db, doc: dict, entry: dict) -> None:
    """THE decision for a refund the wallet could not cover (the customer already spent the money): the
    balance never goes negative, so the ledger took what was available and made the rest an amount due
    on the wallet (`entry.due_delta`), which the next credits pay first. Recorded on the refund."""
    _set(db, doc["_id"], outcome=AMOUNT_DUE, debited_paise=int(entry["amount"]),
         amount_due_paise=int(entry.get("due_delta") or 0))


def _give_back(db, doc: dict) -> None:
    back = crediting.return_refund(db, doc["_id"])
    if back is not None:
        _set(db, doc["_id"], outcome=RETURNED, returned_paise=int(back["amount"]))
    else:  # failed before any debit: nothing taken, nothing owed, its hold (if any) released
        _release_hold(db, doc)
        _set(db, doc["_id"], outcome=NOTHING_TO_DEBIT, amount_due_paise=0)
    db.payment_refunds.update_one({"_id": f"alloc:{doc['payment_id']}"},
                                  {"$set": {f"refunds.{doc['_id']}.released": True}, "$inc": {"seq": 1}})


def _release_hold(db, doc: dict) -> None:
    if doc.get("receipt") and doc.get("user_id"):
        crediting.release_refund_hold(db, doc["user_id"], doc["receipt"])


def _set(db, refund_id: str, **fields) -> None:
    db.payment_refunds.update_one({"_id": refund_id}, {"$set": dict(fields, updated_at=clock.now())})


# ---------------------------------------------------------------------------------- reconciliation

def sync_payment(db, cfg, payment: dict, *, source: str = "reconcile") -> int:
    """Record every refund Razorpay lists for a payment entity (one call). Returns how many it lists."""
    found = gateway.list_payment_refunds(cfg, payment["id"]).get("items") or []
    for refund in found:
        if isinstance(refund, dict):
            record_quietly(db, refund, payment, source)
    return len(found)


def record_quietly(db, refund: dict, payment: dict | None, source: str) -> None:
    try:
        record(db, refund, payment, source=source)
    except InvalidPayment:
        suspicious(db, "Razorpay listed a refund without valid ids or amount", source=source,
                   details={"refund": str(refund)[:300]})


def retry_waiting(db) -> int:
    """Settle again the refunds whose payment was not credited when they arrived (a credit may have landed
    since), backing off per refund (a miss costs a ledger key lookup). Returns how many were looked at."""
    now = clock.now()
    waiting = [d for d in db.payment_refunds.find({"kind": "refund", "outcome": NOT_CREDITED})
               if clock.as_utc(d["created_at"]) >= now - WAITING and clock.as_utc(d.get("retry_at") or now) <= now]
    for doc in waiting:
        if settle(db, doc["_id"])["outcome"] == NOT_CREDITED:
            tries = int(doc.get("tries") or 0) + 1
            _set(db, doc["_id"], tries=tries,
                 retry_at=now + min(RETRY_SLOWEST, timedelta(seconds=30 * 2 ** min(tries, 10))))
    return len(waiting)


# ------------------------------------------------------------------------------------------- show

def get(db, refund_id: str) -> dict | None:
    return db.payment_refunds.find_one({"_id": refund_id}) if valid_id(refund_id) else None


def fresh(db, refund_id: str) -> dict:
    """A refund as stored now, read again by a caller that has seen it (refunds are never deleted)."""
    doc = get(db, refund_id)
    if doc is None:
        raise LookupError(f"refund {refund_id} is missing")
    return doc


def get_refund(db, refund_id: str, user_id: str | None = None) -> dict:
    """One refund's public record; with `user_id`, only that user's own (else NotFound)."""
    doc = get(db, refund_id) if isinstance(refund_id, str) and refund_id.startswith("rfnd_") else None
    if doc is None or (user_id is not None and doc.get("user_id") != user_id):
        raise NotFound("No such refund.")
    return public(doc)


def list_refunds(db, user_id: str | None = None, limit: int = 100) -> list[dict]:
    """Refunds, newest first: one user's, or (for admins) everybody's."""
    flt = {"kind": "refund", **({"user_id": user_id} if user_id is not None else {})}
    rows = sorted(db.payment_refunds.find(flt), key=lambda d: clock.as_utc(d["created_at"]), reverse=True)
    return [public(d) for d in rows[:max(1, min(int(limit), 1000))]]


def public(d: dict) -> dict:
    return {"refund_id": d["_id"], "payment_id": d["payment_id"], "user_id": d.get("user_id"),
            "reference_id": d.get("reference_id"), "amount_paise": to_int(d["amount_paise"]),
            "debit_paise": d.get("debit_paise"), "status": d["status"], "outcome": d.get("outcome"),
            "amount_due_paise": to_int(d.get("amount_due_paise")), "debited_paise": to_int(d.get("debited_paise")),
            "returned_paise": to_int(d.get("returned_paise")), "auto_refund": d.get("captured") is False,
            "receipt": d.get("receipt"),
            "created_at": clock.as_utc(d["created_at"]), "updated_at": clock.as_utc(d.get("updated_at"))}
