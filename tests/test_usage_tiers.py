"""Volume tiers (issue 29): the units of a business month past a tier's start cost the tier's lower price.
The month's count moves in the same compare-and-set as the money (services.ledger.volumes), so racing
batches, replays, refusals and a kill -9 right after the write all leave the count equal to what was billed.

The price rule's table (SMS: 25 paise a message; past 10 a month 20 paise; past 20 a month 15 paise):

    before  quantity  units priced               paise
    0       1         1 x 25                        25
    5       10        5 x 25 + 5 x 20              225
    8       15        2 x 25 + 10 x 20 + 3 x 15    295
    30      4         4 x 15                        60
    per 10 units (25, 20, 15 per 10): before 9, quantity 3 -> ceil((25 + 2 x 20) / 10) = 7
"""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from services import auditlog, clock, ledger, usage
from services.errors import InsufficientBalance, InvalidAmount, InvalidInput
from services.usage import catalogue
from tests.support import processes
from tests.support.children import usage as children
from tests.support.targets import make_target

SMS = catalogue.Service("sms", "SMS", "message", 25, 1, 7, ((10, 20), (20, 15)))
TABLE = [tuple(int(x) for x in row.split()[:2]) + (int(row.split()[-1]),)
         for row in re.findall(r"^ {4}(\d+ +\d+ .*)$", __doc__ or "", re.M)]


def test_the_price_rule_is_the_docstrings_table():
    assert len(TABLE) == 4
    for before, quantity, paise in TABLE:
        assert catalogue.price_of(SMS, quantity, before) == paise, (before, quantity)
    per10 = catalogue.Service("llm", "LLM", "token", 25, 10, 7, ((10, 20), (20, 15)))
    assert catalogue.price_of(per10, 3, 9) == 7
    # Tiers only lower the price: never above the service's own price, whatever the month's count.
    for before in range(0, 40):
        for q in (1, 3, 17):
            assert catalogue.price_of(SMS, q, before) <= catalogue.price_of(SMS, q)


@pytest.mark.parametrize("tiers, why", [
    ([(10, 25)], "below the price before"), ([(10, 20), (10, 15)], "starts after more units"),
    ([(10, 20), (5, 15)], "starts after more units"), ([(10, 0)], "A tier's price"), ([(0, 20)], "A tier's units"),
    ([(10, 20.0)], "A tier's price"), ([(10,)], "A tier's units"), ("10:20", "a list"),
    ([(i + 1, 24 - i) for i in range(11)], "at most 10"), ([{"after_units": 10}], "A tier's price")])
def test_bad_tiers_are_refused_and_write_nothing(edb, tiers, why):
    usage.define(edb, "root", "sms", display_name="SMS", unit="message", price_paise=25)
    before = (edb.usage_services.find_one({"_id": "sms"}), len(auditlog.between(edb)))
    with pytest.raises(InvalidInput, match=why):
        usage.define(edb, "root", "sms", display_name="SMS", unit="message", price_paise=25, tiers=tiers)
    assert (edb.usage_services.find_one({"_id": "sms"}), len(auditlog.between(edb))) == before


def _tiered(db, paise: int, first: int = 100, second: int = 200):
    """SMS at 25 paise; past `first` units a month 20 paise; past `second` 15 paise."""
    usage.define(db, "root", "sms", display_name="SMS", unit="message", price_paise=25,
                 tiers=[{"after_units": first, "price_paise": 20}, (second, 15)])
    ledger.post(db, "acme", key="seed-acme", type="credit", category="recharge", amount=paise)


def _sms(n, tag):
    return [usage.Event("sms", 1, f"{tag}{i}") for i in range(n)]


def test_a_months_batches_walk_down_the_tiers_refusals_add_nothing_and_a_new_month_starts_again(edb, monkeypatch):
    _tiered(edb, 6_150)
    assert "past 100 units a month 20 paise" in auditlog.between(edb)[-1]["detail"]
    assert usage.get(edb, "sms").tiers == ((100, 20), (200, 15))
    paid = [sum(int(r.entry["amount"]) for r in usage.record_batch(edb, "acme", _sms(n, t)))
            for n, t in ((90, "a"), (20, "b"), (100, "c"))]
    assert paid == [90 * 25, 10 * 25 + 10 * 20, 90 * 20 + 10 * 15] and ledger.volumes_used(edb, "acme") == \
        {"sms": 210}
    [e] = edb.ledger.find({"key": usage.metering.ledger_key("acme", "b15")})
    assert (e["amount"], e["meta"]["units_before"], e["meta"]["tiers"]) == (20, 105, "100:20 200:15")
    # A replay answers its first price and counts nothing again.
    assert [r.entry["amount"] for r in usage.record_batch(edb, "acme", _sms(3, "a"))] == [25, 25, 25]
    # 6,150 - 4,650 = 1,500 left: 100 more at 15 paise fit; then events are refused and add nothing.
    out = usage.record_batch(edb, "acme", _sms(100, "d"))
    assert all(r.entry is not None for r in out) and ledger.get_wallet(edb, "acme").balance == 0
    out = usage.record_batch(edb, "acme", _sms(5, "e"))
    assert all(isinstance(r.error, InsufficientBalance) for r in out) and ledger.volumes_used(edb, "acme") == \
        {"sms": 310}
    start = clock.month_span(clock.today().year + (clock.today().month == 12), clock.today().month % 12 + 1)[0]
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(hours=1))
    ledger.post(edb, "acme", key="seed-2", type="credit", category="recharge", amount=1_000)
    assert usage.record(edb, "acme", usage.Event("sms", 1, "next-month"))["amount"] == 25   # counted afresh
    assert ledger.volumes_used(edb, "acme") == {"sms": 1} and ledger.audit(edb) == []


