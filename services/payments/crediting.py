"""Crediting: the one path from a captured payment to the wallet, the settling of a link or an order with
what Razorpay reports, and the two money moves of a refund. The only module of the package that talks
to the ledger.

Every credit is `ledger.post(key="razorpay:<payment_id>")` with the user from OUR record and the amount
Razorpay captured, so any number of paths, repeats and races credit each payment exactly once. The
amount is THE rule in `creditable`: what was paid, or exactly the record's amount when the payer bore a
convenience fee on top (the difference covered by the payment's `fee`); the currency is THE rule in
`same_currency`: our record's (INR). Anything else is refused and flagged for admins, never shown as
credited.
"""
from __future__ import annotations

from dataclasses import dataclass

from services import clock, ledger, wallet
from services.errors import Conflict, InsufficientBalance
from services.payments import charge, records
from services.payments.admin import closed_unpaid, failed, suspicious_on
from services.payments.outcomes import AMOUNT_MISMATCH, MISMATCH, settled
from services.payments.records import to_int, valid_id

# A payment in one of these states was captured once: it is credited (a later refund debits separately).
CAPTURED = ("captured", "refunded")


def payment_key(payment_id: str) -> str:
    return f"razorpay:{payment_id}"


def refund_key(refund_id: str) -> str:
    return f"razorpay-refund:{refund_id}"


def refund_return_key(refund_id: str) -> str:
    return f"razorpay-refund-failed:{refund_id}"


def balance(db, user_id: str) -> int:
    return ledger.get_wallet(db, user_id).balance


def in_ledger(db, payment_id: str) -> bool:
    return ledger.find_entry(db, payment_key(payment_id)) is not None


def credit_entry(db, payment_id: str) -> dict | None:
    """The wallet credit of a payment (its user, amount and our reference in `meta`), or None."""
    return ledger.find_entry(db, payment_key(payment_id)) if valid_id(payment_id) else None


def recharges(db, start, end):
    """The recharge credits posted in [start, end), oldest first (for the daily reconciliation)."""
    return ledger.iter_entries(db, type="credit", category="recharge", start=start, end=end)


def payment_of(entry: dict) -> str | None:
    """The Razorpay payment a recharge credit is for (its key), or None for a credit of another kind."""
    key = entry.get("key") or ""
    if key.startswith("razorpay:"):
        return key[len("razorpay:"):]
    source = entry.get("source")
    return source if isinstance(source, str) and source.startswith("pay_") else None


def ledger_match(db, rec: dict, payment_id: str, amount: int) -> bool | None:
    """Does the ledger hold this payment for the record's user and amount? None: nobody holds it yet
    (another path is mid-way through this very credit, or recovery will finish it)."""
    first = ledger.find_entry(db, payment_key(payment_id))
    if first is None:
        return None
    return first["user_id"] == rec["user_id"] and int(first["amount"]) == amount


# ------------------------------------------------------------------------------------------ credit

@dataclass(frozen=True)
class Credit:
    """How one payment stands after `credit`: `credited` only when a ledger entry holds it."""
    payment_id: str
    amount: int           # paise in the wallet for it (0 unless credited)
    new: bool = False     # this call posted it
    credited: bool = False
    flagged: bool = False  # refused and recorded for admins (mismatch, bad id)


def view(pay: dict) -> tuple:
    """(id, amount, fee or None, status, captured flag or None) of a payment entity or a link's summary."""
    pid = pay.get("payment_id") or pay.get("id")
    fee = pay.get("fee")
    fee = to_int(fee) if isinstance(fee, int) and not isinstance(fee, bool) else None
    captured = pay.get("captured") if isinstance(pay.get("captured"), bool) else None
    return pid, to_int(pay.get("amount")), fee, pay.get("status"), captured


def is_captured(pay: dict) -> bool:
    _, _, _, status, captured = view(pay)
    return status in CAPTURED and captured is not False


def currency_of(rec: dict) -> str:
    return rec.get("currency") or "INR"


