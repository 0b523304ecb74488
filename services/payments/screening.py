"""Screening what reaches the webhook before anything is stored: forged requests (counted in process
memory, never written: anyone can send them, as fast as they like) and signed payloads whose content
cannot be trusted for money (an amount of 2**63, a float, a number no database can store)."""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque

from services.errors import InvalidPayment

log = logging.getLogger("payments.webhooks")

# Money fields must be whole paise within this; any integer anywhere must fit JSON's safe range.
MAX_PAISE = 10 ** 13
MAX_INT = 2 ** 53
MAX_DEPTH = 32
# A client address sending more forged webhooks than this within the window should be slowed down.
FORGED_WINDOW_SECONDS = 60.0
FORGED_SLOW_AFTER = 5
_FORGED_CLIENTS_KEPT = 10_000


class ForgedWebhook(InvalidPayment):
    """The signature did not verify. Nothing was written; `client` sent `recent` of these within the
    window, and `slow_down` says whether the caller should slow that address."""

    def __init__(self, client: str | None, recent: int):
        super().__init__("Webhook signature does not match.")
        self.client, self.recent, self.slow_down = client, recent, recent > FORGED_SLOW_AFTER


_forged_lock = threading.Lock()
_forged = {"total": 0}
_forged_by: OrderedDict = OrderedDict()  # client -> deque of monotonic times, bounded


def note_forged(client: str | None) -> int:
    now, key = time.monotonic(), client or "?"
    with _forged_lock:
        _forged["total"] += 1
        times = _forged_by.pop(key, None) or deque()
        while times and times[0] < now - FORGED_WINDOW_SECONDS:
            times.popleft()
        times.append(now)
        _forged_by[key] = times
        while len(_forged_by) > _FORGED_CLIENTS_KEPT:
            _forged_by.popitem(last=False)
        recent = len(times)
    log.warning("forged webhook from %s (%d in the last %.0f s)", key, recent, FORGED_WINDOW_SECONDS)
    return recent


def forged_count(client: str | None = None) -> int:
    """Forged webhooks seen by this process: all of them, or one client's within the last window."""
    with _forged_lock:
        if client is None:
            return _forged["total"]
        times = _forged_by.get(client) or ()
        return sum(1 for t in times if t >= time.monotonic() - FORGED_WINDOW_SECONDS)


def insane(value, key: str = "", depth: int = 0) -> str | None:
    """Why a signed payload cannot be trusted for money, or None: money fields must be whole paise within
    MAX_PAISE (null allowed; merchant `notes` are free text), and no integer anywhere may exceed MAX_INT
    (it could not even be stored)."""
    if depth > MAX_DEPTH:
        return "nested too deeply"
    if isinstance(value, dict):
        return _first(insane(v, "" if key == "notes" else str(k), depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return _first(insane(v, "", depth + 1) for v in value)
    return _bad_money(key, value) or _bad_int(key, value)


def _first(reasons) -> str | None:
    return next((r for r in reasons if r), None)


# Razorpay's flags that merely end like an amount (a QR code's `fixed_amount` is true or false).
_NOT_MONEY = ("fixed_amount",)


def _bad_money(key: str, value) -> str | None:
    money = (key in ("amount", "fee", "tax") or key.startswith("amount_") or key.endswith("_amount")) and \
        key not in _NOT_MONEY
    if not money or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PAISE:
        return f"{key} is not a sane amount ({str(value)[:30]})"
    return None


def _bad_int(key: str, value) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        return f"{key or 'a number'} is out of range"
    return None
