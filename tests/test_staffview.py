"""services.staffview: the staff views' totals and lists agree exactly, to the paisa, with a full
recomputation from the ledger (balances from the wallets, whose audit against their entries is clean;
spending and day totals from the entries) after:
- a run of the ledger's races: threads racing one wallet dry and spread over many, processes racing a
  wallet dry, a client SIGKILLed at random points of its stream (recovered after each), while the worker
  keeping the views is SIGKILLed over and over at random points of its passes;
- days passing (rollups archived out of the wallets, windows of spending sliding), with passes cut short
  after a batch is committed and before it is spread;
- a build from scratch (backfill) of a database with history.
Lists: top and low balances (with the count), top spenders over 1, 7 and 30 days, today's latest entries,
a page of users by what they can spend.
"""
from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest

from services import accounts, clock, grants, ledger, reports, settings, spending, staffview, users, wallet
from services.errors import Conflict, InsufficientBalance
from services.staffview import batches
from tests.support import processes
from tests.support.children import ledger as ledger_children, oplog, staffview as keeper
from tests.support.targets import make_target

CUSTOMERS = [f"c{i:02d}" for i in range(12)]


def _people(db) -> None:
    for u in CUSTOMERS:
        accounts.create_user(db, u, "password-xyz-1", f"Customer {u}", f"{u}@example.com", "user")
    accounts.create_user(db, "boss", "password-xyz-1", "Boss", "boss@example.com", "admin")
    accounts.create_user(db, "ana", "password-xyz-1", "Ana", "ana@example.com", "analyst")


