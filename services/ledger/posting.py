"""Credits and debits: `post`, once per idempotency key.

1. **Claim** the key (services.ledger.claims): a key seen before returns its entry, waits for the
   attempt in flight, or adopts the claim of an owner that died before moving any money.
2. **CAS** the wallet: balance, rollups, `n+1`, the entry appended to `pending` (services.ledger.cas).
3. **Insert** the entry into `ledger`;  4. **point** the claim at it (services.ledger.record).
5. **Drop** it from `pending`, in this process's next CAS on the wallet, or in `recover`.
"""
from __future__ import annotations

from services import checks, clock, procs
from services.errors import InsufficientBalance, WalletError
from services.ledger import burn, cas, claims, dues, ids, lots as lotmod, queries, wallets
from services.ledger.record import drew, made_lot, new_entry, record
from services.money import format_rupees, require_paise


def post(db, user_id: str, *, key: str, type: str, category: str, amount: int, source: str = "",
         note: str = "", meta: dict | None = None, lot: dict | None = None) -> dict:
    """Credit or debit `amount` paise once per `key`. Repeating a key returns the first entry.

    A credit creates a lot: its kind follows the category unless `lot` says otherwise (`kind`,
    `expires_at`, `priority`, `campaign`: services.ledger.ids.check_spec). A debit draws on the lots in the
    business's burn order and records which.

    Raises InsufficientBalance (a debit beyond the available balance; the key stays free for a later
    attempt), InvalidInput/InvalidAmount (bad arguments, nothing written), Conflict (the key was used
    for a different operation, or its first attempt is still running).
    """
    ids.check_user_id(user_id)
    ids.check_key(key)
    ids.check_type(type)
    ids.check_posted_category(category)
    require_paise(amount)
    checks.text(source, what="Source", most=200)
    checks.text(note, what="Note", most=500, lines=True)
    spec = ids.check_spec(lot, type, category, clock.now())
    want = {"user_id": user_id, "type": type, "amount": amount, "category": category}
    owner = procs.owner()
    prior = claims.claim(db, key, want, owner)
    if prior is not None:
        return prior
    try:
        with cas.turn(user_id):
            entry, extra = _apply(db, user_id, key, type, category, amount, source, note, meta, spec)
    except WalletError:
        # Nothing moved: free the key so a later attempt (after a recharge, say) can use it.
        claims.free(db, key, owner)
        raise
    record(db, entry)
    for e in extra:  # an amount due paid from this credit
        record(db, e)
    return entry


def _apply(db, user_id, key, type, category, amount, source, note, meta, spec) -> tuple[dict, tuple]:
    """Step 2: the balance moves, the lots with it, and the entry joins `pending`, in one compare-and-set
    (with the entry paying an amount due, for a credit of paid money on a wallet that has one)."""
    rule = burn.Lazy(db)
    while True:
        w = wallets.read(db, user_id)
        p = queries.pending_with_key(w, key)
        if p is not None:  # we adopted a claim whose owner had already moved the money
            return queries.clean(p), ()
        lots, now_s = lotmod.of_wallet(w), lotmod.epoch(clock.now())
        entry = new_entry(w, key, type, category, amount, source, note, meta, claimed=True)
        if type == ids.DEBIT:
            available = lotmod.spendable(lots, now_s)
            if amount > available:
                raise InsufficientBalance(f"Insufficient balance: this needs {format_rupees(amount)} but "
                                          f"{format_rupees(available)} is available.", available=available,
                                          needed=amount)
            drew(entry, lots, lotmod.draw(lots, amount, rule, now_s))
        else:
            made_lot(entry, lotmod.add(lots, entry["n"], spec[0], amount, *spec[1:]))
        delta = amount if type == ids.CREDIT else -amount
        change = dues.paying_due(w, cas.Change(balance_delta=delta, entry=entry, lots=lots))
        if cas.commit(db, w, change):
            return entry, change.extra