def same_currency(rec: dict, entity: dict) -> bool:
    """THE currency rule: a payment or link in another currency than our record's is never credited (its
    amount is not paise of rupees). Razorpay's payment summaries on a link carry none: the link's does."""
    return "currency" not in entity or entity["currency"] == currency_of(rec)


def creditable(rec: dict, paid: int, fee: int | None) -> int | None:
    """THE amount rule. `paid` within what is still due on the record: credit it (partial payments too).
    More than due, by no more than the fee the payer bore, on a record nothing was credited to yet:
    credit exactly the record's amount. None: a mismatch."""
    wallet = charge.wallet_part(rec, paid)  # GST charged on top (its share of a part payment) goes to the tax
    due = rec["amount_paise"] - records.credited_total(rec)
    if completes_charge(rec, paid) and abs(wallet - due) <= len(rec.get("credited") or {}):
        wallet = due  # each part's share was rounded: the last takes what is left, so the wallet gets the amount
    if 0 < wallet <= due:
        return wallet
    if fee is not None and due == rec["amount_paise"] and 0 < paid - charge.charged(rec) <= fee:
        return due
    return None


def completes_charge(rec: dict, paid: int) -> bool:
    """A part payment, with GST on top, that brings what was paid to the whole charge."""
    return bool(charge.gst_of(rec) and rec.get("credited")
                and records.paid_total(rec) + paid == charge.charged(rec))


def credit(db, rec: dict, pay: dict, *, source: str) -> Credit:
    """Credit one captured payment (entity or summary) to the owner of OUR record, once."""
    pid, paid, fee, _, _ = view(pay)
    if not (valid_id(pid) and pid.startswith("pay_") and paid > 0):
        suspicious_on(db, rec, "captured payment with a bad id or amount", source=source,
                      payment_id=str(pid)[:64], details={"amount": str(pay.get("amount"))[:40]})
        return Credit(str(pid)[:64], 0, flagged=True)
    # Whether THIS call posted it is only a label for messages and counts; money depends on the key alone.
    # Our own record answers it (a ledger key lookup that misses is a scan on the embedded engine), and
    # `credited` is written only after the ledger has the key, so skipping on it is safe.
    rec = records.get(db, rec["_id"]) or rec
    if not same_currency(rec, pay):
        suspicious_on(db, rec, f"payment in {str(pay.get('currency'))[:8]}, not the {currency_of(rec)} of our "
                               f"{rec['kind']}: refused", source=source, payment_id=pid, amount_paise=paid)
        return Credit(pid, 0, flagged=True)
    if pid in (rec.get("credited") or {}):
        return Credit(pid, to_int(rec["credited"][pid]), credited=True)
    amount = creditable(rec, paid, fee)
    if amount is None:
        suspicious_on(db, rec, f"payment of {paid} paise (fee {fee}) does not match the {rec['amount_paise']} "
                               f"paise due ({records.credited_total(rec)} credited)", source=source,
                      payment_id=pid, amount_paise=paid)
        return Credit(pid, 0, flagged=True)
    t0 = clock.now()
    entry = _post(db, rec, pid, amount, paid, source)
    if entry is None:
        return Credit(pid, 0, flagged=ledger_match(db, rec, pid, amount) is False)
    records.mark_credited(db, rec["_id"], pid, int(entry["amount"]), paid)
    created = clock.as_utc(entry.get("created_at"))
    return Credit(pid, int(entry["amount"]), new=created is None or created >= t0, credited=True)


def _post(db, rec: dict, payment_id: str, amount: int, paid: int, source: str) -> dict | None:
    meta = {"order_id": rec.get("order_id")} if rec["kind"] == "order" else \
        {"payment_link_id": rec.get("payment_link_id")}
    meta["reference_id"] = rec["_id"]
    meta.update(charge.entry_meta(rec, amount, paid))
    if amount == rec["amount_paise"] and paid != charge.charged(rec):
        # the payer's convenience fee: kept for reconciliation and refunds; not part of the value of supply
        # (docs/documents.md, "Convenience fee")
        meta.update(payment_amount=paid, fee_paise=paid - charge.charged(rec))
    try:
        return ledger.post(db, rec["user_id"], key=payment_key(payment_id), type="credit", category="recharge",
                           amount=amount, source=payment_id, note="Razorpay recharge", meta=meta,
                           lot=wallet.paid_lot(db))
    except Conflict:
        if ledger_match(db, rec, payment_id, amount) is False:
            suspicious_on(db, rec, "payment already credited with a different amount or user", source=source,
                          payment_id=payment_id, amount_paise=amount)
        return None  # else another path holds the key and is finishing the same credit (or recover will)


