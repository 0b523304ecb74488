"""Wallet documents and the typed views every other module reads them through.

`wallets/{user}`: `balance`, `held`, `holds {hold_id: {amount, ref, created_at, step, state}}`, `closed_holds`,
`n` (entries so far), `seq` (version), `pending` (applied entries whose ledger insert may not be done),
`days` (today's and yesterday's rollups), `due` (owed from refunds, absent = 0). Only services.ledger.cas
writes an existing one.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from services import clock
from services.db import insert_new
from services.ledger import ids, lots as lotmod, rollups


@dataclass(frozen=True)
class Hold:
    """Money set aside for an operation in progress (a call), not yet debited."""
    amount: int
    ref: str = ""
    created_at: datetime | None = None
    step: int = 0                            # extensions applied (services.ledger.holds.extend)
    state: dict = field(default_factory=dict)  # what the operation keeps with its money (a call: target, usage)


@dataclass(frozen=True)
class LotView:
    """One live lot: what a credit put in and what is left of it."""
    lot: int                                # the number of the credit entry that created it (0: before lots)
    kind: str                               # paid, promo, manual, refund_back, bank, adjustment, unknown
    amount: int
    remaining: int
    held: int = 0                           # reserved by calls and refunds in progress
    expires_at: datetime | None = None
    priority: int = 1
    campaign: str = ""
    voided: bool = False                    # voided; the worker takes it once no call holds any of it
    entry_id: str | None = None             # the credit that created it

    @property
    def promotional(self) -> bool:
        return lotmod.KIND_OF_NAME[self.kind] in lotmod.PROMO_KINDS


@dataclass(frozen=True)
class WalletView:
    """One wallet as of one read: its numbers agree with each other."""
    user_id: str
    balance: int
    held: int
    seq: int
    holds: dict[str, Hold] = field(default_factory=dict)   # the open holds
    entries: int = 0                                      # ledger entries so far (n)
    today_debits: int = 0                                 # from today's live rollup
    created_at: datetime | None = None
    due: int = 0                                          # owed from refunds (services.ledger.dues)
    lots: tuple[LotView, ...] = ()                        # live lots, by number
    frozen: int = 0                                       # in lots past their expiry, leaving at the next sweep
    closed_holds: str = ""                                # recently resolved holds (services.ledger.holds)
    doc: dict | None = field(default=None, repr=False, compare=False)  # the whole document (get_wallet(whole=True))

    @property
    def available(self) -> int:
        """What may be spent or held now: the balance less every open hold and less lots past expiry."""
        return self.balance - self.held - self.frozen

    def resolved(self, hold_id: str) -> str | None:
        """How a recently resolved hold ended: its settle entry's id, '' (released, or settled at zero),
        or None (open, never taken, or resolved too long ago to be remembered)."""
        return closed_of(self.closed_holds).get(hold_id)


def closed_of(closed_holds: str) -> dict[str, str]:
    """The resolved-holds memory: hold id -> its settle entry id ('' when released or settled at zero)."""
    out = {}
    for tok in closed_holds.split():
        hid, _, eid = tok.partition("=")
        out[hid] = eid
    return out


Wallet = WalletView  # the name callers used before the view grew


def new_wallet_doc(user_id: str) -> dict:
    t = clock.now()
    return {"_id": user_id, "balance": 0, "held": 0, "seq": 0, "n": 0, "holds": {}, "closed_holds": "",
            "pending": [], "days": {}, "lots": "", "next_expiry": None, "created_at": t, "updated_at": t}


def ensure_wallet(db, user_id: str) -> dict:
    """Create the wallet (balance 0) if missing; safe under races. Returns its document."""
    ids.check_user_id(user_id)
    doc = db.wallets.find_one({"_id": user_id})
    if doc is not None:
        return doc
    insert_new(db.wallets, new_wallet_doc(user_id))
    return db.wallets.find_one({"_id": user_id})


def read(db, user_id: str) -> dict:
    """The whole wallet document (created if missing), as a compare-and-set starts from."""
    w = db.wallets.find_one({"_id": user_id})
    if w is None:
        w = ensure_wallet(db, user_id)
    w.setdefault("pending", [])
    w.setdefault("holds", {})
    return w


_VIEW_FIELDS = {"balance": 1, "held": 1, "seq": 1, "holds": 1, "n": 1, "days": 1, "created_at": 1, "due": 1,
                "lots": 1, "closed_holds": 1}


def get_wallet(db, user_id: str, *, whole: bool = False) -> WalletView:
    """The wallet's view. `whole`: read the whole document and keep it on the view, so an operation decided
    on this view (`settle`, `extend`, `note_hold` with `seen=`) starts its compare-and-set from it instead
    of reading the wallet again (a stale one only costs the CAS a retry)."""
    ids.check_user_id(user_id)
    if whole:
        doc = read(db, user_id)
        return replace(view(doc), doc=doc)
    doc = db.wallets.find_one({"_id": user_id}, _VIEW_FIELDS)
    if doc is None:
        doc = ensure_wallet(db, user_id)
    return view(doc)


def first_read(db, user_id: str, seen: WalletView | None) -> dict:
    """The document a compare-and-set loop starts from: `seen`'s, once, if it is this wallet's whole one."""
    if seen is not None and seen.doc is not None and seen.user_id == user_id:
        return seen.doc
    return read(db, user_id)


def view(doc: dict) -> WalletView:
    holds = {hid: Hold(int(h["amount"]), h.get("ref", ""), clock.as_utc(h.get("created_at")), int(h.get("step", 0)),
                       dict(h.get("state") or {}))
             for hid, h in (doc.get("holds") or {}).items()}
    lots = lotmod.of_wallet(doc)
    return WalletView(doc["_id"], int(doc["balance"]), int(doc["held"]), int(doc["seq"]), holds,
                      int(doc.get("n", 0)), rollups.spent(rollups.today(doc)),
                      clock.as_utc(doc.get("created_at")), int(doc.get("due") or 0),
                      tuple(lot_view(doc["_id"], lot) for lot in sorted(lots.values(), key=lambda x: x.n)),
                      lotmod.frozen(lots, lotmod.epoch(clock.now())), doc.get("closed_holds") or "")


def in_spend_order(views, rule: str) -> tuple[LotView, ...]:
    """Lot views in the order `rule` (services.ledger.lots.RULES) draws on them."""
    key = lotmod.RULES[lotmod.check_rule(rule)]
    return tuple(sorted(views, key=lambda v: key(lotmod.Lot(v.lot, lotmod.KIND_OF_NAME[v.kind], v.amount, v.remaining,
                                                            v.held, lotmod.maybe_epoch(v.expires_at), v.priority,
                                                            v.campaign, v.voided))))


def lot_view(user_id: str, lot) -> LotView:
    return LotView(lot.n, lotmod.KINDS[lot.kind], lot.amount, lot.remaining, lot.held, lotmod.from_epoch(lot.exp),
                   lot.prio, lot.tag, lot.void, ids.entry_id(user_id, lot.n) if lot.n else None)