def _op(db, uid: str, key: str, rnd: random.Random) -> None:
    """One random operation of the kinds the ledger's races make (credit, debit, hold then settle or release)."""
    kind, amount = rnd.choice(["credit", "debit", "debit", "hold"]), rnd.randint(1, 4_000)
    category = rnd.choice(["recharge", "manual_credit", "promo_credit"]) if kind == "credit" else \
        rnd.choice(["call", "campaign"])
    try:
        if kind == "credit":
            lot = {"campaign": rnd.choice(["", "diwali", "launch-2"])} if category != "recharge" else None
            ledger.post(db, uid, key=key, type="credit", category=category, amount=amount, lot=lot)
        elif kind == "debit":
            ledger.post(db, uid, key=key, type="debit", category=category, amount=amount,
                        meta={"seconds": amount % 300})
        else:
            held = ledger.hold(db, uid, key, amount, min_amount=1)
            if amount % 4 == 0:
                return  # left open: a call still running
            if amount % 3 == 0:
                ledger.release(db, uid, key)
            else:
                ledger.settle(db, uid, key, held // 2, key=f"settle:{key}", meta={"seconds": 45})
    except (InsufficientBalance, Conflict):
        pass


# ------------------------------------------------------------------------------------ recomputation

def recomputed(db) -> dict:
    """Everything the views show, computed again from the wallets and the ledger's entries."""
    assert ledger.audit(db) == []  # every wallet agrees with its entries (I1)
    staff = users.staff(db)
    uids = {e["user_id"] for e in ledger.iter_entries(db)} | set(CUSTOMERS) | set(staff)
    wallets = {u: ledger.get_wallet(db, u) for u in uids}
    days: dict[str, dict] = {}
    spent: dict[tuple[str, str], int] = {}
    for e in ledger.iter_entries(db):
        d = days.setdefault(clock.day_of(e["created_at"]), {"credits": 0, "debits": 0, "credit_count": 0,
                                                             "debit_count": 0, "calls": 0, "call_seconds": 0,
                                                             "cat": {}, "users": set()})
        side = "credits" if e["type"] == ledger.CREDIT else "debits"
        d[side] += e["amount"]
        d[f"{e['type']}_count"] += 1
        d["cat"][e["category"]] = d["cat"].get(e["category"], 0) + e["amount"]
        if e["category"] in ledger.CALL_CATEGORIES:
            d["calls"] += 1
            d["call_seconds"] += int((e.get("meta") or {}).get("seconds", 0))
        d["users"].add(e["user_id"])
        if spending.is_usage(e["category"]):  # top spenders rank usage only
            k = (e["user_id"], clock.day_of(e["created_at"]))
            spent[k] = spent.get(k, 0) + e["amount"]
    low_at = settings.get(db)["low_balance_paise"]
    customers = [w for u, w in wallets.items() if u not in staff]
    return {"balance": sum(w.balance for w in wallets.values()), "held": sum(w.held for w in wallets.values()),
            "wallets": wallets, "days": days, "spent": spent, "staff": staff, "low_at": low_at,
            "low": sorted((w.available, w.user_id) for w in customers if w.available < low_at),
            "top": sorted((-w.balance, w.user_id) for w in customers)}


def assert_exact(db) -> None:
    """The views against the recomputation: totals, every day, every row, and each list in its order."""
    want = recomputed(db)
    t = staffview.read.totals(db)
    assert (t["balance"], t["held"]) == (want["balance"], want["held"])
    assert t["wallets"] == len(want["wallets"])
    for u, w in want["wallets"].items():
        r = db.staff_rows.find_one({"_id": u})
        assert (r["balance"], r["held"], r["available"]) == (w.balance, w.held, w.available), u
    first = min(want["days"]) if want["days"] else clock.today().isoformat()
    got = staffview.read.days(db, clock.date_of(clock.start_of_day(_iso(first))), clock.today())
    for day, v in got.items():
        exp = want["days"].get(day)
        if exp is None:
            assert v["credit_count"] + v["debit_count"] == 0 and v["active"] == 0, day
            continue
        assert {k: v[k] for k in ("credits", "debits", "credit_count", "debit_count", "calls", "call_seconds")} == \
            {k: exp[k] for k in ("credits", "debits", "credit_count", "debit_count", "calls", "call_seconds")}, day
        assert v["cat"] == {c: x for c, x in exp["cat"].items() if x} and v["active"] == len(exp["users"]), day
    s = reports.admin_summary(db, top=5, period_days=7)
    assert (s["total_balance_paise"], s["total_held_paise"]) == (want["balance"], want["held"])
    assert _ranked([(r["available_paise"], r["username"]) for r in s["low_balance_users"]], want["low"], 100)
    assert s["low_balance_count"] == len(want["low"])
    assert _ranked([(-r["balance_paise"], r["username"]) for r in s["top_balances"]], want["top"], 5)
    today = clock.today()
    for period in (1, 7, 30):
        first_day = (today - timedelta(days=period - 1)).isoformat()
        sums: dict[str, int] = {}
        for (u, d), x in want["spent"].items():
            if d >= first_day:
                sums[u] = sums.get(u, 0) + x
        exp_top = sorted(((-x, u) for u, x in sums.items() if x > 0))[:5]
        got_top = reports.top_spenders(db, today - timedelta(days=period - 1), today, top=5)
        assert [(-r["spent_paise"], r["username"]) for r in got_top] == exp_top, period
    todays = [e for e in ledger.iter_entries(db) if clock.day_of(e["created_at"]) == today.isoformat()]
    todays.sort(key=lambda e: (e["created_at"], e["_id"]), reverse=True)
    assert [e["_id"] for e in reports.today_transactions(db)] == [e["_id"] for e in todays[:200]]
    # Free credit by month and campaign: the day totals' running sums against the recount of every wallet's days.
    months = (clock.date_of(clock.start_of_day(_iso(first))), today)
    assert reports.breakage(db, *months) == grants.breakage(db, *months)
    page = reports.user_page(db, sort="available", descending=False, per_page=7)
    assert [r["available_paise"] for r in page.rows] == sorted(w.available for w in want["wallets"].values()
                                                                 if w.user_id in users_of(db))[:7]


def _ranked(got: list[tuple], every: list[tuple], n: int) -> bool:
    """`got` lists the first `n` of `every` (sorted (amount, user) pairs): the same amounts in the same
    order, the same people for each amount; at the cut, people who do have that amount (equal amounts may
    come in another order on another engine)."""
    want = every[:n]
    if [g[0] for g in got] != [w[0] for w in want]:
        return False
    cut = want[-1][0] if want else None
    whole = all({u for v, u in got if v == x} == {u for v, u in want if v == x} for x, _ in want if x != cut)
    return whole and {u for v, u in got if v == cut} <= {u for v, u in every if v == cut}


def users_of(db) -> set[str]:
    return {u["username"] for u in users.every(db)}


def _iso(day: str):
    from datetime import date
    return date.fromisoformat(day)


# ------------------------------------------------------------------------ the ledger's races, worker killed

def _keeper_under_fire(db, spec: dict, stop: threading.Event, kills: list, rnd: random.Random) -> None:
    """The worker's step, run by a warm child SIGKILLed at a random moment after its first pass since it
    started (inside a pass or between two), started again after each. Each kill notes whether it left a
    batch behind (written down, maybe committed, not all spread)."""
    passes = processes.warm().Value("i", 0)
    while not stop.is_set():
        p = processes.start(keeper.keep_forever, spec, passes)
        goal, deadline = passes.value + 1, time.monotonic() + 60
        while p.is_alive() and passes.value < goal and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rnd.uniform(0, 0.15))
        assert processes.kill(p), "the keeper ended by itself"
        kills.append(db.staff_batches.count_documents({}))