# ------------------------------------------------------------------------------------------ settle

def settle_link(db, rec: dict, link: dict, *, source: str, extra_payments=()) -> dict:
    """Credit every captured payment Razorpay reports on `link` (fetched, or from a signed webhook) and
    move our status up. Returns {payments: {pay_id: Credit}, status, credited_now, summary}."""
    if not same_currency(rec, link):
        suspicious_on(db, rec, f"Razorpay's link is in {str(link.get('currency'))[:8]}, not {currency_of(rec)}",
                      source=source, payment_link_id=link.get("id"))
        return {"payments": {}, "status": rec["status"], "credited_now": 0, "summary": MISMATCH}
    if to_int(link.get("amount")) != charge.charged(rec):
        suspicious_on(db, rec, f"Razorpay's link amount {link.get('amount')} differs from ours "
                               f"{rec['amount_paise']}", source=source, payment_link_id=link.get("id"))
        return {"payments": {}, "status": rec["status"], "credited_now": 0, "summary": AMOUNT_MISMATCH}
    _keep_link_ids(db, rec, link)
    results = {pid: credit(db, rec, p, source=source) for pid, p in captured_payments(link, extra_payments).items()}
    _follow_link(db, rec, link.get("status"), results)
    now = records.fresh(db, rec["_id"])
    return {"payments": results, "status": now["status"],
            "credited_now": sum(c.amount for c in results.values() if c.new),
            "summary": settled(len(now["credited"]), link.get("status"))}


def _follow_link(db, rec: dict, status, results: dict) -> None:
    """Our status after a settle: paid or partly paid only from ledger credits; closed as Razorpay says."""
    paying = status in ("paid", "partially_paid")
    if paying or results:
        records.follow_credits(db, rec["_id"])
        if any(c.flagged for c in results.values()):
            records.update(db, rec["_id"], status="review")
    if status in ("expired", "cancelled") and not records.fresh(db, rec["_id"]).get("credited"):
        closed_unpaid(db, rec, status)
    if records.is_remote_status(status) and not paying:
        records.update(db, rec["_id"], status=status)


def _keep_link_ids(db, rec: dict, link: dict) -> None:
    if rec.get("payment_link_id") is None and link.get("id"):
        records.attach_link(db, rec, link)
    elif link.get("order_id") and not rec.get("order_id"):
        records.update(db, rec["_id"], {"order_id": link["order_id"]})


def captured_payments(link: dict, extra=()) -> dict:
    """{pay_id: payment} for the captured payments on `link`: its payment summaries (the API's answer),
    with full payment entities (a webhook's, or fetched) taking their place, each once."""
    pays: dict = {}
    for p in list(link.get("payments") or []) + list(extra):
        if isinstance(p, dict) and is_captured(p) and _on_link(p, link):
            pid = view(p)[0]
            if isinstance(pid, str) and (pid not in pays or "id" in p):
                pays[pid] = p
    return pays


def _on_link(p: dict, link: dict) -> bool:
    # A payment entity (not a summary) must be on this link's order.
    return "payment_id" in p or not link.get("order_id") or p.get("order_id") == link.get("order_id")


def settle_payment(db, rec: dict, pay: dict, *, source: str) -> Credit:
    """One captured payment entity (a webhook without a link): credit it, then move the status up."""
    result = credit(db, rec, pay, source=source)
    if result.flagged:
        records.update(db, rec["_id"], status="review")
    elif rec["kind"] == "order" and result.credited:
        records.update(db, rec["_id"], status="paid")
    else:
        records.follow_credits(db, rec["_id"])
    return result


