"""Credits and debits: `post`, once per idempotency key.

1. **Claim** the key (services.ledger.claims): a key seen before returns its entry, waits for the
   attempt in flight, or adopts the claim of an owner that died before moving any money.
2. **CAS** the wallet: balance, rollups, `n+1`, the entry appended to `pending` (services.ledger.cas).
3. **Insert** the entry into `ledger`;  4. **point** the claim at it (services.ledger.record).
5. **Drop** it from `pending`, in this process's next CAS on the wallet, or in `recover`.
"""
from __future__ import annotations

from services import checks, procs
from services.errors import InsufficientBalance, WalletError
from services.ledger import cas, claims, dues, ids, queries, wallets
from services.ledger.record import new_entry, record
from services.money import format_rupees, require_paise

def post(db, user_id: str, *, key: str, type: str, category: str, amount: int, source: str = "",
         note: str = "", meta: dict | None = None) -> dict:
    """Credit or debit `amount` paise once per `key`. Repeating a key returns the first entry.

    Raises InsufficientBalance (a debit beyond the available balance; the key stays free for a later
    attempt), InvalidInput/InvalidAmount (bad arguments, nothing written), Conflict (the key was used
    for a different operation, or its first attempt is still running).
    """
    ids.check_user_id(user_id)
    ids.check_key(key)
    ids.check_type(type)
    ids.check_category(category)
    require_paise(amount)
    checks.text(source, what="Source", most=200)
    checks.text(note, what="Note", most=500, lines=True)
    want = {"user_id": user_id, "type": type, "amount": amount, "category": category}
    owner = procs.owner()
    prior = claims.claim(db, key, want, owner)
    if prior is not None:
        return prior
    try:
        with cas.turn(user_id):
            entry, extra = _apply(db, user_id, key, type, category, amount, source, note, meta)
    except WalletError:
        # Nothing moved: free the key so a later attempt (after a recharge, say) can use it.
        claims.free(db, key, owner)
        raise
    record(db, entry)
    for e in extra:  # an amount due paid from this credit
        record(db, e)
    return entry


def _apply(db, user_id, key, type, category, amount, source, note, meta) -> tuple[dict, tuple]:
    """Step 2: the balance moves and the entry joins `pending`, in one compare-and-set (with the entry
    paying an amount due, for a credit on a wallet that has one)."""
    while True:
        w = wallets.read(db, user_id)
        p = queries.pending_with_key(w, key)
        if p is not None:  # we adopted a claim whose owner had already moved the money
            return queries.clean(p), ()
        available = int(w["balance"]) - int(w["held"])
        if type == ids.DEBIT and amount > available:
            raise InsufficientBalance(f"Insufficient balance: this needs {format_rupees(amount)} but "
                                      f"{format_rupees(available)} is available.", available=available,
                                      needed=amount)
        entry = new_entry(w, key, type, category, amount, source, note, meta, claimed=True)
        delta = amount if type == ids.CREDIT else -amount
        change = dues.paying_due(w, cas.Change(balance_delta=delta, entry=entry))
        if cas.commit(db, w, change):
            return entry, change.extra
