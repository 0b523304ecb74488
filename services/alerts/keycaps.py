"""Alerts about API keys' caps: when a key has spent 80 % of its daily or monthly cap, and when it has reached
it (what is left is less than a call needs to start, settings `min_call_balance_paise`: the key can start
no more calls until the cap starts again). Each is a notice (services.alerts.notices) to the account's own
alert channels, keyed by (key, period, day or month, level): once per crossing, whatever the retries.

Spend is what the key's calls were billed (services.ledger.budgets, the same counters its caps are checked
against), read by the worker's pass, never on a call's path.
"""
from __future__ import annotations

from services import accounts, clock, ledger, settings
from services.alerts import notices
from services.money import format_rupees

LEVELS = (80, 100)


def crossed(spent: int, cap: int, start_min: int) -> list[int]:
    """The levels a key's spend has reached under a cap (100: too little left to start a call)."""
    out = [80] if spent * 100 >= cap * 80 else []
    if cap - spent < max(start_min, 1):
        out.append(100)
    return out


def derive(db) -> int:
    """Write the notices of every cap crossing not yet written; how many were written."""
    keys = accounts.keys.with_caps(db)
    if not keys:
        return 0
    start_min = settings.get(db)["min_call_balance_paise"]
    today = clock.day_of(clock.now())
    spend: dict[str, dict] = {}
    written = 0
    for k in keys:
        s = (spend.setdefault(k.account, ledger.spend_of(db, k.account))).get(k.id) or ledger.KeySpend(k.id)
        for period, cap, spent, stamp in (("daily", k.daily_cap_paise, s.spent_day, today),
                                          ("monthly", k.monthly_cap_paise, s.spent_month, today[:7])):
            if not cap:
                continue
            for level in crossed(spent, cap, start_min):
                key = f"keycap|{k.id}|{period}|{stamp}|{level}"
                if not notices.exists(db, k.account, key):
                    written += notices.notify(db, k.account, key, **_notice(k, period, cap, spent, level))
    return written


def _notice(k, period: str, cap: int, spent: int, level: int) -> dict:
    name = f"API key {k.name} ({k.prefix})"
    again = f"at midnight {clock.abbr()}" if period == "daily" else "on the 1st of next month"
    if level == 100:
        headline = f"{name} reached its {period} cap of {format_rupees(cap)}"
        text = (f"{name} has spent {format_rupees(spent)} of its {period} cap of {format_rupees(cap)}: calls placed "
                f"with it are refused until the cap starts again {again}, or an owner raises it.")
    else:
        headline = f"{name} has used {level}% of its {period} cap"
        text = (f"{name} has spent {format_rupees(spent)} of its {period} cap of {format_rupees(cap)}. Calls "
                f"placed with it are refused once the cap is reached; it starts again {again}.")
    return {"event_type": "wallet.key_cap", "headline": headline, "text": text, "with_link": False,
            "data": {"key_id": k.id, "key_prefix": k.prefix, "period": period, "cap_paise": cap,
                     "spent_paise": spent, "level": level}}
