"""Campaigns: one knowledge base, many numbers, called until the wallet runs out; resumable.

Item i of campaign C is the call `cmp_{C}_{i}`. That id makes every step of an item idempotent (the
start, the hold, the placement on the voice backend, the settlement), so a run interrupted at any
point resumes without placing or billing any number twice. The item states live in the call documents;
the campaign document carries the settings, the progress counters (for a page to poll) and a lease so
two runners never drive the same campaign at once; its numbers sit in `campaign_numbers` chunks.

- `numbers`  parse_numbers, parse_csv: the input, with every rejected row and why
- `records`  estimate, create_campaign, rate_change, confirm_rate (the agreed tariff), get_campaign,
             list_campaigns, summary, campaign_items
- `items`    an item's state from its call, the progress counters, the summary sentence
- `runner`   run_campaign: the lease and the item loop (docs/calls.md)
"""
from services.campaigns.items import (COMPLETED, DONE, FAILED, NEEDS_RECHARGE, PENDING, READY, RUNNING,
                                      SPEND_CAP, THROTTLED, item_call_id)
from services.campaigns.numbers import MAX_CSV_BYTES, MAX_NUMBERS, parse_csv, parse_numbers
from services.campaigns.records import (MAX_CONCURRENCY, NUMBERS_CHUNK, campaign_items, confirm_rate,
                                        create_campaign, estimate, get_campaign, list_campaigns, rate_change,
                                        recharge_to_finish, summary)
from services.campaigns.runner import LEASE, run_campaign

COLLECTIONS = {"campaigns": [[("user_id", 1), ("created_at", -1)]], "campaign_numbers": []}

__all__ = ["COMPLETED", "DONE", "FAILED", "LEASE", "MAX_CONCURRENCY", "MAX_CSV_BYTES", "MAX_NUMBERS",
           "NEEDS_RECHARGE", "NUMBERS_CHUNK", "PENDING", "READY", "RUNNING", "SPEND_CAP", "THROTTLED", "campaign_items",
           "confirm_rate", "create_campaign", "estimate", "get_campaign", "item_call_id", "list_campaigns", "parse_csv",
           "parse_numbers", "rate_change", "recharge_to_finish", "run_campaign", "summary"]
