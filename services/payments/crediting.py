"""Crediting: the one path from a captured payment to the wallet, and the settling of a link or an order
with what Razorpay reports. The only module of the package that talks to the ledger.

Every credit is `ledger.post(key="razorpay:<payment_id>")` with the user from OUR record and the amount
Razorpay captured, so any number of paths, repeats and races credit each payment exactly once.
"""
from __future__ import annotations

from services import clock, ledger
from services.errors import Conflict
from services.payments import records
from services.payments.admin import closed_unpaid, failed, suspicious_on
from services.payments.outcomes import AMOUNT_MISMATCH, settled
from services.payments.records import to_int, valid_id


def payment_key(payment_id: str) -> str:
    return f"razorpay:{payment_id}"


def balance(db, user_id: str) -> int:
    return ledger.get_wallet(db, user_id).balance


def in_ledger(db, payment_id: str) -> bool:
    return ledger.find_entry(db, payment_key(payment_id)) is not None


def ledger_match(db, rec: dict, payment_id: str, amount: int) -> bool | None:
    """Does the ledger hold this payment for the record's user and amount? None: nobody holds it yet
    (another path is mid-way through this very credit, or recovery will finish it)."""
    first = ledger.find_entry(db, payment_key(payment_id))
    if first is None:
        return None
    return first["user_id"] == rec["user_id"] and int(first["amount"]) == amount


# ------------------------------------------------------------------------------------------ credit

def credit(db, rec: dict, payment_id, amount, *, source: str) -> bool:
    """Credit one captured payment to the owner of OUR record. True if this call posted it."""
    amount = to_int(amount)
    if not _acceptable(db, rec, payment_id, amount, source):
        return False
    # Whether THIS call posted it is only a label for messages and counts; money depends on the key alone.
    # Our own record answers it (a ledger key lookup that misses is a scan on the embedded engine), and
    # `credited` is written only after the ledger has the key, so skipping on it is safe.
    rec = records.get(db, rec["_id"]) or rec
    if payment_id in (rec.get("credited") or {}) or _exceeds(db, rec, payment_id, amount, source):
        return False
    t0 = clock.now()
    entry = _post(db, rec, payment_id, amount, source)
    if entry is None:
        return False
    records.mark_credited(db, rec["_id"], payment_id, int(entry["amount"]))
    created = clock.as_utc(entry.get("created_at"))
    return created is None or created >= t0


def _acceptable(db, rec: dict, payment_id, amount: int, source: str) -> bool:
    if valid_id(payment_id) and payment_id.startswith("pay_") and amount > 0:
        return True
    suspicious_on(db, rec, "captured payment with a bad id or amount", source=source,
                  payment_id=str(payment_id)[:64], details={"amount": str(amount)})
    return False


def _exceeds(db, rec: dict, payment_id: str, amount: int, source: str) -> bool:
    if records.credited_total(rec) + amount <= rec["amount_paise"]:
        return False
    suspicious_on(db, rec, "payments would exceed the link amount", source=source, payment_id=payment_id,
                  amount_paise=amount)
    return True


def _post(db, rec: dict, payment_id: str, amount: int, source: str) -> dict | None:
    ids = {"order_id": rec.get("order_id")} if rec["kind"] == "order" else \
        {"payment_link_id": rec.get("payment_link_id")}
    try:
        return ledger.post(db, rec["user_id"], key=payment_key(payment_id), type="credit", category="recharge",
                           amount=amount, source=payment_id, note="Razorpay recharge",
                           meta={**ids, "reference_id": rec["_id"]})
    except Conflict:
        if ledger_match(db, rec, payment_id, amount) is False:
            suspicious_on(db, rec, "payment already credited with a different amount or user", source=source,
                          payment_id=payment_id, amount_paise=amount)
        return None  # else another path holds the key and is finishing the same credit (or recover will)


# ------------------------------------------------------------------------------------------ settle

def settle_link(db, rec: dict, link: dict, *, source: str, extra_payments=()) -> dict:
    """Credit every captured payment Razorpay reports on `link` (fetched, or from a signed webhook) and
    move our status up to Razorpay's. Returns {payments: {pay_id: {amount, new}}, status, credited_now,
    summary}."""
    if to_int(link.get("amount")) != rec["amount_paise"]:
        suspicious_on(db, rec, f"Razorpay's link amount {link.get('amount')} differs from ours "
                               f"{rec['amount_paise']}", source=source, payment_link_id=link.get("id"))
        return {"payments": {}, "status": rec["status"], "credited_now": 0, "summary": AMOUNT_MISMATCH}
    _keep_link_ids(db, rec, link)
    pays = captured_payments(link, extra_payments)
    credited_now = 0
    for pid, info in pays.items():
        info["new"] = credit(db, rec, pid, info["amount"], source=source)
        credited_now += info["amount"] if info["new"] else 0
    status = link.get("status")
    if records.is_remote_status(status):
        if status in ("expired", "cancelled") and not (rec.get("credited") or pays):
            closed_unpaid(db, rec, status)
        records.update(db, rec["_id"], status=status)
    now = records.get(db, rec["_id"])
    return {"payments": pays, "status": now["status"], "credited_now": credited_now,
            "summary": settled(len(now["credited"]), status)}


def _keep_link_ids(db, rec: dict, link: dict) -> None:
    if rec.get("payment_link_id") is None and link.get("id"):
        records.attach_link(db, rec, link)
    elif link.get("order_id") and not rec.get("order_id"):
        records.update(db, rec["_id"], {"order_id": link["order_id"]})


def captured_payments(link: dict, extra=()) -> dict:
    """{pay_id: {amount, new: False}} for the captured payments on `link` (its payment summaries, plus
    payment entities from a webhook), each once."""
    pays: dict = {}
    for p in list(link.get("payments") or []) + list(extra):
        pid = _captured_id(p, link)
        if pid is not None and pid not in pays:
            pays[pid] = {"amount": to_int(p.get("amount")), "new": False}
    return pays


def _captured_id(p, link: dict) -> str | None:
    if not isinstance(p, dict) or p.get("status") != "captured":
        return None
    pid = p.get("payment_id") or p.get("id")
    if not isinstance(pid, str):
        return None
    if "payment_id" not in p and link.get("order_id") and p.get("order_id") != link.get("order_id"):
        return None  # a payment entity that is not on this link
    return pid


def settle_payment(db, rec: dict, pay: dict, *, source: str) -> bool:
    """One captured payment entity (a webhook without a link): credit it, then move the status up."""
    new = credit(db, rec, pay.get("id"), pay.get("amount"), source=source)
    if rec["kind"] == "order":
        records.update(db, rec["_id"], status="paid")
    else:
        records.follow_credits(db, rec["_id"])
    return new


def settle_order(db, rec: dict, pays: list, *, source: str) -> int:
    """Razorpay's payments of our order: credit the captured ones, record the failed. Paise credited now."""
    now_credited = 0
    for pay in pays:
        if not isinstance(pay, dict):
            continue
        if pay.get("status") == "captured" and pay.get("order_id") == rec["order_id"]:
            if credit(db, rec, pay.get("id"), pay.get("amount"), source=source):
                now_credited += to_int(pay.get("amount"))
        elif pay.get("status") == "failed":
            failed(db, pay, rec, source=source)
    return now_credited
