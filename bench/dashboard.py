"""Dashboard benchmark under AppTest on the embedded engine: every page renders in <= 1 s warm with
1,000 users and one user holding 100k ledger entries; the 100k-row CSV export grows peak memory by
<= 50 MB.

Seeding is direct and bulk (users, wallets, ledger, rollups written with the exact shapes
services/ledger/ writes, checked by `ledger.audit` = []), so it takes seconds, not the hours 100k
real postings would. Each page is rendered once cold, then timed over `REPEATS` warm reruns (median).
The export is measured with tracemalloc around `reports.export_csv` (what the Transactions download
calls) consuming all of the heavy user's rows; the page's own `"".join(...)` is measured beside it.
Last line: slowest_page_ms=X export_peak_mb=Y

    .venv/bin/python bench/dashboard.py [--users 1000] [--entries 100000] [--days 90] [--profile]
                                        [--data DIR]  (seed once into DIR, reuse it afterwards)
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services import clock, ledger, reports, schema  # noqa: E402
from services.ledger import rollups as ledger_rollups, wallets as ledger_wallets  # noqa: E402  (their shapes)
from services import db as dbmod  # noqa: E402
from services.calls import days as call_days  # noqa: E402

APP = str(ROOT / "app.py")
HEAVY = "heavy"
PASSWORD = "bench-password-1"
COOKIE_KEY = "bench-cookie-key-" + "x" * 40
RATE = 1000  # paise per minute, for the seeded calls
REPEATS = 3
PAGE_LIMIT_MS = 1000
EXPORT_LIMIT_MB = 50
BATCH = 5000

# (label, role, user, page script under app_pages/ without ".py", (widget key, value) to pick after the
# first render, or None)
PAGES = [
    ("wallet", "user", HEAVY, "wallet", None),
    ("transactions", "user", HEAVY, "transactions", None),
    # A rare category over a long history: the page walks entries until it has 25 that match.
    ("transactions: recharges", "user", HEAVY, "transactions", ("tx_cat", "recharge")),
    ("transactions: credits", "user", HEAVY, "transactions", ("tx_type", "Credits (money in)")),
    # Worst case: a category with no entries at all reads the whole per-call budget, then offers Older.
    ("transactions: refunds (none)", "user", HEAVY, "transactions", ("tx_cat", "refund")),
    ("calls", "user", HEAVY, "calls", None),
    ("calls: call history", "user", HEAVY, "calls", ("calls_view", "Call history")),
    # The history with filters: a status over a 30-day window, then a rare one (single calls only are
    # refused ones here: none), then a number's digits.
    ("calls: history, completed", "user", HEAVY, "calls", (("calls_view", "Call history"),
                                                             ("ch_status", "completed"))),
    ("calls: history, refused (none)", "user", HEAVY, "calls", (("calls_view", "Call history"),
                                                                  ("ch_status", "refused"))),
    ("calls: history, number 98765", "user", HEAVY, "calls", (("calls_view", "Call history"),
                                                                ("ch_number", "98765"))),
    ("insights (30 days)", "user", HEAVY, "insights", None),
    ("insights (90 days)", "user", HEAVY, "insights", ("ins_days", 90)),
    ("notifications", "user", HEAVY, "notifications", None),
    ("admin: overview", "admin", "admin", "admin/overview", None),
    ("admin: users", "admin", "admin", "admin/users", None),
    ("admin: credits & refunds", "admin", "admin", "admin/credits", None),
    ("admin: call rates", "admin", "admin", "admin/rates", None),
    ("admin: payments", "admin", "admin", "admin/payments", None),
    ("admin: ledger audit", "admin", "admin", "admin/audit", None),
    ("admin: audit log", "admin", "admin", "admin/audit_log", None),
    ("admin: audit log, credits", "admin", "admin", "admin/audit_log", ("al_kind", "credit")),
    ("admin: alerts", "admin", "admin", "admin/alerts", None),
    ("admin: customer documents", "admin", "admin", "admin/documents", ("adm_docs_user", HEAVY)),
    ("admin: business & GST", "admin", "admin", "admin/business", None),
    ("admin: auto-recharge", "admin", "admin", "admin/autorecharge", None),
    ("analytics (as analyst)", "analyst", "analyst", "analyst", None),
    ("analytics (as admin)", "admin", "admin", "analyst", None),
]


# -------------------------------------------------------------------------------------------- seeding

def open_fresh(folder: str | os.PathLike):
    """An embedded database in `folder` (also made the process's WALLET_DATA_DIR)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    os.environ["WALLET_DATA_DIR"] = str(folder)
    os.environ["MONGODB_URI"] = ""
    db = dbmod.open_db(uri="", name="wallet", path=str(Path(folder) / "wallet.sqlite"))
    schema.ensure_schema(db)
    return db


class _UserBuilder:
    """Entries for one user in time order, with the wallet doc and rollups the ledger would have left."""

    def __init__(self, uid: str, created_at: datetime):
        self.uid, self.n, self.balance = uid, 0, 0
        self.days: dict[str, dict] = {}
        self.created_at = created_at

    def entry(self, t: datetime, type_: str, category: str, amount: int, note: str = "",
              meta: dict | None = None) -> dict:
        self.n += 1
        self.balance += amount if type_ == ledger.CREDIT else -amount
        assert self.balance >= 0
        e = {"_id": ledger.entry_id(self.uid, self.n), "key": f"bench:{self.uid}:{self.n}", "user_id": self.uid,
             "n": self.n, "seq": self.n, "type": type_, "category": category, "amount": amount,
             "balance_after": self.balance, "created_at": t, "day": clock.day_of(t),
             "source": "bench" if category not in ledger.CALL_CATEGORIES else "call",
             "note": note, "claimed": False}
        if meta:
            e["meta"] = meta
        d = e["day"]
        self.days[d] = ledger_rollups.add_to_day({d: self.days.get(d) or {}}, e, self.balance)[d]
        return e

    def wallet_doc(self) -> dict:
        w = ledger_wallets.new_wallet_doc(self.uid)
        cutoff = clock.day_of(clock.now() - timedelta(days=ledger_rollups.WALLET_DAYS - 1))
        w.update(balance=self.balance, n=self.n, seq=self.n, created_at=self.created_at,
                 days={d: v for d, v in self.days.items() if d >= cutoff})
        for k in ("lots", "next_expiry"):  # entries without lots: a wallet from before them (its balance is lot 0)
            w.pop(k)
        return w

    def rollup_docs(self) -> list[dict]:
        cutoff = clock.day_of(clock.now() - timedelta(days=ledger_rollups.WALLET_DAYS - 1))
        return [{"_id": f"{self.uid}|{d}", "user_id": self.uid, "day": d, **v}
                for d, v in sorted(self.days.items()) if d < cutoff]


def _times(day_start: datetime, count: int, until: datetime) -> list[datetime]:
    """`count` increasing ms-precision times spread over [day_start + 1 min, min(day end, until))."""
    lo = day_start + timedelta(minutes=1)
    hi = min(day_start + timedelta(days=1) - timedelta(seconds=1), until)
    span_ms = max(int((hi - lo).total_seconds() * 1000), count)
    return [lo + timedelta(milliseconds=span_ms * i // count) for i in range(count)]


def _heavy_entries(b: _UserBuilder, entries: int, days: int, now: datetime, rnd: random.Random):
    """`entries` entries over `days` days ending now: calls and campaign calls, recharges when low."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    per_day = [entries // days + (1 if i < entries % days else 0) for i in range(days)]
    for back in range(days - 1, -1, -1):
        count = per_day[back]
        for t in _times(today - timedelta(days=back), count, now - timedelta(seconds=5)):
            if b.n + 1 > entries:
                return
            seconds = rnd.randint(15, 600)
            cost = -(-seconds * RATE // 60)
            if b.balance < cost or rnd.random() < 0.01:
                yield b.entry(t, "credit", "recharge", rnd.choice([50_000, 100_000, 500_000]),
                              note="Recharge (bench)")
                continue
            cat = "campaign" if rnd.random() < 0.3 else "call"
            yield b.entry(t, "debit", cat, cost, note=f"+9198{rnd.randint(10**7, 10**8 - 1)}",
                          meta={"seconds": seconds, "call_id": f"c{b.n}", "rate_paise": RATE})


def seed(db, *, users: int = 1000, entries: int = 100_000, days: int = 90, seed_: int = 7) -> dict:
    """`users` accounts (admin, analyst, the heavy user and customers with a little history each), the
    heavy user holding `entries` ledger entries over `days` days. Returns what was written."""
    import bcrypt

    rnd = random.Random(seed_)
    now = clock.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days)
    pw_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()  # once, shared
    accounts = [("admin", "Bench Admin", "admin"), ("analyst", "Bench Analyst", "analyst"),
                (HEAVY, "Heavy Caller", "user")]
    accounts += [(f"user{i:05d}", f"Customer {i}", "user") for i in range(max(0, users - len(accounts)))]
    db.users.insert_many([{"_id": u, "name": name, "email": f"{u}@example.com", "role": role,
                           "password_hash": pw_hash, "created_at": start} for u, name, role in accounts])

    counts = {"users": len(accounts), "ledger": 0, "rollups": 0}
    wallets, rollups, batch = [], [], []

    def flush(force: bool = False) -> None:
        nonlocal batch
        if batch and (force or len(batch) >= BATCH):
            db.ledger.insert_many(batch)
            counts["ledger"] += len(batch)
            batch = []

    for u, _, role in accounts:
        b = _UserBuilder(u, start)
        if u == HEAVY:
            for e in _heavy_entries(b, entries, days, now, rnd):
                batch.append(e)
                flush()
        elif role == "user":
            # A recharge and a call on some past day; every tenth customer also called today.
            back = rnd.randint(2, days - 1)
            t = today - timedelta(days=back) + timedelta(hours=9, minutes=rnd.randint(0, 59))
            batch.append(b.entry(t, "credit", "recharge", rnd.choice([10_000, 50_000, 100_000]), "Recharge"))
            batch.append(b.entry(t + timedelta(minutes=5), "debit", "call", 3_000, "+919800000000",
                                 {"seconds": 180, "call_id": f"c-{u}-1", "rate_paise": RATE}))
            if rnd.random() < 0.1:
                tt = min(today + timedelta(minutes=rnd.randint(1, 240)), now - timedelta(seconds=2))
                batch.append(b.entry(tt, "debit", "call", 1_000, "+919800000001",
                                     {"seconds": 60, "call_id": f"c-{u}-2", "rate_paise": RATE}))
            flush()
        wallets.append(b.wallet_doc())
        rollups.extend(b.rollup_docs())
    flush(force=True)
    counts["calls"] = _seed_calls(db)
    # Admin actions for the audit log: a manual or promotional credit every hour or so over the period.
    db.audit_log.insert_many([{"_id": f"bench-audit-{i}", "at": start + timedelta(minutes=61 * i), "actor": "admin",
                               "action": rnd.choice(["manual_credit", "promo_credit"]),
                               "target": f"user{rnd.randint(0, max(0, users - 4)):05d}", "amount": 10_000,
                               "reason": f"Bench goodwill {i}"}
                              for i in range(days * 24 * 60 // 61)])
    for i in range(0, len(wallets), BATCH):
        db.wallets.insert_many(wallets[i:i + BATCH])
    for i in range(0, len(rollups), BATCH):
        db.rollups.insert_many(rollups[i:i + BATCH])
    counts["rollups"] = len(rollups)
    counts["heavy_entries"] = next(w["n"] for w in wallets if w["_id"] == HEAVY)
    return counts


def _seed_calls(db) -> int:
    """A call record (as services/calls leaves a finished one) for each of the heavy user's call debits, so
    the call history pages a real 100k-entry history; campaign calls belong to ten campaigns."""
    camps = [f"bench-camp-{i}" for i in range(10)]
    db.campaigns.insert_many([{"_id": c, "user_id": HEAVY, "name": f"Bench campaign {i}", "kb_id": "kb_bench",
                               "status": "completed", "total": 0, "minutes_per_call": 10, "max_minutes": 10,
                               "created_at": clock.now() - timedelta(days=30)} for i, c in enumerate(camps)])
    n, batch, by_day = 0, [], {}
    for e in db.ledger.find({"user_id": HEAVY, "type": ledger.DEBIT}):
        m = e.get("meta") or {}
        seconds = int(m.get("seconds", 0))
        batch.append({"_id": m["call_id"], "user_id": HEAVY, "to_number": e["note"], "kb_id": "kb_bench",
                      "category": e["category"], "campaign_id": camps[e["n"] % 10] if e["category"] == "campaign"
                      else None, "status": "completed", "outcome": "answered", "rate_paise": RATE, "max_minutes": 10,
                      "started_at": e["created_at"] - timedelta(seconds=seconds), "ended_at": e["created_at"],
                      "billed_seconds": seconds, "cost_paise": int(e["amount"])})
        c = batch[-1]  # listed under its day, as services.calls.days.note does
        by_day.setdefault(clock.as_utc(c["started_at"]).date(), []).append(call_days.entry(c))
        if len(batch) >= BATCH:
            db.calls.insert_many(batch)
            n, batch = n + len(batch), []
    if batch:
        db.calls.insert_many(batch)
    db.call_days.insert_many([d for day, v in by_day.items() for d in call_days.chunks(HEAVY, day, v)])
    return n + len(batch)


# ---------------------------------------------------------------------------------------- rendering

def quiet() -> None:
    """Silence Streamlit's bare-mode warnings (AppTest runs outside a server)."""
    import logging

    import streamlit.logger
    streamlit.logger.set_log_level("error")
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)


def use_db(db) -> None:
    """Point the dashboard at `db` (one engine per file: the app must not open a second one)."""
    import app_ui
    app_ui.TEST_DB = db
    os.environ["WALLET_COOKIE_KEY"] = COOKIE_KEY
    for k in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_SANDBOX_URL"):
        os.environ.pop(k, None)
    app_ui.invalidate()


def signed_in_app(username: str, role: str, name: str | None = None):
    """An AppTest whose session is signed in the way the cookie restores it (what app.py checks:
    authentication_status True and a username that exists; roles/name/logout as the library sets them)."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP, default_timeout=300)
    at.secrets["cookie_key"] = COOKIE_KEY
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state["name"] = name or username
    at.session_state["roles"] = [role]
    at.session_state["logout"] = None
    return at


def _check(at, label: str) -> None:
    if at.exception:
        raise RuntimeError(f"{label}: the page raised: {[e.value for e in at.exception]}")
    errs = [str(e.value) for e in at.error]
    if errs:
        raise RuntimeError(f"{label}: the page shows an error: {errs}")


def open_page(username: str, role: str, page: str, pick=None, label: str = ""):
    """A signed-in app on `page` (and the section `pick` = (widget key, value)), rendered once."""
    at = signed_in_app(username, role).run()
    _check(at, label or page)
    at.switch_page(f"app_pages/{page}.py").run()
    _check(at, label or page)
    for key, value in ([] if pick is None else [pick] if isinstance(pick[0], str) else pick):
        widget = next(w for w in list(at.segmented_control) + list(at.selectbox) + list(at.text_input)
                      if w.key == key)
        (widget.input(value) if hasattr(widget, "input") else widget.set_value(value)).run()
        _check(at, label or page)
    return at


# CPU ms of each timed rerun (process time: what the page costs when the box is shared and busy).
TIME_CPU: dict[str, list[float]] = {}


def time_page(username: str, role: str, page: str, pick=None, label: str = "", repeats: int = REPEATS):
    """(cold_ms, [warm_ms...]): the first render, then `repeats` reruns of the same session."""
    t0 = time.perf_counter()
    at = open_page(username, role, page, pick, label)
    cold = (time.perf_counter() - t0) * 1000
    warm, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        warm.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        _check(at, label or page)
    TIME_CPU[label or page] = cpu
    return cold, warm, at


def profile_page(username: str, role: str, page: str, pick=None, top: int = 25) -> str:
    at = open_page(username, role, page, pick)
    prof = cProfile.Profile()
    prof.enable()
    at.run()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# ------------------------------------------------------------------------------------------- export

def export_peak(db, user_id: str = HEAVY, *, join: bool = False) -> tuple[float, int, int]:
    """(peak MB above the start, rows, bytes) of `reports.export_csv` over all of `user_id`'s entries.
    join=False streams each line to /dev/null; join=True builds one string as the page's _csv() does."""
    import gc

    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    rows = size = 0
    if join:
        text = "".join(reports.export_csv(db, user_id=user_id))
        size, rows = len(text.encode()), text.count("\r\n")
        del text
    else:
        with open(os.devnull, "w", encoding="utf-8") as sink:
            for line in reports.export_csv(db, user_id=user_id):
                sink.write(line)
                rows += 1
                size += len(line)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - base) / 1e6, rows - 1, size


# --------------------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--profile", action="store_true", help="profile every page over the limit")
    ap.add_argument("--data", help="keep the seeded database in this folder and reuse it on the next run")
    args = ap.parse_args()

    quiet()
    with tempfile.TemporaryDirectory(prefix="wallet-bench-dash-") as tmp:
        folder = args.data or tmp
        reuse = (Path(folder) / "wallet.sqlite").exists()
        db = open_fresh(folder)
        if reuse:  # seeded by an earlier --data run (same day: today's rollups live in the wallets)
            print(f"reusing the database in {folder}: {db.users.count_documents({}):,} users, "
                  f"{ledger.get_wallet(db, HEAVY).entries:,} entries for {HEAVY}", flush=True)
        else:
            t0 = time.perf_counter()
            counts = seed(db, users=args.users, entries=args.entries, days=args.days)
            print(f"seeded {counts['users']:,} users, {counts['ledger']:,} ledger entries, {counts['calls']:,} calls "
                  f"({counts['heavy_entries']:,} for {HEAVY}), {counts['rollups']:,} rollup days "
                  f"in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        bad = ledger.audit(db)
        assert bad == [], bad[:3]
        print(f"ledger.audit: clean ({time.perf_counter() - t0:.1f} s)", flush=True)

        use_db(db)
        slow = []
        slowest = 0.0
        for label, role, user, page, pick in PAGES:
            cold, warm, _ = time_page(user, role, page, pick, label)
            med = statistics.median(warm)
            slowest = max(slowest, med)
            flag = "" if med <= PAGE_LIMIT_MS else "   <-- over 1 s"
            print(f"page {label:29s} cold {cold:7.0f} ms   warm median {med:6.0f} ms "
                  f"({', '.join(f'{w:.0f}' for w in warm)}; cpu {statistics.median(TIME_CPU[label]):.0f})"
                  f"{flag}", flush=True)
            if med > PAGE_LIMIT_MS:
                slow.append((label, role, user, page, pick))

        t0 = time.perf_counter()
        n = sum(1 for _ in reports.export_csv(db, user_id=HEAVY)) - 1
        print(f"export_csv untraced: {n:,} rows in {time.perf_counter() - t0:.1f} s (what a download click "
              f"waits for)", flush=True)
        light = "user00001" if db.users.find_one({"_id": "user00001"}, {"_id": 1}) else "admin"
        t0 = time.perf_counter()
        n = sum(1 for _ in reports.export_csv(db, user_id=light)) - 1
        print(f"export_csv of a small customer ({light}, {n} rows) in this ledger: "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms", flush=True)
        t0 = time.perf_counter()
        peak, rows, size = export_peak(db)
        secs = time.perf_counter() - t0
        print(f"export_csv streamed: {rows:,} rows, {size / 1e6:.1f} MB of CSV, peak +{peak:.1f} MB "
              f"(tracemalloc, {secs:.1f} s under tracing)", flush=True)
        jpeak, jrows, jsize = export_peak(db, join=True)
        print(f"export as the Transactions page builds it (\"\".join, held for st.download_button): "
              f"{jrows:,} rows, peak +{jpeak:.1f} MB", flush=True)

        if args.profile:
            for label, role, user, page, pick in slow:
                print(f"\n--- profile of {label} (one warm rerun) ---")
                print(profile_page(user, role, page, pick))
        ok = slowest <= PAGE_LIMIT_MS and peak <= EXPORT_LIMIT_MB
        print(f"targets: pages <= {PAGE_LIMIT_MS} ms warm, export <= {EXPORT_LIMIT_MB} MB: "
              f"{'met' if ok else 'NOT met'}")
        print(f"slowest_page_ms={slowest:.0f} export_peak_mb={peak:.1f}")


if __name__ == "__main__":
    main()
