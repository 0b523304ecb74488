"""Holds: money set aside for an operation in progress (a call), then settled or released.

`hold` moves money from available to held in one compare-and-set, after checking, on the very wallet
state it writes over, the minimum to hold and the daily spend cap (today's debits + every open hold).
`extend` adds to an open hold the same way (a call's rolling authorisation), once per (hold, step).
`settle` debits the actual cost (<= the hold), releases the rest and appends the entry to `pending`
in one compare-and-set, then records it. `release` gives the hold back. A hold resolves once: the
write removes it from `holds` and remembers it in `closed_holds` (the last 64, as `hold=entry_id`), so
a late settle returns its first result and a late duplicate hold is refused.

A hold reserves from lots in the business's burn order (services.ledger.lots) and keeps what it took from
each (`lots`); a settle debits from those in the order they were reserved, even from a lot that expired
meanwhile (a call keeps what its hold reserved), and releases the rest back to them.
"""
from __future__ import annotations

from services import checks, clock
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound, SpendCapReached, TooManyCalls
from services.ledger import budgets, burn, cas, ids, lots as lotmod, queries, rollups, wallets
from services.ledger.record import drew, new_entry, record
from services.ledger.wallets import closed_of
from services.money import format_rupees, require_paise

# Resolved holds remembered on the wallet. One string, not a list: on the embedded engine a list field
# costs several times a scalar on every write. The calls layer's records guard older ids.
CLOSED_HOLDS_KEPT = 64


def hold(db, user_id: str, hold_id: str, amount: int, *, min_amount: int | None = None,
         daily_cap: int | None = None, ref: str = "", max_open: int | None = None, lot: int | None = None,
         budget: budgets.Budget | None = None, state: dict | None = None) -> int:
    """Reserve funds (available: the free money of lots not past expiry). Returns the amount held.
    Idempotent per hold_id.

    With `min_amount`, holds as much of `amount` as is available, if that is at least `min_amount`
    (a call holds up to its maximum length, never more than the wallet covers); without, exactly
    `amount`. With `daily_cap`, refuses a hold that would take today's debits plus every open hold past
    the cap. With `max_open`, refuses when the wallet already has that many open holds (TooManyCalls:
    every call holds once, so this is a customer's limit on simultaneous calls). Raises
    InsufficientBalance (carrying `available`, `needed`) or SpendCapReached (carrying `cap`, `committed`,
    `wanted`, `room`); Conflict if the hold id was already resolved. With `lot`, reserves from that lot only
    (a refund of one payment). With `budget`, an API key's caps and simultaneous calls are checked in the
    same compare-and-set (services.ledger.budgets; with `min_amount` the hold shrinks to what the key's caps
    leave, down to that minimum), before the lots are drawn on. `state` (small ints) is kept with the hold:
    the operation's own record rides in the same write (a call's target and usage: services.calls).
    """
    ids.check_user_id(user_id)
    ids.check_hold_id(hold_id)
    require_paise(amount)
    if min_amount is not None:
        require_paise(min_amount, allow_zero=True)
    if daily_cap is not None:
        checks.whole_number(daily_cap, 0, what="Daily spend cap", unit="of paise")
    if max_open is not None:
        checks.whole_number(max_open, 1, what="Open holds allowed")
    if lot is not None:
        checks.whole_number(lot, 0, what="Lot")
    rule = burn.Lazy(db)
    with cas.turn(user_id):
        while True:
            w = wallets.read(db, user_id)
            if hold_id in w["holds"]:
                return int(w["holds"][hold_id]["amount"])
            if hold_id in closed_of(w.get("closed_holds") or ""):
                raise Conflict(f"Hold {hold_id} was already resolved.")
            _check_open(w, max_open)
            lots, now_s = lotmod.of_wallet(w), lotmod.epoch(clock.now())
            take = _admit(w, _room(lots, now_s, lot), amount, min_amount, daily_cap)
            take = budgets.admit(w, budget, take, min_amount)
            parts = lotmod.reserve(lots, take, rule, now_s, only=lot)
            holds = dict(w["holds"])
            rec = {"amount": take, "ref": ref, "created_at": clock.now(), "lots": lotmod.encode_parts(parts)}
            if state:
                rec["state"] = dict(state)
            holds[hold_id] = budgets.tag(rec, budget)
            if cas.commit(db, w, cas.Change(held_delta=take, holds=holds, lots=lots)):
                return take


def _room(lots: dict, now_s: int, only: int | None = None) -> int:
    """What may be held now: free money in lots that have not expired (in lot `only`, when given)."""
    if only is None:
        return lotmod.spendable(lots, now_s)
    lot = lots.get(only)
    return lot.free if lot is not None and not lot.lapsed(now_s) else 0


