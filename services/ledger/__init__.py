"""The ledger: every balance change is one immutable entry; balances never go negative.

This package alone reads and writes the collections `wallets`, `ledger`, `ledger_keys` and `rollups`;
everything else reaches balances through the views below. docs/ledger.md has the protocol and why a
crash at any point loses nothing and doubles nothing. One module per concern:

- `wallets`   wallet documents, `get_wallet` -> WalletView
- `posting`   `post` (credits, debits) and the idempotency-key claim protocol
- `holds`     `hold` (with the minimum and the daily cap checked in its compare-and-set), `extend`, `settle`,
              `release`;  `holdstate` what an operation keeps with its hold (`note_hold`), `void_hold`
- `cas`       the one compare-and-set write, `new_state`, and step 5 (dropping recorded entries)
- `record`    building an entry and recording it (ledger insert, claim pointer)
- `queries`   `find_entry`, `get_entry`, `entries` (pages), `iter_entries` (exports), `entries_after` (sweeps)
- `rollups`   daily counters: `day_totals` per wallet, archival of closed days, `archived_days` (a range)
- `rebuild`   `rebuild_rollups`: the idempotent recount of rollups by business day (`make run` calls it)
- `feed`      which wallets changed since a time (`changed`: an index range), `days_across` users, entries
              after a number
- `recovery`  `recover`, `recover_changed` (the worker's);  `auditing` the invariants (`audit`);  `ids` names
- `dues`      the amount due: `debit_owing` (a refund beyond the balance), credits paying it first, `pay_due`
- `batch`     `post_batch`: many debits of one wallet (metered usage) in one compare-and-set, once per key each
- `budgets`   API keys' caps and simultaneous calls, checked in the hold's compare-and-set; `spend_of` a wallet's keys
- `volumes`   a metered service's units this month, counted in the batch's compare-and-set (volume tiers)
- `lots`      credit lots (pure): the wallet's encoding, burn orders, draws, reservations, the lot invariants
- `burn`      the business's burn order (`burn_rule`, `set_burn_rule`);  `expiry` lots leaving: `expire_lots`
              (the worker), `void_lot`;  `history` `balance_at` (balance and lots at a past instant);
              `migrate` the once-only `backfill` to lots
"""
from services import clock  # noqa: F401  (callers read ledger.clock for the time entries carry)
from services.ledger.auditing import audit
from services.ledger.batch import MAX_BATCH, Debit as BatchDebit, post_batch
from services.ledger.budgets import Budget, KeySpend, spend_of
from services.ledger.burn import rule as burn_rule, set_rule as set_burn_rule
from services.ledger.dues import Due, amounts_due, debit_owing, pay_due
from services.ledger.expiry import expire_lots, expiring, void_lot
from services.ledger.history import balance_at
from services.ledger.ids import check_campaign
from services.ledger.lots import RULE_LABELS as BURN_RULES, parse_parts as lot_parts
from services.ledger.migrate import backfill
from services.ledger.holds import extend, hold, release, settle
from services.ledger.holdstate import note_hold, void_hold
from services.ledger.ids import CALL_CATEGORIES, CATEGORIES, CREDIT, DEBIT, SERVICE_CATEGORIES, entry_id
from services.ledger.posting import post
from services.ledger.queries import (entries, entries_after, find_entry, get_entry, iter_entries,
                                     last_entries)
from services.ledger.rebuild import rebuild_rollups
from services.ledger.feed import LATE, Change, changed, changed_newest_first, count_changed, days_across
from services.ledger.recovery import recover, recover_changed
from services.ledger.rollups import archived_days, day_totals, every_archived_day, recounted_at, service_users
from services.ledger.rollups import spent as day_spent
from services.ledger.volumes import Volume, used_of as volumes_used
from services.ledger.wallets import (Hold, LotView, Wallet, WalletView, ensure_wallet, get_wallet, in_spend_order)

# wallets: `updated_at` is how readers find the wallets that changed (services.ledger.feed); `due`, those
# that owe (dues.amounts_due); `next_expiry`, those with lots to expire (expiry).
COLLECTIONS = {"wallets": [[("updated_at", 1)], [("due", 1)], [("next_expiry", 1)]],
               "ledger": [[("user_id", 1), ("seq", -1)], [("created_at", 1)]], "ledger_keys": [],
               "ledger_meta": [], "rollups": [[("user_id", 1), ("day", 1)], [("day", 1)]]}

__all__ = ["CALL_CATEGORIES", "CATEGORIES", "CREDIT", "DEBIT", "Hold", "Wallet", "WalletView",
           "audit", "day_totals", "days_across", "ensure_wallet", "entries", "entry_id", "extend", "find_entry",
           "get_entry", "get_wallet", "hold", "iter_entries", "post", "recover", "recover_changed", "release", "settle",
           "rebuild_rollups", "entries_after"]
__all__ += ["Due", "amounts_due", "debit_owing", "pay_due", "LATE", "Change", "changed", "changed_newest_first",
            "count_changed", "archived_days", "every_archived_day", "recounted_at", "last_entries"]
__all__ += ["Budget", "KeySpend", "spend_of"]
__all__ += ["BURN_RULES", "LotView", "backfill", "balance_at", "burn_rule", "check_campaign", "day_spent",
            "expire_lots", "expiring", "in_spend_order", "lot_parts", "set_burn_rule", "void_lot"]
__all__ += ["BatchDebit", "MAX_BATCH", "SERVICE_CATEGORIES", "post_batch", "Volume", "volumes_used"]
__all__ += ["service_users", "note_hold", "void_hold"]
