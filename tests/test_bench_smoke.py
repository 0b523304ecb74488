"""bench/dashboard.py at CI scale (20 users, 2,000 entries): its bulk seeding leaves a ledger that audits
clean and reads like the services' own writes, and every page it times renders without an exception.
No timing asserts: the full-scale run (`make bench`) is where the numbers are."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import app_ui
from services import db as dbmod, spending
from services import ledger, reports
from tests.support import seeding

ROOT = Path(__file__).resolve().parent.parent
USERS, ENTRIES, DAYS = 20, 2000, 30


@pytest.fixture(scope="module")
def bench():
    return seeding.bench()


@pytest.fixture(scope="module")
def seeded(bench, tmp_path_factory):
    """One seeded database for the module: the pages and the export only read it (seeding it again for each
    of the 24 tests cost ~5 s apiece)."""
    tmp = tmp_path_factory.mktemp("bench")
    with pytest.MonkeyPatch.context() as mp:
        # Recorded first so the context restores them: the bench sets these process-wide.
        mp.setenv("WALLET_DATA_DIR", str(tmp))
        mp.setenv("MONGODB_URI", "")
        mp.setenv("WALLET_COOKIE_KEY", bench.COOKIE_KEY)
        for k in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_SANDBOX_URL"):
            mp.delenv(k, raising=False)
        mp.setattr(app_ui, "TEST_DB", None)
        db = bench.open_fresh(tmp)
        counts = bench.seed(db, users=USERS, entries=ENTRIES, days=DAYS)
        bench.use_db(db)
        yield db, counts
        app_ui.invalidate()
        dbmod.client_of(db).close()


def test_seed_is_consistent_with_the_ledger(bench, seeded):
    db, counts = seeded
    assert counts["users"] == USERS and counts["heavy_entries"] == ENTRIES
    assert ledger.audit(db) == []
    w = ledger.get_wallet(db, bench.HEAVY)
    assert w.entries == ENTRIES and w.held == 0
    # The ledger's own readers agree with the seeded shape: newest page, point reads, rollups.
    page, cursor = ledger.entries(db, bench.HEAVY, limit=25)
    assert [e["n"] for e in page] == list(range(ENTRIES, ENTRIES - 25, -1)) and cursor == ENTRIES - 24  # exclusive
    assert page[0]["balance_after"] == w.balance
    last = reports.today()
    rows = spending.daily(db, bench.HEAVY, last - timedelta(days=DAYS - 1), last)
    assert sum(r["credit_count"] + r["debit_count"] for r in rows) == ENTRIES
    assert all(r["balance"] is not None for r in rows)  # an active day each: the charts have data


@pytest.mark.parametrize("label", [p[0] for p in seeding.bench().PAGES])
def test_every_benched_page_renders(bench, seeded, label):
    _, role, user, page, pick = next(p for p in bench.PAGES if p[0] == label)
    cold, warm, at = bench.time_page(user, role, page, pick, label, repeats=1)
    assert not at.exception and len(warm) == 1
    assert at.title and at.title[0].value.split()[-1] in ("Wallet", "Transactions", "Calls", "Insights",
                                                          "Notifications", "Admin", "Analytics")


def test_export_measures_every_row(bench, seeded):
    db, _ = seeded
    peak, rows, size = bench.export_peak(db)
    assert rows == ENTRIES and size > 0 and peak > 0