def _admit(w: dict, available: int, amount: int, min_amount: int | None, daily_cap: int | None) -> int:
    """What a new hold on the wallet document `w` takes, or why it may not."""
    take = amount if min_amount is None else min(amount, available)
    need = amount if min_amount is None else max(min_amount, 1)
    if available < need:
        raise InsufficientBalance(f"Insufficient balance: {format_rupees(available)} available, at least "
                                  f"{format_rupees(need)} needed.", available=available, needed=need)
    if daily_cap is not None:
        # Holds count as spent: each may still be billed today.
        committed = rollups.spent(rollups.today(w)) + int(w["held"])
        if committed + take > daily_cap:
            raise SpendCapReached(f"Daily spend limit of {format_rupees(daily_cap)} reached: "
                                  f"{format_rupees(committed)} already spent or reserved today, and this "
                                  f"needs up to {format_rupees(take)}.", cap=daily_cap, committed=committed,
                                  wanted=take)
    return take


def _check_open(w: dict, max_open: int | None) -> None:
    if max_open is not None and len(w["holds"]) >= max_open:
        raise TooManyCalls(f"{len(w['holds'])} calls are already on the line; at most {max_open} at once.",
                           limit=max_open)


def extend(db, user_id: str, hold_id: str, more: int, *, step: int, min_amount: int | None = None,
           daily_cap: int | None = None, budget: budgets.Budget | None = None, state: dict | None = None,
           seen: wallets.WalletView | None = None) -> int:
    """Add to an open hold (a call's next slice). Returns the hold's total. Idempotent per (hold, step):
    steps apply in increasing order, each once; a step at or below the last applied returns the total.

    With `min_amount`, adds as much of `more` as the wallet and the daily cap leave room for, if that is
    at least `min_amount` (0: whatever is left, possibly nothing); without, exactly `more`. The room is
    checked on the very wallet state the compare-and-set writes over, as `hold` does. Raises
    InsufficientBalance / SpendCapReached when the room is below the minimum, NotFound for a hold that
    is not open (Conflict if it was resolved). With `budget`, the key's caps bound the room as well.
    `state` replaces the hold's state in the same write (`more` may then be 0: the step only moves it).
    `seen`: a whole wallet view just read (get_wallet(whole=True)) to start from.
    """
    ids.check_user_id(user_id)
    ids.check_hold_id(hold_id)
    require_paise(more, allow_zero=state is not None)
    checks.whole_number(step, 1, what="Extension step")
    if min_amount is not None:
        require_paise(min_amount, allow_zero=True)
    if daily_cap is not None:
        checks.whole_number(daily_cap, 0, what="Daily spend cap", unit="of paise")
    rule = burn.Lazy(db)
    with cas.turn(user_id):
        while True:
            w, seen = wallets.first_read(db, user_id, seen), None
            h = open_hold(w, hold_id)
            done, total = int(h.get("step", 0)), int(h["amount"])
            if step <= done:
                return total
            lots, now_s = lotmod.of_wallet(w), lotmod.epoch(clock.now())
            take = _admit_more(w, _room(lots, now_s), more, min_amount, daily_cap)
            take = budgets.admit_more(w, budget, take, min_amount)
            parts = lotmod.merge_parts(lotmod.hold_parts(h), lotmod.reserve(lots, take, rule, now_s))
            holds = dict(w["holds"])
            holds[hold_id] = dict(h, amount=total + take, step=step, lots=lotmod.encode_parts(parts))
            if state is not None:
                holds[hold_id]["state"] = dict(state)
            if cas.commit(db, w, cas.Change(held_delta=take, holds=holds, lots=lots)):
                return total + take


def _admit_more(w: dict, available: int, more: int, min_amount: int | None, daily_cap: int | None) -> int:
    """What an extension on the wallet document `w` adds: `more`, or with `min_amount` what room is left."""
    room = available
    if daily_cap is not None:
        committed = rollups.spent(rollups.today(w)) + int(w["held"])
        room = min(room, max(0, daily_cap - committed))
    need = more if min_amount is None else min(min_amount, more)
    if room < need:
        if available < need or daily_cap is None:  # without a cap, room is what is available
            raise InsufficientBalance(f"Insufficient balance: {format_rupees(available)} available, "
                                      f"{format_rupees(need)} needed.", available=available, needed=need)
        raise SpendCapReached(f"Daily spend limit of {format_rupees(daily_cap)} reached.", cap=daily_cap,
                              committed=daily_cap - room, wanted=need)
    return more if min_amount is None else min(more, room)


