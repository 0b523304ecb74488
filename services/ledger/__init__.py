"""The ledger: every balance change is one immutable entry; balances never go negative.

This package alone reads and writes the collections `wallets`, `ledger`, `ledger_keys` and `rollups`;
everything else reaches balances through the views below. docs/ledger.md has the protocol and why a
crash at any point loses nothing and doubles nothing. One module per concern:

- `wallets`   wallet documents, `get_wallet` -> WalletView
- `posting`   `post` (credits, debits) and the idempotency-key claim protocol
- `holds`     `hold` (with the minimum and the daily cap checked in its compare-and-set), `extend`, `settle`,
              `release`
- `cas`       the one compare-and-set write, `new_state`, and step 5 (dropping recorded entries)
- `record`    building an entry and recording it (ledger insert, claim pointer)
- `queries`   `find_entry`, `get_entry`, `entries` (pages), `iter_entries` (exports), `entries_after` (sweeps)
- `rollups`   daily counters: `day_totals` per wallet, archival of closed days, `archived_days` (a range)
- `rebuild`   `rebuild_rollups`: the idempotent recount of rollups by business day (`make run` calls it)
- `feed`      which wallets changed since a time (`changed`: an index range), `days_across` users, entries
              after a number
- `recovery`  `recover`, `recover_changed` (the worker's);  `auditing` the invariants (`audit`);  `ids` names
- `dues`      the amount due: `debit_owing` (a refund beyond the balance), credits paying it first, `pay_due`
"""
from services import clock  # noqa: F401  (callers read ledger.clock for the time entries carry)
from services.ledger.auditing import audit
from services.ledger.dues import Due, amounts_due, debit_owing, pay_due
from services.ledger.holds import extend, hold, release, settle
from services.ledger.ids import CALL_CATEGORIES, CATEGORIES, CREDIT, DEBIT, entry_id
from services.ledger.posting import post
from services.ledger.queries import entries, entries_after, find_entry, get_entry, iter_entries, last_entries
from services.ledger.rebuild import rebuild_rollups
from services.ledger.feed import LATE, Change, changed, changed_newest_first, count_changed, days_across
from services.ledger.recovery import recover, recover_changed
from services.ledger.rollups import archived_days, day_totals, every_archived_day, recounted_at
from services.ledger.wallets import Hold, Wallet, WalletView, ensure_wallet, get_wallet

# wallets: `updated_at` is how readers find the wallets that changed (services.ledger.feed); `due`, those
# that owe (dues.amounts_due).
COLLECTIONS = {"wallets": [[("updated_at", 1)], [("due", 1)]],
               "ledger": [[("user_id", 1), ("seq", -1)], [("created_at", 1)]], "ledger_keys": [],
               "ledger_meta": [], "rollups": [[("user_id", 1), ("day", 1)], [("day", 1)]]}

__all__ = ["CALL_CATEGORIES", "CATEGORIES", "CREDIT", "DEBIT", "Hold", "Wallet", "WalletView",
           "audit", "day_totals", "days_across", "ensure_wallet", "entries", "entry_id", "extend", "find_entry",
           "get_entry", "get_wallet", "hold", "iter_entries", "post", "recover", "recover_changed", "release", "settle",
           "rebuild_rollups", "entries_after"]
__all__ += ["Due", "amounts_due", "debit_owing", "pay_due", "LATE", "Change", "changed", "changed_newest_first", "count_changed", "archived_days",
            "every_archived_day", "recounted_at", "last_entries"]
