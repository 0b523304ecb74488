"""A customer's call history: filtered by dates, status, campaign and number, newest first, a page at a
time with a cursor (never the whole collection at once), and every match for a CSV.

A page walks the user's days back from the cursor (services.calls.days: each day lists its calls with
their number and campaign), filters on what the day lists, and reads only the calls that pass by `_id`.
A page reads at most `budget` documents (days and calls): a rare status over a long history comes back
short, with a cursor to look further. The CSV, which wants every match, reads windows of time of the
calls collection itself, widening fourfold.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from services import clock, ids, users
from services.calls import days, records
from services.checks import whole_number
from services.errors import InvalidInput

SINGLE = "single"  # the campaign filter's value for calls placed one by one, outside any campaign
STATUSES = (records.COMPLETED, records.REFUSED, records.FAILED, records.EXPIRED, records.ACTIVE, records.STARTING,
            records.ENDING, records.EXPIRING)
_ON_THE_LINE = (records.STARTING, records.ACTIVE, records.ENDING)
_FIRST_WINDOW = timedelta(hours=1)
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Filters:
    start: datetime | None = None   # started at or after (UTC)
    end: datetime | None = None     # started before
    status: str | None = None
    campaign_id: str | None = None  # a campaign's id, or SINGLE
    number: str | None = None       # digits the number contains (3 or more), or a whole number

    def query(self) -> dict:
        """The part of the filters the database can apply itself: a rare status, campaign or whole number
        then costs the calls that match, not every call of the window (the rest is checked by `wanted`)."""
        q: dict = {}
        if self.status in _ON_THE_LINE:  # stored "starting": its hold says where it stands (records.live)
            q["status"] = {"$in": [records.STARTING, self.status]}
        elif self.status is not None:
            q["status"] = self.status
        if self.campaign_id is not None:
            q["campaign_id"] = None if self.campaign_id == SINGLE else self.campaign_id
        if self.number is not None and self.number.startswith("+"):
            q["to_number"] = self.number
        return q

    def listed(self, e: list) -> bool:
        """Whether a day's entry [started_ms, call_id, to_number, campaign_id] can match (all but status)."""
        if self.start is not None and e[0] < days.ms(self.start):
            return False
        if self.end is not None and e[0] >= days.ms(self.end):
            return False
        if self.campaign_id == SINGLE and e[3]:
            return False
        if self.campaign_id not in (None, SINGLE) and e[3] != self.campaign_id:
            return False
        return self.number is None or self.number in (e[2] or "")

    def wanted(self, doc: dict) -> bool:
        if self.status is not None and doc.get("status") != self.status:
            return False
        if self.campaign_id == SINGLE and doc.get("campaign_id"):
            return False
        if self.campaign_id not in (None, SINGLE) and doc.get("campaign_id") != self.campaign_id:
            return False
        return self.number is None or self.number in doc.get("to_number", "")


def filters(*, start=None, end=None, status=None, campaign_id=None, number=None) -> Filters:
    """Checked filters (InvalidInput for a bad one). `number`: a whole number (`98765 43210`, taken as
    +91 like everywhere) or at least 3 of its digits; empty means any."""
    for t in (start, end):
        if t is not None and not isinstance(t, datetime):
            raise InvalidInput("Dates must be dates.")
    if start is not None and end is not None and start >= end:
        raise InvalidInput("The start date is after the end date.")
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"Status must be one of {', '.join(STATUSES)}.")
    if campaign_id is not None and (not isinstance(campaign_id, str) or not 1 <= len(campaign_id) <= 100):
        raise InvalidInput("Unknown campaign.")
    return Filters(clock.as_utc(start), clock.as_utc(end), status, campaign_id, _number(number))


def _number(raw) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return records.normalize_number(raw)
    except InvalidInput:
        pass
    digits = "".join(_DIGITS.findall(raw)) if isinstance(raw, str) else ""
    if len(digits) < 3 or not isinstance(raw, str) or len(raw) > 40:
        raise InvalidInput("Search a number by at least 3 of its digits, or give the whole number.")
    return digits


