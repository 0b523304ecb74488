"""AI voice calls billed from the wallet with rolling authorisation: never below zero, never cut early.

A call holds its first slice at the start, grows the hold a slice at a time while its platform reports
usage, and is billed once at the end from its final usage at the tariff of its start. A call document
(`calls`, `_id` = call id) is written twice in a billed call's life: inserted "starting", then
"completed". Between the two its grant lives in its hold (the ledger keeps the hold's state in the same
compare-and-set that moves the money), and `records.live` reads it:

    starting + its hold open              -> active
    starting + its hold resolved          -> ending (settled; completed from the settle's entry)
    starting -> completed                 (the end: settle, then complete; or recovery, for a silent call:
                                           billed the last reported usage)
    starting -> refused                   (balance below the minimum, the daily spend cap, too many calls at once)
    starting -> failed                    (recovery: interrupted before funds were held)

Each move is one idempotent ledger step or one single-document update filtered on the state it leaves,
so a crash at any point leaves a state `recover_stale_calls` (or simply repeating the request) can
finish. docs/calls.md walks through each kill point.

- `records`    states, input checks (the one phone-number rule), the grant rule, reading calls back
- `history`    the history with filters, a page at a time (history) or all of it (iter_history); every
               customer's calls of a period (iter_all, the analyst's export)
- `start`      start_call: the first slice
- `authorize`  update_call: the next slices, or the second the call must end
- `billing`    end_call: one settlement from the final usage and outcome
- `recovery`   recover_stale_calls
- `simulate`   Session (the platform's side), simulate_call (and the SMS after it, when asked), follow_up_price
"""
from services.calls.authorize import update_call
from services.calls.billing import end_call, not_placed
from services.calls.history import SINGLE, Filters, filters, history, iter_all, iter_history
from services.calls.history import STATUSES as HISTORY_STATUSES
from services.calls.records import (ACTIVE, COMPLETED, ENDING, EXPIRED, EXPIRING, FAILED, MAX_CALL_MINUTES,
                                    MAX_DURATION_SECONDS, REFUSED, STARTING, check_duration, check_kb_id,
                                    check_max_minutes, check_outcome, get_call, list_calls, normalize_number,
                                    of_campaign, stored, stored_many)
from services.calls.recovery import STARTING_GRACE, recover_stale_calls
from services.calls.simulate import Session, converse, follow_up_price, simulate_call
from services.calls.start import RETRY_AFTER_SECONDS, start_call
from services.pricing import ANSWERED, BUSY, NO_ANSWER, OUTCOMES

from services.calls.days import backfill  # calls from before the by-day index, once (services.schema)

COLLECTIONS = {"calls": [[("user_id", 1), ("started_at", -1)], [("status", 1)], [("campaign_id", 1)]],
               "call_days": []}

__all__ = ["ACTIVE", "ANSWERED", "BUSY", "COMPLETED", "ENDING", "EXPIRED", "EXPIRING", "FAILED", "MAX_CALL_MINUTES",
           "MAX_DURATION_SECONDS", "NO_ANSWER", "OUTCOMES", "REFUSED", "RETRY_AFTER_SECONDS", "STARTING",
           "STARTING_GRACE", "Session", "check_duration", "check_kb_id", "check_max_minutes", "check_outcome",
           "converse", "end_call", "get_call", "list_calls", "normalize_number", "not_placed",
           "recover_stale_calls", "simulate_call", "start_call", "update_call", "follow_up_price"]
__all__ += ["HISTORY_STATUSES", "SINGLE", "Filters", "filters", "history", "iter_all", "iter_history"]
__all__ += ["backfill", "of_campaign", "stored", "stored_many"]
