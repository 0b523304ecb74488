"""Credit lots: every credit is a lot (its source, amount, remainder, expiry, priority), and every debit says
which lots it drew from. Pure functions over the wallet document's `lots`; services.ledger.cas writes them in
the same compare-and-set as the balance, so `Σ remaining == balance` and `Σ held == held` hold on every
write (docs/ledger.md, "Lots").

The wallet keeps its live lots as ONE string (a list field costs several times a scalar on every write on
the embedded engine), a token per lot, `n,kind,amount,remaining,held,expires,priority,campaign,flags`:
`n` is the number of the credit entry that created it (0: the balance a wallet had before lots, see
`of_wallet`), `kind` one letter of KINDS, `expires` epoch seconds or empty, `flags` `v` for a void waiting
for its calls to end. A lot whose remainder and reservation are both 0 leaves the string.

A hold keeps what it reserved as `n:amount n:amount` (`hold["lots"]`), in the order it was reserved; a
debit entry records the lots it drew from the same way (`entry["lots"]`) with its promotional part.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from services.errors import InvalidInput

# Kind letter -> the name entries and views use.
KINDS = {"p": "paid", "r": "promo", "m": "manual", "b": "refund_back", "t": "bank", "a": "adjustment",
         "u": "unknown"}
KIND_OF_NAME = {v: k for k, v in KINDS.items()}
# Free credit (promotional, manual): never refunded to a bank; the GST issue shows usage paid from it as a
# discount. Everything else is paid money (`u`, a balance from before lots, counts as paid).
PROMO_KINDS = frozenset("rm")
# What a bank refund may take: money the customer paid in.
REFUNDABLE_KINDS = frozenset("pbtu")
CATEGORY_KIND = {"recharge": "p", "promo_credit": "r", "manual_credit": "m", "refund": "b", "adjustment": "a"}
DEFAULT_PRIORITY = {"r": 0, "m": 0}   # others: 1 (lower is spent first)
NO_CAMPAIGN = "_"                     # the rollups' key for grants without a campaign
_NEVER = 2 ** 63 - 1  # the expiry (epoch seconds) of a lot that never expires, as a sort key: after all

# The burn orders a business may choose between (never per operation): name -> sort key of a lot.
RULES = {
    "promo_first": lambda lot: (lot.prio, lot.exp or _NEVER, lot.n),      # promotional and manual, then soonest
    "soonest_expiry": lambda lot: (lot.exp or _NEVER, lot.prio, lot.n),   # expiry, then paid money oldest first
    "oldest_first": lambda lot: (lot.n,),
}
DEFAULT_RULE = "promo_first"
NEWEST_FIRST = lambda lot: (-lot.n,)  # noqa: E731  (refunds: the newest payment first, not a business rule)
RULE_LABELS = {"promo_first": "Promotional and manual credit first, then soonest expiry, then oldest paid",
               "soonest_expiry": "Soonest expiry first (promotional before paid on the same expiry), then oldest",
               "oldest_first": "Oldest credit first, whatever its kind"}


class Lot:
    __slots__ = ("n", "kind", "amount", "remaining", "held", "exp", "prio", "tag", "void", "_tok", "_was")

    def __init__(self, n: int, kind: str, amount: int, remaining: int, held: int = 0, exp: int | None = None,
                 prio: int = 1, tag: str = "", void: bool = False):
        self.n, self.kind, self.amount, self.remaining, self.held = n, kind, amount, remaining, held
        self.exp, self.prio, self.tag, self.void = exp, prio, tag, void
        self._tok = ""
        self._was: tuple[int, int, bool] | None = None   # (remaining, held, void) as read with `_tok`

    @property
    def free(self) -> int:
        return self.remaining - self.held

    def lapsed(self, now_s: int) -> bool:
        """Past its expiry (or voided): nothing new draws on it; the worker takes its remainder once no
        call holds any of it."""
        return self.void or (self.exp is not None and self.exp <= now_s)

    def token(self) -> str:
        # Only the remainder, the reservation and the void flag ever change: a lot an operation did not
        # touch is written back as it was read (a write touches one or two lots of a hundred).
        if self._was == (self.remaining, self.held, self.void):
            return self._tok
        exp = "" if self.exp is None else str(self.exp)
        return (f"{self.n},{self.kind},{self.amount},{self.remaining},{self.held},{exp},{self.prio},{self.tag},"
                f"{'v' if self.void else ''}").rstrip(",")


Lots = dict  # n -> Lot, for one wallet
Rule = str | Callable[[Any], Any]  # a name of RULES, or a sort key of lots (NEWEST_FIRST, burn.Lazy)


def parse(text: str | None) -> Lots:
    """The wallet's string as lots. Every write reads a hundred lots to touch one or two: built without
    Lot.__init__ (twice as fast), each lot remembering its token for `encode`."""
    out: Lots = {}
    for tok in (text or "").split():
        f = tok.split(",")
        if len(f) < 9:
            f += ("",) * (9 - len(f))
        lot = _new(Lot)
        n = lot.n = int(f[0])
        lot.kind, lot.amount, lot.tag = f[1], int(f[2]), f[7]
        rem, held, void = lot.remaining, lot.held, lot.void = int(f[3]), int(f[4]), f[8] == "v"
        lot.exp = int(f[5]) if f[5] else None
        lot.prio = int(f[6]) if f[6] else 1
        lot._tok, lot._was = tok, (rem, held, void)
        out[n] = lot
    return out


_new = object.__new__


def encode(lots: Lots) -> str:
    """The string the wallet stores: live lots only, by number."""
    return " ".join(lots[n].token() for n in sorted(lots) if lots[n].remaining or lots[n].held)


def of_wallet(w: dict) -> Lots:
    """The wallet's lots. A wallet from before lots has one: lot 0 of unknown kind, its whole balance
    (`backfill` writes it; until then every read makes the same one)."""
    if "lots" in w:
        return parse(w["lots"])
    balance, held = int(w.get("balance") or 0), int(w.get("held") or 0)
    return {0: Lot(0, "u", balance, balance, held)} if balance or held else {}


def parse_parts(text: str | None) -> list[tuple[int, int]]:
    out = []
    for tok in (text or "").split():
        n, _, amt = tok.partition(":")
        out.append((int(n), int(amt)))
    return out


def encode_parts(parts) -> str:
    return " ".join(f"{n}:{a}" for n, a in parts if a)


def hold_parts(h: dict) -> list[tuple[int, int]]:
    """What a hold reserved, lot by lot (a hold from before lots reserved from lot 0)."""
    if "lots" in h:
        return parse_parts(h["lots"])
    return [(0, int(h["amount"]))] if int(h["amount"]) else []


def merge_parts(a, b) -> list[tuple[int, int]]:
    out: dict[int, int] = {}
    for n, amt in list(a) + list(b):
        out[n] = out.get(n, 0) + amt
    return [(n, amt) for n, amt in out.items() if amt]


# ------------------------------------------------------------------------------------------ rules

def check_rule(name) -> str:
    if name not in RULES:
        raise InvalidInput(f"The burn order must be one of {', '.join(RULES)}.")
    return name


def usable(lots: Lots, rule: Rule, now_s: int, kinds=None) -> list[Lot]:
    """Lots with free money that may be drawn now, in the rule's order (`kinds`: only those kinds). `rule` is
    a name of RULES or a sort key (services.ledger.burn.Lazy reads the business's only when it must)."""
    found = [lot for lot in lots.values() if lot.free > 0 and not lot.lapsed(now_s)
             and (kinds is None or lot.kind in kinds)]
    return found if len(found) < 2 else sorted(found, key=RULES[rule] if isinstance(rule, str) else rule)


def spendable(lots: Lots, now_s: int, kinds=None) -> int:
    """What may be drawn now: the free money of lots that have not lapsed."""
    return sum(lot.free for lot in lots.values() if lot.free > 0 and not lot.lapsed(now_s)
               and (kinds is None or lot.kind in kinds))


def frozen(lots: Lots, now_s: int) -> int:
    """Free money of lapsed lots: still in the balance until the worker's expiry entry, not spendable."""
    return sum(lot.free for lot in lots.values() if lot.free > 0 and lot.lapsed(now_s))


# ------------------------------------------------------------------------------------------ moves

def draw(lots: Lots, amount: int, rule: Rule, now_s: int, *, kinds=None, first: int | None = None):
    """Take `amount` from free money in the rule's order (lot `first` before any other): the parts
    [(n, paise)]. Takes less when there is not enough; the caller checks the sum."""
    order = usable(lots, rule, now_s, kinds)
    if first is not None:
        order.sort(key=lambda lot: lot.n != first)
    parts, rest = [], amount
    for lot in order:
        if rest <= 0:
            break
        take = min(rest, lot.free)
        lot.remaining -= take
        parts.append((lot.n, take))
        rest -= take
    return parts


def draw_from(lots: Lots, n: int, amount: int) -> list[tuple[int, int]]:
    """Take `amount` from lot n's free money (a credit paying an amount due, from itself)."""
    lot = lots[n]
    take = min(amount, lot.free)
    lot.remaining -= take
    return [(n, take)] if take else []


def reserve(lots: Lots, amount: int, rule: Rule, now_s: int, *, only: int | None = None):
    """Set `amount` aside from free money in the rule's order (or from lot `only`): the parts."""
    if only is not None:
        lot = lots.get(only)
        order = [lot] if lot is not None and lot.free > 0 and not lot.lapsed(now_s) else []
    else:
        order = usable(lots, rule, now_s)
    parts, rest = [], amount
    for lot in order:
        if rest <= 0:
            break
        take = min(rest, lot.free)
        lot.held += take
        parts.append((lot.n, take))
        rest -= take
    return parts


def settle_reserved(lots: Lots, parts, amount: int) -> tuple[list, list]:
    """A hold resolved: `amount` debited from what it reserved, in the order reserved (a lapsed lot too:
    a call keeps what its hold reserved), the rest released back to its lots. (debit parts, released)."""
    debit, released, rest = [], [], amount
    for n, amt in parts:
        lot = lots[n]
        take = min(rest, amt)
        lot.held -= amt
        lot.remaining -= take
        rest -= take
        if take:
            debit.append((n, take))
        if amt - take:
            released.append((n, amt - take))
    return debit, released


def add(lots: Lots, n: int, kind: str, amount: int, exp: int | None = None, prio: int | None = None,
        tag: str = "") -> Lot:
    lot = Lot(n, kind, amount, amount, 0, exp, DEFAULT_PRIORITY.get(kind, 1) if prio is None else prio, tag)
    lots[n] = lot
    return lot


def next_expiry(lots: Lots) -> int | None:
    """When the worker next has work on this wallet: its soonest expiry or void, among live lots."""
    times = [0 if lot.void else lot.exp for lot in lots.values()
             if (lot.void or lot.exp is not None) and (lot.remaining or lot.held)]
    return min(times) if times else None


def promo_split(lots: Lots, parts) -> tuple[int, dict]:
    """(paise drawn from promotional/manual lots, {campaign: paise}) of a debit's parts."""
    by: dict[str, int] = {}
    for n, amt in parts:
        lot = lots.get(n)
        if lot is not None and lot.kind in PROMO_KINDS:
            key = lot.tag or NO_CAMPAIGN
            by[key] = by.get(key, 0) + amt
    return sum(by.values()), by


def problems(lots: Lots, balance: int, held: int) -> list[str]:
    """The lot invariants on one wallet state: remainders sum to the balance, reservations to the held
    amount, and no lot's remainder below 0 or below what is reserved from it."""
    out = []
    rem = sum(lot.remaining for lot in lots.values())
    res = sum(lot.held for lot in lots.values())
    if rem != balance:
        out.append(f"lots hold {rem}, the balance is {balance}")
    if res != held:
        out.append(f"lots reserve {res}, held is {held}")
    for lot in lots.values():
        if lot.remaining < 0 or lot.held < 0 or lot.held > lot.remaining:
            out.append(f"lot {lot.n} out of bounds: remaining {lot.remaining}, held {lot.held}")
    return out


# ------------------------------------------------------------------------------------------ time

def epoch(t: datetime) -> int:
    """Epoch seconds of an instant (a naive one, as the embedded engine returns them, is UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp())


def maybe_epoch(t: datetime | None) -> int | None:
    return None if t is None else epoch(t)


def from_epoch(s: int | None) -> datetime | None:
    return None if s is None else datetime.fromtimestamp(s, timezone.utc)
