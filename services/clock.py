"""Time, in one place. Storage is UTC; a day, a month and every time a person reads are in the business
time zone (`WALLET_BUSINESS_TZ`, `Asia/Kolkata` by default: IST, UTC+05:30, no daylight saving).

- `now()`: THE current instant (aware UTC, millisecond precision). Everything asks it, so a test that
  replaces `clock.now` moves every day boundary, cap and statement with it.
- Business days: `day_of(t)` / `date_of(t)` (the business day of an instant), `today()`,
  `start_of_day(d)`, `day_span(first, last)`, `month_span(year, month)`: the UTC instants where business
  days and months begin, for queries on stored times.
- What a person reads: `local(t)`, `fmt(t)`, `iso(t)` (ISO-8601 with the offset, for CSV) and `note()`
  ("Times in IST (UTC+05:30)"), said once per screen or document.

The zone is read from the configuration once per process (rollups are counted in it: a change needs a
restart, which rebuilds them: services.ledger.rollups.rebuild).
"""
from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta, timezone
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services import config

_zone_lock = threading.Lock()
_zone: ZoneInfo | None = None


def now() -> datetime:
    # Millisecond precision: that is what BSON keeps, so what we return equals what we read back.
    t = datetime.now(timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


@overload
def as_utc(t: datetime) -> datetime: ...
@overload
def as_utc(t: datetime | None) -> datetime | None: ...


def as_utc(t: datetime | None) -> datetime | None:
    """The embedded engine returns naive datetimes (in UTC); pymongo may return aware ones."""
    if t is None:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


# ------------------------------------------------------------------------------------------ the zone

def zone() -> ZoneInfo:
    """The business time zone (read once per process; `refresh()` reads the configuration again)."""
    global _zone
    if _zone is None:
        with _zone_lock:
            if _zone is None:
                _zone = load_zone(config.get().business_tz)
    return _zone


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"WALLET_BUSINESS_TZ={name!r} is not a known time zone (e.g. Asia/Kolkata); the "
                         "tzdata package provides the names") from None


def refresh() -> None:
    """Forget the zone read from the configuration (tests that change WALLET_BUSINESS_TZ)."""
    global _zone
    with _zone_lock:
        _zone = None


def zone_name() -> str:
    return zone().key


def abbr() -> str:
    """The zone's short name now (`IST`)."""
    return local(now()).tzname() or zone_name()


def note() -> str:
    """How a screen or a document says which zone its times are in: `Times in IST (UTC+05:30)`."""
    off = local(now()).strftime("%z")
    return f"Times in {abbr()} (UTC{off[:3]}:{off[3:]})"


# ------------------------------------------------------------------------------------ business days

def local(t: datetime) -> datetime:
    """A stored instant as a person in the business zone reads it."""
    return as_utc(t).astimezone(zone())


def date_of(t: datetime) -> date:
    """The business day an instant falls in."""
    return local(t).date()


def day_of(t: datetime) -> str:
    """The business day of an instant, as the ISO text rollups are keyed by (`2026-12-01`)."""
    return date_of(t).isoformat()


def today() -> date:
    return date_of(now())


def at_local(d: date, t: time | None = None) -> datetime:
    """The UTC instant of a wall-clock date and time in the business zone (what a person picks)."""
    return datetime.combine(d, t or time(), tzinfo=zone()).astimezone(timezone.utc)


def start_of_day(d: date) -> datetime:
    """The UTC instant at which business day `d` begins (midnight in the business zone)."""
    return datetime.combine(d, time(), tzinfo=zone()).astimezone(timezone.utc)


def day_span(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in the business zone, as UTC instants."""
    return start_of_day(first), start_of_day(last + timedelta(days=1))


def month_span(year: int, month: int) -> tuple[datetime, datetime]:
    """[the 1st 00:00, the next month's 1st 00:00) in the business zone, as UTC instants."""
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return start_of_day(date(year, month, 1)), start_of_day(nxt)


# ---------------------------------------------------------------------------------- what people read

def fmt(t: datetime | None, pattern: str = "%d %b %Y, %H:%M") -> str:
    """A stored instant in the business zone, for a page or a document ("" for none)."""
    return "" if t is None else local(t).strftime(pattern)


def iso(t: datetime) -> str:
    """ISO-8601 with the zone's offset, to the second, for CSV: `2026-12-01T09:13:07+05:30`."""
    return local(t).isoformat(timespec="seconds")
