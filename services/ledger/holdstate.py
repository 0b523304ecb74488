"""What an operation keeps with its hold, and hold ids closed before they were taken.

A call keeps its state (the seconds its hold was asked to cover, the usage its platform reported) in
its hold's `state`: the same compare-and-set that moves the money records it, so there is no second
document to keep in step (docs/calls.md). `note_hold` raises a state value alone (a usage report that
needs no more money). `void_hold` closes a hold id that was never taken, so a late `hold` under that id
is refused (Conflict): recovery gives up on a start that died before its hold without racing a slow
starter, because the hold and the void are one wallet's compare-and-sets, and only one comes first.
"""
from __future__ import annotations

from services import checks
from services.ledger import cas, ids, wallets
from services.ledger.holds import close_hold, open_hold
from services.ledger.wallets import Hold, closed_of


def note_hold(db, user_id: str, hold_id: str, key: str, value: int, *, seen: wallets.WalletView | None = None) -> int:
    """Raise the open hold's state `key` to `value` (never lowers it; no write when it is not higher).
    Returns the value kept. NotFound for a hold that is not open, Conflict if it was resolved. `seen`: a
    whole wallet view just read to start from."""
    ids.check_user_id(user_id)
    ids.check_hold_id(hold_id)
    checks.whole_number(value, 0, what=key)
    with cas.turn(user_id):
        while True:
            w, seen = wallets.first_read(db, user_id, seen), None
            h = open_hold(w, hold_id)
            state = dict(h.get("state") or {})
            if int(state.get(key, 0)) >= value:
                return int(state.get(key, 0))
            state[key] = value
            holds = dict(w["holds"])
            holds[hold_id] = dict(h, state=state)
            if cas.commit(db, w, cas.Change(holds=holds)):
                return value


def void_hold(db, user_id: str, hold_id: str) -> Hold | None:
    """The hold if it is open; else None, after making sure the id is resolved (a later `hold` under it
    raises Conflict). A hold id resolved before stays as it was."""
    ids.check_user_id(user_id)
    ids.check_hold_id(hold_id)
    with cas.turn(user_id):
        while True:
            w = wallets.read(db, user_id)
            if hold_id in w["holds"]:
                return wallets.view(w).holds[hold_id]
            if hold_id in closed_of(w.get("closed_holds") or ""):
                return None
            if cas.commit(db, w, cas.Change(closed_holds=close_hold(w, hold_id, ""))):
                return None