def settle(db, user_id: str, hold_id: str, amount: int, *, key: str, category: str = "call",
           source: str = "", note: str = "", meta: dict | None = None, expect: dict | None = None,
           seen: wallets.WalletView | None = None) -> dict | None:
    """Debit `amount` (at most the hold) and release the rest of the hold, in one atomic step.

    Returns the debit entry (None when `amount` is 0: nothing moved, so nothing to record). Settling a
    resolved hold again returns the first result; a released hold raises Conflict. The hold is the
    idempotency guard here; `key` is recorded on the entry. With `expect` ({"step": n, state key: value}),
    settles only a hold still as read (else Conflict): a settle decided on a state must not bill over a
    later one. `seen`: a whole wallet view just read (get_wallet(whole=True)) to start from.
    """
    ids.check_user_id(user_id)
    ids.check_hold_id(hold_id)
    ids.check_key(key)
    require_paise(amount, allow_zero=True)
    ids.check_posted_category(category)
    with cas.turn(user_id):
        entry, fresh = _settle(db, user_id, hold_id, amount, key, category, source, note, meta, expect, seen)
    if fresh and entry is not None:  # fresh: a debit was written now
        record(db, entry)
    return entry


def _settle(db, user_id, hold_id, amount, key, category, source, note, meta, expect, seen) -> tuple[dict | None, bool]:
    while True:
        w, seen = wallets.first_read(db, user_id, seen), None
        h = w["holds"].get(hold_id)
        if h is None:
            return _settled_before(db, w, hold_id, amount), False
        if expect is not None and any(({"step": int(h.get("step", 0))} | (h.get("state") or {})).get(k) != v
                                      for k, v in expect.items()):
            raise Conflict(f"Hold {hold_id} changed since it was read.")
        held = int(h["amount"])
        if amount > held:
            raise InvalidInput(f"Cannot settle {format_rupees(amount)} against a hold of {format_rupees(held)}.")
        lots = lotmod.of_wallet(w)
        parts, _ = lotmod.settle_reserved(lots, lotmod.hold_parts(h), amount)
        entry = drew(new_entry(w, key, ids.DEBIT, category, amount, source, note, meta, claimed=False), lots,
                     parts) if amount > 0 else None
        change = cas.Change(balance_delta=-amount, held_delta=-held, entry=entry, holds=without_hold(w, hold_id),
                            closed_holds=close_hold(w, hold_id, entry["_id"] if entry else ""),
                            budgets=budgets.after_settle(w, h, amount), lots=lots)
        if cas.commit(db, w, change):
            return entry, entry is not None


def _settled_before(db, w: dict, hold_id: str, amount: int) -> dict | None:
    """A settle of a hold that is no longer open: its first result, if it was settled."""
    closed = closed_of(w.get("closed_holds") or "")
    if hold_id not in closed:
        raise NotFound(f"No open hold {hold_id}.")
    eid = closed[hold_id]
    if eid:
        p = queries.pending_with_id(w, eid)
        return queries.clean(p) if p else queries.must_get(db, eid)
    if amount == 0:
        return None
    raise Conflict(f"Hold {hold_id} was already released.")


def release(db, user_id: str, hold_id: str) -> bool:
    """Give a hold back. True if this call released it, False if it was already resolved."""
    ids.check_user_id(user_id)
    ids.check_hold_id(hold_id)
    with cas.turn(user_id):
        while True:
            w = wallets.read(db, user_id)
            h = w["holds"].get(hold_id)
            if h is None:
                return False
            lots = lotmod.of_wallet(w)
            lotmod.settle_reserved(lots, lotmod.hold_parts(h), 0)
            change = cas.Change(held_delta=-int(h["amount"]), holds=without_hold(w, hold_id),
                                closed_holds=close_hold(w, hold_id, ""), lots=lots)
            if cas.commit(db, w, change):
                return True


def open_hold(w: dict, hold_id: str) -> dict:
    """The open hold's record on the wallet document `w`; NotFound if it is not open, Conflict if resolved."""
    h = w["holds"].get(hold_id)
    if h is None:
        if hold_id in closed_of(w.get("closed_holds") or ""):
            raise Conflict(f"Hold {hold_id} was already resolved.")
        raise NotFound(f"No open hold {hold_id}.")
    return h


def without_hold(w: dict, hold_id: str) -> dict:
    return {k: v for k, v in w["holds"].items() if k != hold_id}


def close_hold(w: dict, hold_id: str, eid: str) -> str:
    toks = (w.get("closed_holds") or "").split() + [f"{hold_id}={eid}"]
    return " ".join(toks[-CLOSED_HOLDS_KEPT:])
