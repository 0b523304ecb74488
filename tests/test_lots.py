"""Credit lots (docs/ledger.md, "Lots"): every credit a lot, every debit traced to the lots it drew from,
holds reserving from lots, expiry once per lot, refunds from paid money only, balances at a past date.

The first test is the issue's first Must-show, end to end through services.calls and a real recharge
through the offline Razorpay sandbox (real SDK over HTTP)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scripts import worker
from services import auditlog, calls, clock, grants, ledger, payments, wallet
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound
from tests.support.payments import deliveries, paid_recharge, race, refunds_of, sdk, settle_webhooks


def frozen_clock(monkeypatch, t):
    """clock.now() returns box[0]; moving it moves every expiry, day and cap with it."""
    box = [t]
    monkeypatch.setattr(clock, "now", lambda: box[0])
    return box


def lots_of(db, uid):
    return {v.lot: v for v in ledger.get_wallet(db, uid).lots}


def parts(entry):
    return ledger.lot_parts(entry.get("lots"))


def credit(db, uid, paise, key, category="recharge", **lot):
    return ledger.post(db, uid, key=key, type="credit", category=category, amount=paise, lot=lot or None)


# ------------------------------------------------------------------------------------ must show (1)

def test_promo_50_expiring_in_a_minute_and_paid_100_a_call_of_30_and_the_expiry(env, receiver, server,
                                                                                  monkeypatch):
    """A promotional Rs. 50 expiring in a minute and a paid Rs. 100: a 3-minute call (Rs. 30) draws the Rs. 30
    from the promotional lot; after expiry the balance is Rs. 100 with one `expiry` entry of Rs. 20; the
    refundable amount is Rs. 100 throughout."""
    db = env
    t = frozen_clock(monkeypatch, clock.now().replace(second=5, microsecond=0))
    paid_recharge(db, server, receiver, rupees=100)
    promo = wallet.admin_credit(db, admin="root", user_id="alice", amount=50, category="promo_credit",
                                reason="Launch offer", key="promo-50", expires_at=t[0] + timedelta(minutes=1))
    assert promo["lot"]["expires_at"] == t[0].replace(second=0) + timedelta(minutes=1)  # to the minute
    assert [(v.kind, v.expires_at) for v in ledger.get_wallet(db, "alice").lots][0] == ("paid", None)
    assert payments.refundable_for(db, "alice").amount_paise == 10000
    call = calls.start_call(db, "alice", "+919876543210", "kb_sales", 5)
    assert payments.refundable_for(db, "alice").amount_paise == 10000   # the call holds promotional money
    held = {v.kind: v.held for v in ledger.get_wallet(db, "alice").lots}
    assert held == {"promo": 5000, "paid": 0}                            # a 5-minute slice, promo first
    t[0] += timedelta(seconds=20)
    end = calls.end_call(db, "alice", call["call_id"], 180)
    assert end["cost_paise"] == 3000
    [debit] = ledger.entries(db, "alice", category="call")[0]
    assert parts(debit) == [(promo["n"], 3000)] and debit["promo_paise"] == 3000
    assert payments.refundable_for(db, "alice").amount_paise == 10000
    assert ledger.get_wallet(db, "alice").balance == 12000
    t[0] += timedelta(minutes=1)                                         # past the expiry minute
    assert ledger.get_wallet(db, "alice").available == 10000             # lapsed: no longer spendable
    out = worker.tick(db)
    assert out["expire_lots"] == {"expired": 1, "voided": 0, "paise": 2000}
    worker.tick(db)                                                      # a second sweep finds nothing
    w = ledger.get_wallet(db, "alice")
    assert (w.balance, w.available, [v.kind for v in w.lots]) == (10000, 10000, ["paid"])
    [gone] = ledger.entries(db, "alice", category="expiry")[0]
    assert (gone["amount"], parts(gone), gone["meta"]["lot"]) == (2000, [(promo["n"], 2000)], promo["n"])
    assert payments.refundable_for(db, "alice").amount_paise == 10000
    assert ledger.audit(db) == []


# ------------------------------------------------------------------------------------ burn order

def test_promotional_and_manual_first_then_soonest_expiry_then_oldest_paid(db):
    now = clock.now()
    credit(db, "u1", 1000, "paid-old")                                        # lot 1
    credit(db, "u1", 1000, "paid-new")                                        # lot 2
    credit(db, "u1", 1000, "paid-expiring", expires_at=now + timedelta(days=3))   # lot 3
    credit(db, "u1", 1000, "promo-late", "promo_credit", expires_at=now + timedelta(days=30))  # lot 4
    credit(db, "u1", 1000, "manual", "manual_credit")                         # lot 5 (no expiry)
    credit(db, "u1", 1000, "promo-soon", "promo_credit", expires_at=now + timedelta(days=2))  # lot 6
    e = ledger.post(db, "u1", key="use", type="debit", category="adjustment", amount=5500)
    assert parts(e) == [(6, 1000), (4, 1000), (5, 1000), (3, 1000), (1, 1000), (2, 500)]
    assert e["promo_paise"] == 3000
    assert {v.lot: v.remaining for v in ledger.get_wallet(db, "u1").lots} == {2: 500}  # spent lots leave
    assert ledger.audit(db) == []


@pytest.mark.parametrize("rule, order", [("soonest_expiry", [3, 2, 1]), ("oldest_first", [1, 2, 3])])
def test_a_business_setting_switches_the_burn_order_and_is_audited(edb, rule, order):
    now = clock.now()
    credit(edb, "u1", 1000, "paid")                                                       # lot 1
    credit(edb, "u1", 1000, "promo-late", "promo_credit", expires_at=now + timedelta(days=9))  # lot 2
    credit(edb, "u1", 1000, "paid-soon", expires_at=now + timedelta(days=1))              # lot 3
    assert wallet.set_burn_rule(edb, rule, by="boss") == "promo_first"
    assert [r["detail"] for r in auditlog.between(edb) if r["action"] == "burn_rule"] == [f"promo_first -> {rule}"]
    e = ledger.post(edb, "u1", key="use", type="debit", category="adjustment", amount=3000)
    assert [n for n, _ in parts(e)] == order
    with pytest.raises(InvalidInput):
        wallet.set_burn_rule(edb, "cheapest_first", by="boss")


def test_holds_reserve_in_order_settle_from_what_they_reserved_and_release_back(db):
    credit(db, "u1", 10000, "paid")                                          # lot 1
    credit(db, "u1", 3000, "promo", "promo_credit")                          # lot 2
    assert ledger.hold(db, "u1", "h1", 5000) == 5000
    assert {n: v.held for n, v in lots_of(db, "u1").items()} == {1: 2000, 2: 3000}
    assert ledger.extend(db, "u1", "h1", 1000, step=1) == 6000
    credit(db, "u1", 500, "promo2", "promo_credit")                          # lot 3: after the hold
    e = ledger.settle(db, "u1", "h1", 4000, key="call:1")
    assert parts(e) == [(2, 3000), (1, 1000)] and e["promo_paise"] == 3000   # in the order reserved
    w = ledger.get_wallet(db, "u1")
    assert (w.balance, w.held) == (9500, 0) and {n: (v.remaining, v.held) for n, v in lots_of(db, "u1").items()} \
        == {1: (9000, 0), 3: (500, 0)}
    ledger.hold(db, "u1", "h2", 2000)
    assert ledger.release(db, "u1", "h2") is True
    assert {n: v.held for n, v in lots_of(db, "u1").items()} == {1: 0, 3: 0}
    assert ledger.audit(db) == []


# ------------------------------------------------------------------------------------ expiry

def test_a_call_in_progress_keeps_what_its_hold_reserved_and_the_rest_expires_once(edb, monkeypatch):
    t = frozen_clock(monkeypatch, clock.now())
    credit(edb, "u1", 10000, "paid")
    credit(edb, "u1", 5000, "promo", "promo_credit", expires_at=t[0] + timedelta(minutes=1))   # lot 2
    ledger.hold(edb, "u1", "call", 3000)
    t[0] += timedelta(minutes=2)
    assert ledger.get_wallet(edb, "u1").available == 10000                 # 2000 frozen, 3000 held by the call
    with pytest.raises(InsufficientBalance):
        ledger.post(edb, "u1", key="big", type="debit", category="adjustment", amount=10001)
    assert ledger.expire_lots(edb) == {"expired": 0, "voided": 0, "paise": 0}   # the call holds part of it
    e = ledger.settle(edb, "u1", "call", 1200, key="call:x")
    assert parts(e) == [(2, 1200)]                                          # from the expired lot it reserved
    assert ledger.expire_lots(edb) == {"expired": 1, "voided": 0, "paise": 3800}
    assert ledger.expire_lots(edb)["expired"] == 0
    assert [x["amount"] for x in ledger.entries(edb, "u1", category="expiry")[0]] == [3800]
    assert ledger.get_wallet(edb, "u1").balance == 10000 and ledger.audit(edb) == []


def test_expiry_leaves_spending_figures_and_the_daily_cap_alone(edb, monkeypatch):
    t = frozen_clock(monkeypatch, clock.now())
    credit(edb, "u1", 5000, "promo", "promo_credit", expires_at=t[0] + timedelta(minutes=1))
    credit(edb, "u1", 5000, "paid")
    t[0] += timedelta(minutes=1)
    ledger.expire_lots(edb)
    w = ledger.get_wallet(edb, "u1")
    assert w.today_debits == 0                                              # an expiry is not spending
    assert ledger.hold(edb, "u1", "h", 5000, daily_cap=5000) == 5000       # the cap still has its room


def test_expiry_notices_seven_days_and_one_day_ahead_once_each(edb, monkeypatch):
    from services import accounts, alerts
    accounts.create_user(edb, "asha", "pass-phrase-1", "Asha", "asha@example.com")
    t = frozen_clock(monkeypatch, clock.now())
    wallet.admin_credit(edb, admin="boss", user_id="asha", amount=200, category="promo_credit",
                        reason="Offer", key="g", expires_at=t[0] + timedelta(days=10))
    assert alerts.announce_expiries(edb) == 0                              # 10 days ahead: nothing yet
    t[0] += timedelta(days=3, hours=1)
    assert alerts.announce_expiries(edb) == 1 and alerts.announce_expiries(edb) == 0
    t[0] += timedelta(days=6)
    assert alerts.announce_expiries(edb) == 1 and alerts.announce_expiries(edb) == 0
    notes = [a for a in alerts.of_user(edb, "asha") if a["kind"] == "notice"]
    assert len(notes) == 2 and all("Rs. 200.00 of promotional credit expires on" in a["text"] for a in notes)


# ------------------------------------------------------------------------------------ grants, void

def test_grant_expiry_is_to_the_minute_in_the_business_zone_and_checked(edb, monkeypatch):
    from services import accounts
    accounts.create_user(edb, "asha", "pass-phrase-1", "Asha", "asha@example.com")
    day = (clock.today() + timedelta(days=100)).isoformat()
    e = wallet.admin_credit(edb, admin="boss", user_id="asha", amount=200, category="promo_credit",
                            reason="Offer", key="d", expires_at=day, campaign="Diwali-26")
    assert clock.fmt(clock.as_utc(e["lot"]["expires_at"]), "%Y-%m-%d %H:%M:%S") == f"{day} 23:59:00"
    assert e["lot"]["campaign"] == "diwali-26"
    e = wallet.admin_credit(edb, admin="boss", user_id="asha", amount=1, category="manual_credit",
                            reason="Offer", key="t", expires_at=f"{day}T18:30:45")   # business time, to the minute
    assert clock.fmt(clock.as_utc(e["lot"]["expires_at"]), "%Y-%m-%d %H:%M:%S") == f"{day} 18:30:00"
    for bad in ("yesterday", "2001-01-01", (clock.today() + timedelta(days=3700)).isoformat()):
        r = wallet.review_credit(edb, user_id="asha", amount="5", category="promo_credit", reason="Offer",
                                 expires_at=bad)
        assert set(r.problems) == {"expires_at"}
    r = wallet.review_credit(edb, user_id="asha", amount="5", category="refund", reason="Offer",
                             expires_at=day)
    assert "expires_at" in r.problems
    r = wallet.review_credit(edb, user_id="asha", amount="5", category="promo_credit", reason="Offer",
                             campaign="no spaces")
    assert set(r.problems) == {"campaign"}


def test_paid_money_expires_only_when_the_business_sets_a_validity(edb):
    from services import settings
    assert wallet.paid_lot(edb) is None
    settings.set_value(edb, "paid_validity_days", 365, by="boss")
    want = clock.at_local(clock.today() + timedelta(days=365), datetime.min.time().replace(hour=23, minute=59))
    assert wallet.paid_lot(edb) == {"expires_at": want}


def test_csv_grants_are_previewed_then_each_line_credited_once(edb):
    from services import accounts
    for u in ("asha", "ravi"):
        accounts.create_user(edb, u, "pass-phrase-1", u.title(), f"{u}@example.com")
    text = "username,amount,campaign\nasha,200,\nravi,150,ravi-special\nghost,10,\nasha,abc,\n"
    day = (clock.today() + timedelta(days=30)).isoformat()
    batch = grants.preview_csv(edb, text, reason="Diwali offer", expires_at=day, campaign="diwali")
    assert edb.ledger.count_documents({}) == 0                              # a preview writes nothing
    assert [(g.line, g.review.ok) for g in batch.lines] == [(2, True), (3, True), (4, False), (5, False)]
    assert batch.total == 35000 and [g.review.campaign for g in batch.lines[:2]] == ["diwali", "ravi-special"]
    first = grants.apply(edb, batch, admin="boss")
    again = grants.apply(edb, grants.preview_csv(edb, text, reason="Diwali offer", expires_at=day,
                                                 campaign="diwali"), admin="boss")
    assert [r["entry_id"] for r in first] == [r["entry_id"] for r in again]  # the same file credits once
    assert [r["error"] is not None for r in first] == [False, False, True, True]
    assert (wallet.balance(edb, "asha").balance, wallet.balance(edb, "ravi").balance) == (20000, 15000)
    with pytest.raises(InvalidInput):
        grants.preview_csv(edb, "user,money\nasha,5\n")


def test_void_takes_the_unspent_remainder_once_audited_and_waits_for_calls(edb):
    from services import accounts
    accounts.create_user(edb, "asha", "pass-phrase-1", "Asha", "asha@example.com")
    credit(edb, "asha", 10000, "paid")
    g = wallet.admin_credit(edb, admin="boss", user_id="asha", amount=50, category="promo_credit",
                            reason="Offer", key="g", campaign="launch")
    ledger.post(edb, "asha", key="use", type="debit", category="adjustment", amount=1000)   # from the grant
    ledger.hold(edb, "asha", "call", 1500)                                                   # 1500 of the grant
    with pytest.raises(InvalidInput):
        grants.void(edb, admin="boss", user_id="asha", lot=1, reason="paid money")
    res = grants.void(edb, admin="boss", user_id="asha", lot=g["n"], reason="Offer withdrawn")
    assert (res["amount"], res["held"], res["entry"]) == (4000, 1500, None)       # waits for the call
    assert ledger.get_wallet(edb, "asha").available == 10000                        # frozen meanwhile
    ledger.settle(edb, "asha", "call", 500, key="call:v")                           # the call keeps its hold
    assert ledger.expire_lots(edb) == {"expired": 0, "voided": 1, "paise": 3500}
    with pytest.raises(NotFound):
        grants.void(edb, admin="boss", user_id="asha", lot=g["n"], reason="Again")
    [log] = [r for r in auditlog.between(edb) if r["action"] == "void_credit"]
    assert (log["actor"], log["target"], log["lot"], log["reason"]) == ("boss", "asha", g["n"], "Offer withdrawn")
    month = clock.today()
    rows = grants.breakage(edb, month.replace(day=1), month)
    assert rows == [{"month": month.isoformat()[:7], "campaign": "launch", "granted_paise": 5000,
                     "spent_paise": 1500, "expired_paise": 0, "voided_paise": 3500}]
    assert grants.breakage_totals(rows)["breakage_percent"] == 70.0
    assert ledger.audit(edb) == []


# ------------------------------------------------------------------------------------ refunds follow lots

def test_a_refund_never_takes_promotional_money_and_only_paid_credit_pays_the_due(env, receiver, server):
    db = env
    promo = wallet.admin_credit(db, admin="root", user_id="alice", amount=300, category="promo_credit",
                                reason="welcome", key="p")
    _, paid = paid_recharge(db, server, receiver, rupees=500)
    ledger.post(db, "alice", key="spent", type="debit", category="call", amount=60000)  # 300 promo + 300 paid
    assert payments.refundable_for(db, "alice").amount_paise == 20000
    wallet.admin_credit(db, admin="root", user_id="alice", amount=100, category="promo_credit", reason="more",
                        key="p2")
    receiver.reset(db, "collect")
    sdk(server).payment.refund(paid["payment_id"], {}, timeout=5)                      # Rs. 500 at Razorpay
    settle_webhooks(server)
    [created] = deliveries(receiver, "refund.created")
    race(*[lambda: payments.handle_webhook(db, *created) for _ in range(5)])
    w = ledger.get_wallet(db, "alice")
    assert (w.balance, w.due) == (10000, 30000)              # the Rs. 100 grant stays; Rs. 300 owed
    [debit] = refunds_of(db, "alice")
    assert debit["promo_paise"] == 0 and [v.kind for v in w.lots] == ["promo"]
    wallet.collect_dues(db)                                   # promotional money never pays a bank refund
    assert ledger.get_wallet(db, "alice").due == 30000
    assert promo["lot"]["kind"] == "promo" and ledger.audit(db) == []


# ------------------------------------------------------------------------------------ history

def test_balance_at_a_past_instant_with_the_lots_as_they_stood(edb, monkeypatch):
    t = frozen_clock(monkeypatch, clock.now() - timedelta(days=3))
    credit(edb, "u1", 10000, "paid")
    credit(edb, "u1", 2000, "promo", "promo_credit", expires_at=t[0] + timedelta(days=1))
    t0 = t[0]
    t[0] += timedelta(hours=1)
    ledger.post(edb, "u1", key="use", type="debit", category="call", amount=2500)
    t1 = t[0]
    t[0] += timedelta(days=2)                               # another day: its own checkpoint
    ledger.expire_lots(edb)                                 # the promo was spent: nothing expires
    ledger.post(edb, "u1", key="use2", type="debit", category="call", amount=500)
    checkpoint = edb.rollups.find_one({"_id": f"u1|{clock.day_of(t[0])}"})   # the day's first write left it
    assert (checkpoint["open_n"], checkpoint["open_lots"]) == (3, "1,p,10000,9500,0,,1")
    at0 = wallet.balance_at(edb, "u1", t0)
    assert at0["balance"] == 12000 and [(v.lot, v.remaining) for v in at0["lots"]] == [(1, 10000), (2, 2000)]
    at1 = wallet.balance_at(edb, "u1", t1)
    assert at1["balance"] == 9500 and [(v.lot, v.remaining) for v in at1["lots"]] == [(1, 9500)]
    assert wallet.balance_at(edb, "u1", t0 - timedelta(seconds=1))["balance"] == 0
    assert wallet.balance_at(edb, "u1", t[0])["balance"] == 9000
    with pytest.raises(InvalidInput):
        wallet.balance_at(edb, "u1", t[0] + timedelta(days=1))


# ------------------------------------------------------------------------------------ migration, audit

def test_backfill_gives_an_old_wallet_lot_0_and_its_holds_and_can_run_again(edb):
    credit(edb, "old", 9000, "before")
    ledger.hold(edb, "old", "h", 4000)
    # As a wallet written before lots: no lots, its hold without parts, its credit without a lot.
    edb.wallets.update_one({"_id": "old"}, {"$unset": {"lots": "", "next_expiry": "", "holds.h.lots": ""}})
    edb.ledger.update_many({"user_id": "old"}, {"$unset": {"lot": ""}})
    assert [(v.lot, v.kind, v.remaining, v.held) for v in ledger.get_wallet(edb, "old").lots] == \
        [(0, "unknown", 9000, 4000)]                         # every read already sees lot 0
    assert ledger.audit(edb) == []
    edb.ledger_meta.delete_one({"_id": "lots_backfill"})    # a database from before lots has no mark
    assert ledger.backfill(edb) == 1 and ledger.backfill(edb) == 0
    assert edb.wallets.find_one({"_id": "old"})["lots"] == "0,u,9000,9000,4000,,1"
    e = ledger.settle(edb, "old", "h", 1000, key="call:o")
    assert parts(e) == [(0, 1000)] and ledger.audit(edb) == []


def test_the_audit_checks_each_lot_invariant(edb):
    credit(edb, "u1", 5000, "paid")
    credit(edb, "u1", 1000, "promo", "promo_credit")
    ledger.post(edb, "u1", key="use", type="debit", category="call", amount=1500)
    assert ledger.audit(edb) == []
    w = edb.wallets.find_one({"_id": "u1"})
    edb.wallets.update_one({"_id": "u1"}, {"$set": {"lots": "1,p,5000,4600,0,,1 2,r,1000,-100,0,,0"}})
    [row] = ledger.audit(edb)
    assert any("out of bounds" in p for p in row["problems"])                       # L2
    assert any("lot 1: 4600 left, the ledger says 4500" in p for p in row["problems"])
    edb.wallets.update_one({"_id": "u1"}, {"$set": {"lots": w["lots"]}})
    edb.ledger.update_one({"key": "use"}, {"$set": {"lots": "2:1000 1:400"}})
    [row] = ledger.audit(edb)
    assert any("lot parts do not sum" in p for p in row["problems"])                # L3


def test_bad_lot_input_writes_nothing(edb):
    credit(edb, "u1", 1000, "paid")
    for lot in ({"kind": "gift"}, {"priority": 10}, {"expires_at": clock.now() - timedelta(minutes=1)},
                {"campaign": "A B"}, {"colour": "red"}):
        with pytest.raises(InvalidInput):
            ledger.post(edb, "u1", key="bad", type="credit", category="promo_credit", amount=100, lot=lot)
    with pytest.raises(InvalidInput):
        ledger.post(edb, "u1", key="bad", type="debit", category="expiry", amount=100)
    with pytest.raises(InvalidInput):
        ledger.void_lot(edb, "u1", True)
    with pytest.raises(Conflict):
        ledger.post(edb, "u1", key="paid", type="credit", category="promo_credit", amount=1000)
    assert ledger.get_wallet(edb, "u1").entries == 1 and ledger.audit(edb) == []
