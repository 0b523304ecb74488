"""UTC time, in one place so stored timestamps and day buckets agree everywhere."""
from datetime import datetime, timezone


def now() -> datetime:
    # Millisecond precision: that is what BSON keeps, so what we return equals what we read back.
    t = datetime.now(timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def as_utc(t: datetime | None) -> datetime | None:
    """The embedded engine returns naive datetimes (in UTC); pymongo may return aware ones."""
    if t is None:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def day_of(t: datetime) -> str:
    return as_utc(t).strftime("%Y-%m-%d")