def test_racing_batches_in_threads_and_processes_bill_every_unit_at_its_tier_exactly(tmp_path, request):
    """3 processes and 3 threads send 2 batches of 100 SMS each at once (1,200 in all, through both tiers),
    and each sends its first batch again: the debits add up to the tiers' price of 1,200 units, the month's
    count is 1,200, and every place in the month was priced once. (The embedded engine: the wire target's
    bulk inserts take minutes here and prove nothing more.)"""
    db, spec = make_target("embedded", tmp_path, request)
    _tiered(db, 1_000_000, 300, 600)
    ctx = processes.warm()
    q, go = ctx.Queue(), ctx.Event()

    def work(w: str) -> list:
        mine = [_sms(100, f"{w}-{b}-") for b in range(2)]
        return mine + mine[:1]

    kids = [processes.start(children.deliver_batches, spec, "acme", work(f"p{k}"), go, q) for k in range(3)]
    paid, lock = [], threading.Lock()

    def run(w: str):
        go.wait(60)
        total = sum(int(r.entry["amount"]) for b in work(w) for r in usage.record_batch(db, "acme", b) if r.entry)
        with lock:
            paid.append(total)

    threads = [threading.Thread(target=run, args=(f"t{k}",)) for k in range(3)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(120)
    paid += [q.get(timeout=180) for _ in kids]
    for p in kids:
        p.join(30)
    assert all(isinstance(x, int) for x in paid), paid
    exact = 300 * 25 + 300 * 20 + 600 * 15
    debited = sum(int(e["amount"]) for e in db.ledger.find({"category": "usage"}))
    assert debited == exact and ledger.get_wallet(db, "acme").balance == 1_000_000 - exact
    assert ledger.volumes_used(db, "acme") == {"sms": 1200}
    befores = sorted(int(e["meta"]["units_before"]) for e in db.ledger.find({"category": "usage"}))
    assert befores == list(range(1200)) and ledger.audit(db) == []


def test_kill_9_right_after_a_tiered_batchs_compare_and_set_keeps_count_and_money_together(tmp_path, request):
    db, spec = make_target("embedded", tmp_path, request)
    _tiered(db, 9_500, 300, 600)
    usage.record_batch(db, "acme", _sms(100, "w"))             # 2,500: 100 of the month's units used
    events = _sms(400, "k")                                   # 200 x 25 + 100 x 20 = 7,000: 300 fit
    p = processes.start(children.die_after_batch_cas, spec, "acme", events)
    p.join(120)
    assert processes.exitcode(p) == -9
    assert ledger.get_wallet(db, "acme").balance == 0 and ledger.volumes_used(db, "acme") == {"sms": 400}
    again = usage.record_batch(db, "acme", events[295:305])   # before recovery: answered from the wallet
    assert [r.error is None for r in again] == [True] * 5 + [False] * 5
    assert ledger.recover(db)["pending_finished"] >= 1
    assert db.ledger.count_documents({"category": "usage"}) == 400 and ledger.audit(db) == []
    assert [r.entry["amount"] for r in again[:5]] == [20] * 5 and ledger.volumes_used(db, "acme") == {"sms": 400}


def test_tiers_are_part_of_a_scheduled_price_change_and_the_admin_types_them_in_rupees(edb, monkeypatch):
    """A scheduled change carries its tiers (checked against its own price); before it the old terms bill,
    from it the new; an admin's `10000: 0.20` is 20 paise past 10,000 units; a bad tier writes nothing."""
    assert catalogue.parse_tiers("100: 0.20; 200: 0.15") == [(100, 20), (200, 15)] == \
        catalogue.parse_tiers(" 100:0.20 , 200: 0.15 ,")
    for bad in ("100 0.20", "x: 0.2", "100: 0.201", "100: -1"):
        with pytest.raises((InvalidInput, InvalidAmount)):
            catalogue.parse_tiers(bad)
    _tiered(edb, 100_000)
    when = clock.now() + timedelta(days=2)
    with pytest.raises(InvalidInput, match="below the price before"):   # 20 is not below a new price of 18
        usage.prices.define_at(edb, "root", "sms", price_paise=18, tiers=[(100, 20)], effective_at=when)
    assert usage.prices.changes_ahead(edb, "sms") == []
    usage.prices.define_at(edb, "root", "sms", price_paise=18, tiers=[(50, 12)], effective_at=when)
    [ch] = usage.prices.changes_ahead(edb, "sms")
    assert ch["description"] == "Rs. 0.18 per message; past 50 a month Rs. 0.12"
    assert ch["before"]["tiers"] == [[100, 20], [200, 15]]
    assert sum(r.entry["amount"] for r in usage.record_batch(edb, "acme", _sms(60, "old"))) == 60 * 25
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(days=3))
    assert usage.get(edb, "sms").tiers == ((50, 12),)
    assert sum(r.entry["amount"] for r in usage.record_batch(edb, "acme", _sms(10, "new"))) == 10 * 12  # 61st on
    assert ledger.audit(edb) == []