def _threads(db, n_threads: int, ops: int, seed: int) -> None:
    def run(t):
        rnd = random.Random(seed + t)
        for i in range(ops):
            _op(db, rnd.choice(CUSTOMERS[4:]), f"t{seed}-{t}-{i}", rnd)
    ts = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _killed_stream(db, spec: dict, user_id: str, log_path: str, rnd: random.Random, kills: int = 5) -> None:
    """A client streaming operations on a wallet, SIGKILLed inside its stream and recovered after each,
    then run to its end (the ledger's kill test, shorter)."""
    for _ in range(kills):
        p = processes.start(ledger_children.crash_stream, spec, user_id, log_path, 3, 80)
        goal, deadline = oplog.acks(log_path) + rnd.randint(1, 3), time.monotonic() + 60
        while p.is_alive() and oplog.acks(log_path) < goal:
            assert time.monotonic() < deadline, "the stream made no progress"
            time.sleep(0.002)
        time.sleep(rnd.uniform(0, 0.03))
        if not processes.kill(p):
            break
        ledger.recover(db)
    last = processes.start(ledger_children.crash_stream, spec, user_id, log_path, 3, 80)
    last.join(300)
    assert last.exitcode == 0


@pytest.mark.slow
def test_totals_and_lists_stay_exact_through_the_ledgers_races_and_a_killed_worker(tmp_path, request):
    """Slow (about 20-40 s): eight kills of the keeper at least, among real threads and processes."""
    db, spec = make_target("embedded", tmp_path, request)
    _people(db)
    for u in CUSTOMERS:
        ledger.post(db, u, key=f"fund-{u}", type="credit", category="recharge", amount=20_000)
    stop, kills, rnd = threading.Event(), [], random.Random(31)
    fire = threading.Thread(target=_keeper_under_fire, args=(db, spec, stop, kills, rnd))
    fire.start()
    try:
        # 1. Eight threads race one wallet dry (the ledger's test), then four spread over eight wallets.
        def dry(t):
            for i in range(40):
                try:
                    ledger.post(db, CUSTOMERS[0], key=f"dry-{t}-{i}", type="debit", category="call", amount=100)
                except InsufficientBalance:
                    pass
        ts = [threading.Thread(target=dry, args=(t,)) for t in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        _threads(db, 4, 40, seed=1)
        # 2. Two processes race a wallet dry (the ledger's process race).
        q = processes.warm().Queue()
        procs = [processes.start(ledger_children.debit_many, spec, CUSTOMERS[1], 150, f"p{i}", q) for i in range(2)]
        results = [q.get(timeout=300) for _ in procs]
        for p in procs:
            p.join(60)
        assert sum(results) == 200  # Rs. 200 of Rs. 1 debits, no more
        # 3. A client streaming operations on a wallet, SIGKILLed at random points and recovered.
        _killed_stream(db, spec, CUSTOMERS[2], str(tmp_path / "ops.log"), rnd)
        # 4. More threads until the keeper has been killed often, and once at least with a batch half-done.
        seed, until = 2, time.monotonic() + 120
        while (len(kills) < 8 or not any(kills)) and time.monotonic() < until:
            _threads(db, 3, 10, seed=seed)
            seed += 1
    finally:
        stop.set()
        fire.join(120)
    assert len(kills) >= 8, kills
    assert any(kills), kills  # killed inside a batch, not only between two
    ledger.recover(db)
    staffview.keep(db)  # the worker's next pass, whole
    assert db.staff_batches.count_documents({}) == 0
    assert_exact(db)


# ---------------------------------------------------------------------------------- days, cut passes

def test_days_pass_windows_slide_and_cut_passes_finish(db, monkeypatch):
    """Ten days of activity with the clock moving on: closed days leave the wallets for `rollups` (some
    archived by a later write, some by recovery, some never), passes run at random moments and some are
    cut after a batch's commit; each pass afterwards finishes it, and the views stay exact."""
    _people(db)
    rnd = random.Random(7)
    start = clock.now() - timedelta(days=10)
    for day in range(11):
        t = start + timedelta(days=day)
        monkeypatch.setattr(clock, "now", lambda t=t: t)
        for i in range(rnd.randint(5, 25)):
            _op(db, rnd.choice(CUSTOMERS), f"d{day}-{i}", rnd)
        if day % 3 == 1:
            ledger.recover(db)  # archives closed days of every wallet
        if day % 3 == 2:
            _void_a_grant(db, rnd)
        if rnd.random() < 0.5:
            monkeypatch.setattr(batches, "_spread", _cut_once(batches._spread, monkeypatch))
            with pytest.raises(_Cut):
                staffview.refresh(db)
            monkeypatch.undo()
            monkeypatch.setattr(clock, "now", lambda t=t: t)
        staffview.refresh(db)
        if day % 4 == 2 or day == 10:  # a full recomputation is the costly part: every few days, and the last
            assert_exact(db)


def _void_a_grant(db, rnd: random.Random) -> None:
    """An admin voids what is left of one customer's free credit (the breakage report's `voided`)."""
    for uid in rnd.sample(CUSTOMERS, len(CUSTOMERS)):
        free = [v for v in wallet.lots(db, uid) if v.kind in ("promo", "manual") and v.remaining and not v.voided]
        if free:
            grants.void(db, admin="boss", user_id=uid, lot=free[0].lot, reason="Offer withdrawn")
            return


class _Cut(Exception):
    pass


def _cut_once(spread, monkeypatch):
    def cut(db, batch):
        raise _Cut("killed after the commit, before the spread")
    return cut


def test_a_build_from_scratch_matches_the_kept_views(db, monkeypatch):
    """A database with history and no views (an existing one at upgrade): the backfill builds what the
    passes would have kept; a second backfill does nothing; a build killed half-way leaves no views."""
    _people(db)
    rnd = random.Random(3)
    start = clock.now() - timedelta(days=6)
    for day in range(7):
        t = start + timedelta(days=day)
        monkeypatch.setattr(clock, "now", lambda t=t: t)
        for i in range(15):
            _op(db, rnd.choice(CUSTOMERS), f"b{day}-{i}", rnd)
        ledger.recover(db)
    monkeypatch.undo()
    for name in ("staff_totals", "staff_rows", "staff_days", "staff_batches"):
        db[name].delete_many({})
    monkeypatch.setattr(staffview.rows, "new_row", _dies_at(staffview.rows.new_row, 5))
    with pytest.raises(_Cut):
        staffview.backfill(db)
    monkeypatch.undo()
    assert staffview.read.totals(db) is None and reports.admin_summary(db)["as_of"] is None
    db.staff_totals.delete_many({})  # the killed build's lease (it would lapse in minutes)
    assert staffview.backfill(db)["built"] is True
    assert staffview.backfill(db)["built"] is False
    assert_exact(db)


def _dies_at(fn, n: int):
    calls = []

    def wrapped(*a, **k):
        calls.append(1)
        if len(calls) == n:
            raise _Cut("killed half-way through the build")
        return fn(*a, **k)
    return wrapped


def test_a_quiet_pass_reads_no_wallet(db, monkeypatch):
    """The worker's passes read the wallets changed since the last one, not every wallet."""
    _people(db)
    for u in CUSTOMERS:
        ledger.post(db, u, key=f"f-{u}", type="credit", category="recharge", amount=5_000)
    staffview.refresh(db)
    seen = []
    real = ledger.feed.view
    monkeypatch.setattr(ledger.feed, "view", lambda w: seen.append(w["_id"]) or real(w))
    later = clock.now() + 2 * ledger.LATE  # past the allowance for late writes
    monkeypatch.setattr(clock, "now", lambda: later)
    staffview.refresh(db)  # may read the last moments before the jump again, once
    seen.clear()
    staffview.refresh(db)
    assert seen == []
    ledger.post(db, CUSTOMERS[3], key="one-more", type="debit", category="call", amount=100)
    staffview.refresh(db)
    assert seen == [CUSTOMERS[3]]
    assert_exact(db)


def test_a_large_database_is_built_in_the_background(edb, monkeypatch):
    """At a start (services.schema), a database with more wallets than a start should wait for is built in
    a thread: the call returns at once, pages say the views are being built, then they are exact."""
    _people(edb)
    for u in CUSTOMERS:
        ledger.post(edb, u, key=f"f-{u}", type="credit", category="recharge", amount=7_000)
    for name in ("staff_totals", "staff_rows", "staff_days", "staff_batches", "staff_recent"):
        edb[name].delete_many({})
    monkeypatch.setattr(staffview.build, "INLINE", 3)
    assert staffview.backfill(edb) == {"built": False, "building": True}
    deadline = time.monotonic() + 120
    while staffview.read.totals(edb) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_exact(edb)


def test_top_spenders_cut_inside_a_tie_takes_the_first_names_and_a_stale_window_cannot_enter(db, monkeypatch):
    """Forty customers spend the same Rs. 30 (a tie across the cut), one spends more, one spent more but
    eight days ago (its 30-day window still holds it, the 7-day range does not): the lists are the ones a
    recount gives, largest first then by name, over 7 and 30 days."""
    t = clock.now()
    monkeypatch.setattr(clock, "now", lambda: t - timedelta(days=8))
    accounts.create_user(db, "old", "password-xyz-1", "Old", "old@example.com", "user")
    ledger.post(db, "old", key="old-in", type="credit", category="recharge", amount=10_000)
    ledger.post(db, "old", key="old-out", type="debit", category="call", amount=5_000)
    staffview.refresh(db)  # the worker's pass that day
    monkeypatch.setattr(clock, "now", lambda: t)
    names = [f"t{i:02d}" for i in random.Random(3).sample(range(40), 40)]  # created out of name order
    for u in names + ["big"]:
        accounts.create_user(db, u, "password-xyz-1", u, f"{u}@example.com", "user")
        ledger.post(db, u, key=f"{u}-in", type="credit", category="recharge", amount=10_000)
        ledger.post(db, u, key=f"{u}-out", type="debit", category="call", amount=6_000 if u == "big" else 3_000)
    staffview.refresh(db)
    today = clock.today()
    ties = sorted(names)

    def top(days: int, n: int) -> list[tuple[str, int]]:
        return [(r["username"], r["spent_paise"]) for r in
                reports.top_spenders(db, today - timedelta(days=days - 1), today, top=n)]
    assert top(7, 5) == [("big", 6_000)] + [(u, 3_000) for u in ties[:4]]
    assert top(30, 3) == [("big", 6_000), ("old", 5_000), (ties[0], 3_000)]
    assert top(7, 41) == [("big", 6_000)] + [(u, 3_000) for u in ties]