def settle_order(db, rec: dict, pays: list, *, source: str) -> int:
    """Razorpay's payments of our order: credit the captured ones, record the failed. Paise credited now."""
    now_credited = 0
    for pay in pays:
        if not isinstance(pay, dict) or pay.get("order_id") != rec["order_id"]:
            continue
        if is_captured(pay):
            result = settle_payment(db, rec, pay, source=source)
            now_credited += result.amount if result.new else 0
        elif pay.get("status") == "failed":
            note_failed(db, rec, pay, source=source)
    return now_credited


def note_failed(db, rec: dict | None, pay: dict, *, source: str) -> None:
    """A failed attempt: for admins, and on our record for the customer (unless already credited)."""
    failed(db, pay, rec, source=source)
    if rec is not None and valid_id(pay.get("id")):
        records.note_failure(db, rec, pay)


# ------------------------------------------------------------------------------------------ refunds

def debit_refund(db, user_id: str, refund_id: str, amount: int, *, payment_id: str, reference_id,
                 hold_id: str | None = None) -> dict:
    """Take a refund's amount out of the wallet, once per refund id: from its hold (a self-serve refund)
    while open, then from paid money, the refunded payment's own lot first (never promotional credit);
    what the wallet cannot cover becomes its amount due (`due_delta` on the entry; the next paid credits
    pay it first). Never leaves the balance negative."""
    return ledger.debit_owing(db, user_id, key=refund_key(refund_id), amount=amount, source=refund_id,
                              note="Razorpay refund", hold_id=hold_id, lot=lot_of(db, payment_id),
                              meta={"payment_id": payment_id, "reference_id": reference_id})


def lot_of(db, payment_id: str) -> int | None:
    """The lot a payment's credit created (its entry's number; 0 for a credit from before lots, which went
    into the wallet's lot 0), or None when it was never credited."""
    entry = credit_entry(db, payment_id)
    if entry is None:
        return None
    return int(entry["n"]) if entry.get("lot") else 0


def payment_lots(db, wallet: ledger.WalletView) -> dict:
    """{payment_id: its live lot} of a wallet: paid money not yet spent, refunded or expired, by payment.
    One primary-key read per live paid lot (spent lots leave the wallet, so there are few)."""
    out = {}
    for lot in wallet.lots:
        if lot.kind == "paid" and lot.entry_id:
            entry = ledger.get_entry(db, lot.entry_id)
            pid = payment_of(entry) if entry else None
            if pid:
                out[pid] = lot
    return out


def return_refund(db, refund_id: str) -> dict | None:
    """A refund that failed at Razorpay after its debit: what it took and what it made due come back,
    once, under their own key (a credit: it pays what is still due first, so an amount due the refund
    created is cancelled and what was taken returns). None when nothing was debited for it."""
    taken = ledger.find_entry(db, refund_key(refund_id))
    if taken is None:
        return None
    back = int(taken["amount"]) + int(taken.get("due_delta") or 0)
    return ledger.post(db, taken["user_id"], key=refund_return_key(refund_id), type="credit", category="refund",
                       amount=back, source=refund_id, note="Razorpay refund failed: returned",
                       meta={"payment_id": (taken.get("meta") or {}).get("payment_id")})


def release_refund_hold(db, user_id: str, hold_id: str) -> bool:
    """Give back the hold of a self-serve refund that Razorpay refused or failed before any debit."""
    return ledger.release(db, user_id, hold_id)


def hold_refund(db, user_id: str, hold_id: str, amount: int, payment_id: str) -> int:
    """Set aside a self-serve refund's part from its payment's lot before Razorpay is asked
    (InsufficientBalance if that lot cannot cover it)."""
    lot = lot_of(db, payment_id)
    if lot is None:
        raise InsufficientBalance("That payment's money is no longer in the wallet.", available=0, needed=amount)
    return ledger.hold(db, user_id, hold_id, amount, ref="refund", lot=lot)


def refund_debited(db, refund_id: str) -> dict | None:
    return ledger.find_entry(db, refund_key(refund_id))