def history(db, user_id: str, f: Filters = Filters(), *, before: str | None = None, limit: int = 50,
            budget: int = 400) -> tuple[list[dict], str | None]:
    """One page of the user's calls matching `f`, newest first, and the cursor of the next page (None at
    the end). Reads at most `budget` documents: a page may come back short, with a cursor to continue."""
    ids.check_user_id(user_id)
    whole_number(limit, 1, 500, what="Page size")
    whole_number(budget, 1, 100_000, what="Budget")
    top = _cursor(before)
    span = _days_to_walk(db, user_id, f, top)
    if span is None:
        return [], None
    day, floor = span
    resolve = records.Resolver(db)
    page: list[dict] = []
    reads = 0
    while day >= floor:
        reads += 1
        for e in _listed(db, user_id, day, f, top):
            doc = db.calls.find_one({"_id": e[1]})
            reads += 1
            if days.matches(doc, e, user_id) and f.wanted(doc := resolve(doc)):
                if len(page) == limit:  # one more exists: the page is full and there is a next one
                    return page, _cursor_of(page[-1])
                page.append(records.public(doc))
            if reads >= budget:
                return page, _cursor_at(e[0], e[1])
        if reads >= budget and day > floor:  # the next page starts below this day
            return page, _cursor_at(days.ms(datetime.combine(day, time.min, timezone.utc)), "")
        day -= timedelta(days=1)
    return page, None


def _days_to_walk(db, user_id: str, f: Filters, top) -> tuple[date, date] | None:
    """(the newest day, the oldest day) the walk reads, or None when the user never placed a call."""
    first = days.first_day(db, user_id)
    if first is None:
        return None
    high = clock.now() if f.end is None else min(clock.now(), f.end)
    floor = max(first, f.start.date()) if f.start is not None else first
    return clock.as_utc(top[0] if top else high).date(), floor


def _listed(db, user_id: str, day: date, f: Filters, top):
    """The day's entries below the cursor that pass the filters a day's list can answer, newest first."""
    below = (days.ms(top[0]), top[1]) if top is not None else None
    for e in days.day_entries(db, user_id, day):
        if (below is None or (e[0], e[1]) < below) and f.listed(e):
            yield e


def iter_history(db, user_id: str, f: Filters = Filters()):
    """Every call of the user matching `f`, newest first (for a CSV), reading a window at a time."""
    ids.check_user_id(user_id)
    resolve = records.Resolver(db)
    for doc in _walk(db, user_id, f):
        if f.wanted(doc := resolve(doc)):
            yield records.public(doc)


def iter_all(db, start: datetime, end: datetime, *, window: timedelta = timedelta(days=1)):
    """Every customer's calls started in [start, end), oldest first (the analyst's export): one window of
    time per query (a query other than by `_id` reads the whole collection on the embedded engine, so a
    window costs one pass; memory holds one window's calls)."""
    low, end = clock.as_utc(start), clock.as_utc(end)
    resolve = records.Resolver(db)
    while low < end:
        high = min(low + window, end)
        docs = list(db.calls.find({"started_at": {"$gte": low, "$lt": high}}))
        for d in docs:
            d["started_at"] = clock.as_utc(d.get("started_at"))
        docs.sort(key=lambda d: (d["started_at"], d["_id"]))
        for d in docs:
            yield records.public(resolve(d))
        low = high


def _walk(db, user_id: str, f: Filters):
    """The user's calls in [f.start, f.end), newest first, with the filters the database can apply."""
    high = clock.now() + timedelta(seconds=1)
    if f.end is not None:
        high = min(high, f.end)
    floor = _floor(db, user_id, f)
    span = _FIRST_WINDOW
    while high > floor:
        low = max(high - span, floor)
        docs = list(db.calls.find({"user_id": user_id, "started_at": {"$gte": low, "$lt": high}, **f.query()}))
        for d in docs:
            d["started_at"] = clock.as_utc(d.get("started_at"))
        docs.sort(key=lambda d: (d["started_at"], d["_id"]), reverse=True)
        yield from docs
        high, span = low, span * 4


def _floor(db, user_id: str, f: Filters) -> datetime:
    """How far back to look: the range's start, else the account's opening (no call is older)."""
    if f.start is not None:
        return f.start
    created = users.created_at(db, user_id)
    return created - timedelta(days=1) if created else clock.now() - timedelta(days=3660)


def _cursor_of(doc: dict) -> str:
    t = clock.as_utc(doc["started_at"])
    return f"{t.isoformat()}|{doc.get('_id') or doc['call_id']}"


def _cursor_at(started_ms: int, call_id: str) -> str:
    """Below (started_ms, call_id); an empty call id means below that millisecond."""
    return f"{days.from_ms(started_ms).isoformat()}|{call_id}"


def _cursor(before: str | None) -> tuple[datetime, str] | None:
    if before is None:
        return None
    try:
        t, cid = before.split("|", 1)
        return clock.as_utc(datetime.fromisoformat(t)), (ids.check_call_id(cid) if cid else "")
    except (ValueError, AttributeError, InvalidInput):
        raise InvalidInput("Malformed page cursor.") from None
