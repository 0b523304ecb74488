"""Indian time everywhere: a day runs midnight to midnight IST (UTC+05:30), storage stays UTC.

Each test pins services.clock.now (the one clock everything asks) at a boundary: 23:59 and 00:01 IST,
and the night a month begins in India while it is still the last day in UTC.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from services import accounts, clock, ledger, reports, spending
from services.errors import SpendCapReached
from tests.support.api import PASSWORD, bearer
from tests.support.dashboard import signed_in

IST = ZoneInfo("Asia/Kolkata")


def ist(y, m, d, hh, mm, ss=0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=IST).astimezone(timezone.utc)


class Clock:
    """services.clock.now pinned to an instant the test moves (always forward: entries are in time order)."""

    def __init__(self, monkeypatch, t: datetime):
        self.t = t
        monkeypatch.setattr(clock, "now", lambda: self.t)

    def at(self, t: datetime) -> "Clock":
        assert t >= self.t
        self.t = t
        return self


@pytest.fixture
def pin(monkeypatch):
    return lambda t: Clock(monkeypatch, t)


def credit(db, uid, amount, key):
    return ledger.post(db, uid, key=key, type="credit", category="recharge", amount=amount)


def debit(db, uid, amount, key):
    return ledger.post(db, uid, key=key, type="debit", category="call", amount=amount, meta={"seconds": 60})


# ------------------------------------------------------------------------------------------- clock

def test_the_clock_cuts_days_and_months_at_midnight_ist():
    assert clock.zone_name() == "Asia/Kolkata" and clock.note() == "Times in IST (UTC+05:30)"
    assert clock.day_of(ist(2026, 12, 1, 23, 59)) == "2026-12-01"
    assert clock.day_of(ist(2026, 12, 2, 0, 1)) == "2026-12-02"
    # 00:01 IST on 2 Dec is still 1 Dec in UTC (18:31): the day is India's
    assert ist(2026, 12, 2, 0, 1).date() == date(2026, 12, 1)
    assert clock.start_of_day(date(2026, 12, 2)) == datetime(2026, 12, 1, 18, 30, tzinfo=timezone.utc)
    assert clock.day_span(date(2026, 12, 1), date(2026, 12, 1)) == (
        datetime(2026, 11, 30, 18, 30, tzinfo=timezone.utc), datetime(2026, 12, 1, 18, 30, tzinfo=timezone.utc))
    # December starts in India on 30 November, UTC
    assert clock.month_span(2026, 12) == (datetime(2026, 11, 30, 18, 30, tzinfo=timezone.utc),
                                          datetime(2026, 12, 31, 18, 30, tzinfo=timezone.utc))
    assert clock.month_span(2027, 1)[0] == clock.month_span(2026, 12)[1]
    assert clock.iso(datetime(2026, 12, 1, 3, 43, 7, 123000, tzinfo=timezone.utc)) == "2026-12-01T09:13:07+05:30"
    assert clock.fmt(datetime(2026, 11, 30, 22, 13, tzinfo=timezone.utc)) == "01 Dec 2026, 03:43"
    assert clock.fmt(None) == ""


def test_today_follows_the_pinned_clock(pin):
    pin(ist(2026, 12, 2, 0, 1))
    assert clock.today() == reports.today() == date(2026, 12, 2)


def test_an_unknown_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="WALLET_BUSINESS_TZ='Mars/Olympus'"):
        clock.load_zone("Mars/Olympus")


# -------------------------------------------------------------------------- rollups, charts, CSV

def test_2359_and_0001_ist_land_in_their_business_days(db, pin):
    c = pin(ist(2026, 12, 1, 10, 0))
    credit(db, "u1", 100_000, "r1")
    c.at(ist(2026, 12, 1, 23, 59))
    debit(db, "u1", 1_000, "late")           # 18:29 UTC on 1 Dec
    c.at(ist(2026, 12, 2, 0, 1))
    debit(db, "u1", 2_000, "early")          # 18:31 UTC, still 1 Dec in UTC
    rows = {r["day"]: r for r in spending.daily(db, "u1", date(2026, 12, 1), date(2026, 12, 2))}
    assert (rows["2026-12-01"]["debits"], rows["2026-12-01"]["debit_count"]) == (1_000, 1)
    assert (rows["2026-12-02"]["debits"], rows["2026-12-02"]["debit_count"]) == (2_000, 1)
    assert rows["2026-12-01"]["balance"] == 99_000 and rows["2026-12-02"]["balance"] == 97_000
    # the charts' buckets: the same days across users, and the balance line
    trends = {r["day"]: r for r in reports.spending_trends(db, date(2026, 12, 1), date(2026, 12, 2))}
    assert trends["2026-12-01"]["debits"] == 1_000 and trends["2026-12-02"]["debits"] == 2_000
    assert [b["balance"] for b in spending.balance_series(db, "u1", date(2026, 12, 1), date(2026, 12, 2))] == \
        [99_000, 97_000]
    # a day later (the 1st is archived out of the wallet document) the counts stay where they were
    c.at(ist(2026, 12, 4, 9, 0))
    debit(db, "u1", 10, "later")
    assert ledger.recover(db)["days_archived"] == 0
    rows = {r["day"]: r for r in spending.daily(db, "u1", date(2026, 12, 1), date(2026, 12, 4))}
    assert [rows[d]["debits"] for d in sorted(rows)] == [1_000, 2_000, 0, 10]
    assert ledger.audit(db) == []


def test_csv_times_carry_the_offset_and_a_date_filter_is_a_business_day(edb, pin):
    c = pin(ist(2026, 12, 1, 10, 0))
    credit(edb, "u1", 100_000, "r1")
    c.at(ist(2026, 12, 1, 23, 59, 30))
    debit(edb, "u1", 1_000, "late")
    c.at(ist(2026, 12, 2, 0, 1))
    debit(edb, "u1", 2_000, "early")
    start, end = reports.day_range(date(2026, 12, 1), date(2026, 12, 1))
    rows = list(csv.DictReader(io.StringIO("".join(reports.export_csv(edb, user_id="u1", start=start, end=end)))))
    assert [r["reference"] for r in rows] == ["r1", "late"]
    assert rows[1]["created_at"] == "2026-12-01T23:59:30+05:30"
    start, end = reports.day_range(date(2026, 12, 2), date(2026, 12, 2))
    page, _ = ledger.entries(edb, "u1", start=start, end=end)
    assert [e["key"] for e in page] == ["early"]


def test_the_daily_cap_resets_at_midnight_ist(edb, pin):
    c = pin(ist(2026, 12, 1, 20, 0))
    credit(edb, "u1", 100_000, "r1")
    c.at(ist(2026, 12, 1, 23, 59))
    debit(edb, "u1", 4_000, "late")
    with pytest.raises(SpendCapReached) as refused:
        ledger.hold(edb, "u1", "h1", 2_000, daily_cap=5_000)
    assert refused.value.committed == 4_000
    c.at(ist(2026, 12, 2, 0, 1))           # 18:31 UTC: a UTC cap would still count the 4,000
    assert ledger.hold(edb, "u1", "h2", 2_000, daily_cap=5_000) == 2_000
    assert ledger.get_wallet(edb, "u1").today_debits == 0


def test_todays_transactions_and_admin_today_start_at_midnight_ist(edb, pin):
    c = pin(ist(2026, 12, 1, 23, 59))
    credit(edb, "u1", 500, "yesterday")
    c.at(ist(2026, 12, 2, 0, 1))
    credit(edb, "u1", 700, "today")
    assert [e["key"] for e in reports.today_transactions(edb)] == ["today"]
    s = reports.admin_summary(edb)
    assert (s["today_credits_paise"], s["today_count"]) == (700, 1)


def test_a_month_that_starts_on_the_last_utc_day(edb, pin):
    """00:30 IST on 1 December is 19:00 UTC on 30 November: it belongs to December."""
    c = pin(ist(2026, 11, 30, 23, 59))
    credit(edb, "u1", 1_000, "nov")
    c.at(datetime(2026, 11, 30, 19, 0, tzinfo=timezone.utc))
    credit(edb, "u1", 2_000, "dec")
    start, end = clock.month_span(2026, 12)
    assert [e["key"] for e in ledger.iter_entries(edb, user_id="u1", start=start, end=end)] == ["dec"]
    rows = {r["day"]: r["credits"] for r in spending.daily(edb, "u1", date(2026, 11, 30), date(2026, 12, 1))}
    assert rows == {"2026-11-30": 1_000, "2026-12-01": 2_000}


# ------------------------------------------------------------------------------------------- API

def test_api_dates_are_business_days(edb, pin):
    accounts.create_user(edb, "priya", PASSWORD, "Priya", "p@example.com")
    c = pin(ist(2026, 12, 1, 23, 59))
    credit(edb, "priya", 500, "late")
    c.at(ist(2026, 12, 2, 0, 1))
    credit(edb, "priya", 700, "early")
    with TestClient(create_app(db=edb)) as client:
        h = bearer(client.post("/api/auth/login", json={"username": "priya", "password": PASSWORD}).json()["token"])

        def keys(q):
            r = client.get(f"/api/transactions?{q}", headers=h)
            assert r.status_code == 200, r.text
            return [t["source"] or t["id"] for t in r.json()["transactions"]]
        assert len(keys("from=2026-12-01&to=2026-12-01")) == 1
        assert len(keys("from=2026-12-02&to=2026-12-02")) == 1
        # a datetime without an offset is read in IST; with one, as written
        assert len(keys("from=2026-12-02T00:00:00")) == 1
        assert len(keys("from=2026-12-01T18:30:00Z")) == 1
        csv_text = client.get("/api/transactions/download?from=2026-12-01&to=2026-12-01", headers=h).text
        assert "2026-12-01T23:59:00+05:30" in csv_text and "2026-12-02T00:01" not in csv_text


# ------------------------------------------------------------------------------- the migration

def _utc_days(monkeypatch):
    """Rollups as they were counted before business days: in UTC."""
    monkeypatch.setenv("WALLET_BUSINESS_TZ", "UTC")
    clock.refresh()


def test_rollups_counted_in_utc_are_rebuilt_by_business_day_once(db, pin, monkeypatch):
    _utc_days(monkeypatch)
    c = pin(ist(2026, 11, 28, 10, 0))
    credit(db, "u1", 100_000, "r1")
    c.at(ist(2026, 11, 29, 3, 43))            # 22:13 UTC on the 28th: the UTC rollup says the 28th
    debit(db, "u1", 1_000, "early-29th")
    c.at(ist(2026, 12, 2, 0, 1))              # 1 Dec in UTC, 2 Dec in India
    debit(db, "u1", 2_000, "early-2nd")
    credit(db, "u2", 5_000, "other")
    assert ledger.rebuild_rollups(db)["rebuilt"] is True     # first start: counted in UTC, marked UTC
    utc = {r["day"]: r["debits"] for r in spending.daily(db, "u1", date(2026, 11, 28), date(2026, 12, 2))
           if r["debits"]}
    assert utc == {"2026-11-28": 1_000, "2026-12-01": 2_000}

    monkeypatch.setenv("WALLET_BUSINESS_TZ", "Asia/Kolkata")
    clock.refresh()
    out = ledger.rebuild_rollups(db)
    assert out["rebuilt"] is True and out["tz"] == "Asia/Kolkata" and out["wallets"] == 2
    rows = {r["day"]: r for r in spending.daily(db, "u1", date(2026, 11, 28), date(2026, 12, 2))}
    assert {d: r["debits"] for d, r in rows.items() if r["debits"]} == {"2026-11-29": 1_000, "2026-12-02": 2_000}
    assert rows["2026-11-28"]["credits"] == 100_000 and rows["2026-11-28"]["debits"] == 0
    assert rows["2026-11-29"]["balance"] == 99_000 and rows["2026-12-02"]["balance"] == 97_000
    assert rows["2026-12-01"]["balance"] is None      # the UTC-only day is gone
    assert ledger.get_wallet(db, "u1").today_debits == 2_000
    assert db.rollups.find_one({"_id": "u1|2026-11-28"}).get("debits", 0) == 0
    # idempotent: a second start changes nothing
    before = sorted((d["_id"], d.get("debits", 0)) for d in db.rollups.find({}))
    assert ledger.rebuild_rollups(db) == {"rebuilt": False, "tz": "Asia/Kolkata"}
    assert ledger.rebuild_rollups(db, force=True)["rebuilt"] is True
    assert sorted((d["_id"], d.get("debits", 0)) for d in db.rollups.find({})) == before
    # and new traffic keeps counting by business day
    c.at(ist(2026, 12, 2, 23, 59))
    debit(db, "u1", 10, "late-2nd")
    assert ledger.get_wallet(db, "u1").today_debits == 2_010
    assert ledger.audit(db) == []


def test_the_rebuild_counts_entries_a_crash_left_pending(edb, pin):
    """A crash after the wallet write (step 2): the entry rides only in `pending`; the rebuild records it
    first and counts it."""
    pin(ist(2026, 12, 2, 0, 1))
    e = credit(edb, "u1", 1_000, "r1")
    raw = edb.ledger.find_one({"_id": e["_id"]})
    edb.ledger.delete_one({"_id": e["_id"]})
    edb.wallets.update_one({"_id": "u1"}, {"$set": {"pending": [raw], "days": {}}})
    assert ledger.rebuild_rollups(edb, force=True)["rebuilt"]
    assert ledger.get_entry(edb, e["_id"])["amount"] == 1_000
    assert spending.daily(edb, "u1", date(2026, 12, 2), date(2026, 12, 2))[0]["credits"] == 1_000
    assert ledger.audit(edb) == []


@pytest.fixture(autouse=True)
def _forget_zone():
    yield
    clock.refresh()  # the next test reads the zone from its own environment


def test_the_transactions_page_shows_ist(adb, pin):
    c = pin(ist(2026, 12, 1, 23, 59))
    credit(adb, "asha", 500, "late")
    c.at(ist(2026, 12, 2, 0, 1))
    at = signed_in("asha", "user", "transactions")
    assert sum("Times in IST (UTC+05:30)" in x.value for x in at.caption) == 1
    assert list(at.dataframe[0].value["When"]) == ["01 Dec 2026, 23:59"]
