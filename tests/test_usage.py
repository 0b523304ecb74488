"""Metered usage (issue 29): a catalogue price per event, debited at once, once per idempotency key, in order
while the wallet can pay, never negative; a batch of 1,000 is a few writes; a crash right after a batch's
compare-and-set loses nothing and doubles nothing."""
from __future__ import annotations

import io
import json
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from services import auditlog, clock, ledger, usage
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound
from tests.support import processes
from tests.support.children import usage as children
from tests.support.targets import make_target


def _setup(db, uid="acme", paise=100_000):
    usage.define(db, "root", "sms", display_name="SMS", unit="message", price_paise=25)
    usage.define(db, "root", "llm", display_name="LLM tokens", unit="token", price_paise=3, per_units=10)
    if paise:
        ledger.post(db, uid, key=f"seed-{uid}", type="credit", category="recharge", amount=paise)


def _sms(n, tag="e", quantity=1):
    return [usage.Event("sms", quantity, f"{tag}{i}") for i in range(n)]


def test_the_price_is_rounded_up_per_event_and_the_catalogue_is_audited(edb):
    _setup(edb)
    llm = usage.get(edb, "llm")
    assert [usage.price_of(llm, q) for q in (1, 10, 11, 333)] == [1, 3, 4, 100]   # ceil(q x 3 / 10)
    e = usage.record(edb, "acme", usage.Event("llm", 11, "k1"))
    assert (e["amount"], e["category"], e["meta"]["service"]) == (4, "usage", "llm")
    assert ledger.get_wallet(edb, "acme").balance == 100_000 - 4
    usage.define(edb, "root", "sms", display_name="SMS", unit="message", price_paise=20)
    [row] = [r for r in auditlog.between(edb) if r["action"] == "service.define" and "was 25" in r["detail"]]
    assert row["actor"] == "root" and row["target"] == "sms"


@pytest.mark.parametrize("bad", [{"price_paise": -1}, {"price_paise": 2.5}, {"per_units": 0},
                                 {"display_name": ""}, {"unit": "x" * 41}, {"grace_days": True}])
def test_a_bad_service_definition_writes_nothing(edb, bad):
    args = dict(display_name="SMS", unit="message", price_paise=25, per_units=1) | bad
    with pytest.raises(InvalidInput):
        usage.define(edb, "root", "sms", **args)
    with pytest.raises(InvalidInput):
        usage.define(edb, "root", "SMS!", display_name="SMS", unit="message", price_paise=25)
    with pytest.raises(NotFound):
        usage.get(edb, "sms")


def test_a_batch_of_1000_sms_at_25_paise_is_rs_250_exactly_in_a_few_writes(edb):
    _setup(edb)
    results = usage.record_batch(edb, "acme", _sms(1000))
    assert all(r.error is None for r in results)
    assert sum(r.entry["amount"] for r in results) == 25_000
    w = ledger.get_wallet(edb, "acme")
    assert w.balance == 75_000 and w.held == 0
    # the balances after each entry run down by 25 paise, in the order of the events
    assert [r.entry["balance_after"] for r in results[:3]] == [99_975, 99_950, 99_925]
    assert results[-1].entry["balance_after"] == 75_000
    doc = edb.wallets.find_one({"_id": "acme"})
    assert len(doc["pending"]) <= 1                          # the batch rode as ONE packed record, not 1,000
    assert doc["days"][clock.day_of(clock.now())]["svc"] == {"sms": 25_000}
    assert edb.ledger.count_documents({"user_id": "acme", "category": "usage"}) == 1000
    assert ledger.audit(edb) == []


def test_a_batch_larger_than_the_balance_debits_what_fits_in_order_and_refuses_the_rest(edb):
    _setup(edb, paise=10_000)                               # Rs. 100: 400 messages
    events = _sms(1000)
    events[10] = usage.Event("sms", 100_000, "big")          # Rs. 250 on its own: refused, the next ones not
    results = usage.record_batch(edb, "acme", events)
    ok = [i for i, r in enumerate(results) if r.error is None]
    assert ok == [i for i in range(401) if i != 10]
    refused = [r.error for r in results if r.error is not None]
    assert len(refused) == 600 and all(isinstance(e, InsufficientBalance) for e in refused)
    w = ledger.get_wallet(edb, "acme")
    assert (w.balance, w.held) == (0, 0) and ledger.audit(edb) == []
    # refused keys stay free: after a recharge the same deliveries are billed, the billed ones not again
    ledger.post(edb, "acme", key="top-up", type="credit", category="recharge", amount=1_000)
    again = usage.record_batch(edb, "acme", events[395:420])
    assert [r.entry["_id"] for r in again[:6]] == [results[i].entry["_id"] for i in range(395, 401)]
    assert [r.error is None for r in again[6:]] == [True] * 19
    assert ledger.get_wallet(edb, "acme").balance == 1_000 - 19 * 25 and ledger.audit(edb) == []


def test_a_replay_answers_the_first_result_and_another_body_with_the_same_key_is_a_conflict(edb):
    _setup(edb)
    first = usage.record(edb, "acme", usage.Event("sms", 2, "k1", metadata={"to": "+919800000001"}))
    assert usage.record(edb, "acme", usage.Event("sms", 2, "k1", metadata={"to": "+919800000001"})) == first
    for other in (usage.Event("sms", 3, "k1"), usage.Event("sms", 2, "k1", metadata={"to": "+919800000002"}),
                  usage.Event("llm", 2, "k1")):
        with pytest.raises(Conflict):
            usage.record(edb, "acme", other)
    # in one batch: a key twice answers as its first occurrence; with another body, a Conflict
    r = usage.record_batch(edb, "acme", [usage.Event("sms", 1, "a"), usage.Event("sms", 1, "a"),
                                        usage.Event("sms", 5, "a"), usage.Event("nope", 1, "b")])
    assert r[0].entry == r[1].entry and isinstance(r[2].error, Conflict) and isinstance(r[3].error, NotFound)
    # another account's same key is its own event
    _setup(edb, uid="beta")
    assert usage.record(edb, "beta", usage.Event("sms", 2, "k1"))["user_id"] == "beta"
    assert ledger.get_wallet(edb, "acme").balance == 100_000 - 50 - 25 and ledger.audit(edb) == []


@pytest.mark.parametrize("bad", [usage.Event("sms", 0, "k"), usage.Event("sms", 1.5, "k"), usage.Event("sms", 1, ""),
                                 usage.Event("sms", 1, "k", occurred_at=clock.now().replace(tzinfo=None)),
                                 usage.Event("sms", 1, "k", occurred_at=clock.now() + timedelta(hours=1)),
                                 usage.Event("sms", 1, "k", metadata={"x": "y" * 2000}),
                                 usage.Event("sms", 1, "k", metadata={"x": float("nan")})])
def test_a_bad_event_is_refused_alone_and_writes_nothing(edb, bad):
    _setup(edb)
    r = usage.record_batch(edb, "acme", [bad, usage.Event("sms", 1, "fine")])
    assert isinstance(r[0].error, InvalidInput) and r[1].error is None
    assert ledger.get_wallet(edb, "acme").balance == 100_000 - 25
    assert edb.ledger_keys.count_documents({"_id": {"$regex": "^usage:"}}) == 1


def test_ten_duplicate_deliveries_racing_across_threads_and_processes_make_one_debit(target):
    """4 processes and 6 threads deliver the same event at once: every one answers the same entry."""
    db, spec = target
    _setup(db, paise=1_000)
    event = usage.Event("sms", 4, "delivery-1", metadata={"to": "+919800000001"})
    ctx = processes.warm()
    q, go = ctx.Queue(), ctx.Event()
    kids = [processes.start(children.deliver, spec, "acme", event, go, q) for _ in range(4)]
    answers: list = []
    lock = threading.Lock()

    def deliver():
        go.wait(60)
        try:
            eid = usage.record(db, "acme", event)["_id"]
        except Exception as exc:  # noqa: BLE001  (reported, then failed on below)
            eid = f"{type(exc).__name__}: {exc}"
        with lock:
            answers.append(eid)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(60)
    answers += [q.get(timeout=120) for _ in kids]
    for p in kids:
        p.join(30)
    assert len(answers) == 10 and len(set(answers)) == 1, answers
    assert ledger.get_wallet(db, "acme").balance == 1_000 - 100
    ledger.recover(db)
    assert db.ledger.count_documents({"user_id": "acme", "category": "usage"}) == 1 and ledger.audit(db) == []


def test_kill_9_right_after_a_batchs_compare_and_set_loses_nothing_and_doubles_nothing(tmp_path, request):
    """The embedded engine only: the wire target's bulk inserts take ~20 s here and prove nothing more."""
    db, spec = make_target("embedded", tmp_path, request)
    _setup(db, paise=10_000)
    events = _sms(500, tag="k")                          # 400 fit
    p = processes.start(children.die_after_batch_cas, spec, "acme", events)
    p.join(120)
    assert processes.exitcode(p) == -9
    # the money moved with the CAS, the entries ride in the wallet; the ledger has none of them yet
    assert ledger.get_wallet(db, "acme").balance == 0
    assert db.ledger.count_documents({"category": "usage"}) == 0 and ledger.audit(db) == []
    # a retry of the same deliveries before any recovery answers from the wallet: nothing billed twice
    again = usage.record_batch(db, "acme", events[390:410])
    assert [r.error is None for r in again] == [True] * 10 + [False] * 10
    assert all(isinstance(r.error, InsufficientBalance) for r in again[10:])
    assert ledger.recover(db)["pending_finished"] >= 1   # the batch (and the seed credit, recorded already)
    assert db.ledger.count_documents({"category": "usage"}) == 400 and ledger.audit(db) == []
    assert [r.entry for r in usage.record_batch(db, "acme", events[395:400])] == [r.entry for r in again[5:10]]
    assert ledger.get_wallet(db, "acme").balance == 0


def test_the_monthly_statement_has_one_usage_line_per_service(edb):
    from services import accounts, documents
    accounts.create_user(edb, "acme", "correct-horse-9", "Acme", "acme@example.com")
    _setup(edb)
    usage.record_batch(edb, "acme", _sms(3) + [usage.Event("llm", 100, "t1")])
    usage.define(edb, "root", "number", display_name="Phone number", unit="number·month", price_paise=30_000)
    usage.subscribe(edb, "acme", "number", key="n1")
    usage.charge_due(edb)
    st = documents.monthly(edb, "acme", clock.today().strftime("%Y-%m"))
    by = {u["label"]: (u["count"], u["amount"]) for u in st["usage"]}
    fee = usage.fees.first_month_fee(30_000, clock.now())
    assert by == {"SMS": (3, 75), "LLM tokens": (1, 30), "Phone number (monthly fee)": (1, fee)}  # as priced
    assert st["used"] == 75 + 30 + fee and "SMS: 3" in documents.statement_csv(st)


def test_make_runs_demo_catalogue_has_sms_and_a_number_and_keeps_an_admins_prices(edb):
    usage.define(edb, "root", "sms", display_name="SMS", unit="message", price_paise=20)
    assert usage.catalogue.seed_demo(edb) == 1
    assert [(s.name, s.price_paise) for s in usage.services(edb)] == [("number", 50_000), ("sms", 20)]
    assert usage.catalogue.seed_demo(edb) == 0


def test_the_daily_spend_limit_and_an_api_keys_caps_bind_usage_as_they_bind_calls(edb):
    from services import accounts, rates
    from services.errors import SpendCapReached
    accounts.create_user(edb, "acme", "correct-horse-9", "Acme", "acme@example.com")
    _setup(edb)
    key = ledger.Budget("key_sms", daily_cap=100, label="sms sender")
    r = usage.record_batch(edb, "acme", _sms(6), key_id="key_sms", budget=key)
    assert [x.error is None for x in r] == [True] * 4 + [False] * 2
    assert isinstance(r[4].error, SpendCapReached) and "sms sender" in r[4].error.message
    assert ledger.spend_of(edb, "acme")["key_sms"].spent_day == 100
    rates.set_user_value(edb, "acme", "daily_cap_paise", 200, by="root")
    r = usage.record_batch(edb, "acme", _sms(6, tag="x"))                    # 100 spent already: 4 more fit
    assert [x.error is None for x in r] == [True] * 4 + [False] * 2 and isinstance(r[5].error, SpendCapReached)
    assert ledger.get_wallet(edb, "acme").balance == 100_000 - 200 and ledger.audit(edb) == []


def test_a_reservation_for_long_running_usage_is_held_extended_and_billed_once_for_what_was_used(edb):
    _setup(edb)
    usage.define(edb, "root", "storage", display_name="Recording storage", unit="minute", price_paise=2)
    r = usage.reservations.reserve(edb, "acme", "storage", 500, key="job-1")
    assert r["held_paise"] == 1000 and usage.reservations.reserve(edb, "acme", "storage", 500, key="job-1") == r
    assert usage.reservations.extend(edb, "acme", r["reservation_id"], "storage", 250, step=1) == 1500
    assert usage.reservations.extend(edb, "acme", r["reservation_id"], "storage", 250, step=1) == 1500
    w = ledger.get_wallet(edb, "acme")
    assert (w.balance, w.held) == (100_000, 1500)
    with pytest.raises(InvalidInput):
        usage.reservations.settle(edb, "acme", r["reservation_id"], "storage", 751)   # more than was set aside
    e = usage.reservations.settle(edb, "acme", r["reservation_id"], "storage", 600)
    meta = {"service": "storage", "label": "Recording storage", "quantity": 600}
    assert (e["amount"], e["category"], e["meta"]) == (1200, "usage", meta)
    assert usage.reservations.settle(edb, "acme", r["reservation_id"], "storage", 600)["_id"] == e["_id"]
    w = ledger.get_wallet(edb, "acme")
    assert (w.balance, w.held) == (100_000 - 1200, 0) and ledger.audit(edb) == []


def test_spending_and_the_runway_count_usage_and_fees_per_service(edb):
    from services import spending
    _setup(edb)
    usage.record_batch(edb, "acme", _sms(40) + [usage.Event("llm", 1000, "t1")])
    today = clock.today()
    rows = spending.daily(edb, "acme", today, today)
    assert spending.service_totals(rows) == {"sms": 1000, "llm": 300}
    assert rows[0]["spent"] == 1300 and spending.category_totals(rows) == {"usage": 1300}
    assert spending.runway_basis(edb, "acme", window_days=7)[0] == 1300


def test_keys_claimed_by_a_process_killed_before_its_compare_and_set_are_adopted_and_billed_once(tmp_path, request):
    db, spec = make_target("embedded", tmp_path, request)
    _setup(db, paise=10_000)
    events = _sms(20, tag="a")
    p = processes.start(children.die_after_claims, spec, "acme", events)
    p.join(120)
    assert processes.exitcode(p) == -9
    assert db.ledger_keys.count_documents({"owner": {"$exists": True}, "batch": {"$exists": True}}) == 20
    assert ledger.get_wallet(db, "acme").balance == 10_000             # nothing moved
    first = usage.record_batch(db, "acme", events[5:] + events[:5])      # the dead owner's keys, adopted
    assert all(r.error is None for r in first) and ledger.get_wallet(db, "acme").balance == 10_000 - 500
    again = usage.record_batch(db, "acme", events)
    assert sorted(r.entry["_id"] for r in again) == sorted(r.entry["_id"] for r in first)
    assert ledger.find_entry(db, usage.metering.ledger_key("acme", "a3"))["_id"] == again[3].entry["_id"]
    assert db.ledger.count_documents({"category": "usage"}) == 20 and ledger.audit(db) == []


def test_the_months_tax_invoice_has_a_line_per_service_with_its_gst_adding_up_to_the_paisa(edb, monkeypatch):
    """Calls, 1,000 SMS and a month's rented number on one tax invoice: a line each (quantity, unit, amount,
    its share of the taxable value and GST), the lines adding up to the invoice's figures exactly; GST as
    the calls' (inside the amount, at the business's rate); the PDF prints each line; GSTR-1 reports it."""
    from services import accounts, documents
    from services.documents import gstr1
    t = [datetime(2026, 11, 10, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata")).astimezone(timezone.utc)]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    documents.business.update(edb, {"legal_name": "Vaani Voice AI Pvt Ltd", "address": "12 MG Road\nBengaluru",
                                    "state": "29", "gstin": "29AABCV1234K1Z9", "pan": "AABCV1234K",
                                    "gst_mode": "inclusive", "sac": "998599", "signatory": "Asha Rao"}, by="boss")
    accounts.create_user(edb, "acme", "correct-horse-9", "Acme", "acme@example.com")
    documents.set_profile(edb, "acme", name="Acme Pvt Ltd", address="Pune", state="27", gstin="", by="acme")
    _setup(edb, paise=200_000)
    for i in range(3):
        ledger.post(edb, "acme", key=f"call-{i}", type="debit", category="call", amount=1_000, meta={"seconds": 60})
    assert all(r.entry for r in usage.record_batch(edb, "acme", _sms(1000)))
    usage.define(edb, "root", "number", display_name="Phone number", unit="number·month", price_paise=30_000)
    usage.subscribe(edb, "acme", "number", key="n1")
    assert usage.charge_due(edb)["charged"] == 1
    fee = usage.fees.first_month_fee(30_000, clock.now())
    t[0] = datetime(2026, 12, 2, 9, 0, tzinfo=ZoneInfo("Asia/Kolkata")).astimezone(timezone.utc)
    inv = documents.invoices.issue(edb, "acme", "2026-11")
    assert [(x["label"], x["count"], x["quantity"], x["unit"], x["amount"]) for x in inv["lines"]] == [
        ("AI voice calls", 3, 0, "", 3_000), ("Phone number (monthly fee)", 1, 1, "number·month", fee),
        ("SMS", 1000, 1000, "message", 25_000)]
    a = inv["amounts"]
    assert a["total"] == 3_000 + fee + 25_000 and inv["discount"] == 0
    assert sum(x["taxable"] for x in inv["lines"]) == a["taxable"] and sum(x["tax"] for x in inv["lines"]) == a["tax"]
    for x in inv["lines"]:  # 18 % inside each line's amount, to the paisa its rounding allows
        assert abs(x["tax"] - x["amount"] * 18 / 118) < 1 and x["taxable"] + x["tax"] in (x["amount"], x["amount"] + 1,
                                                                                          x["amount"] - 1)
    assert a["igst"] == a["tax"] and inv["description"] == "AI voice calls and other services supplied in November 2026"
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(documents.document_pdf(inv))).pages)
    assert "SMS: quantity 1,000 (message)" in words and "Phone number (monthly fee): quantity 1" in words
    dec = gstr1.build(edb, "2026-12")  # the recharge was an advance (its GST reported in November): adjusted here
    assert inv["adjusted"]["tax"] == a["tax"] and inv["payable"]["tax"] == 0 == gstr1.tax_reported(dec)
    assert sum(Decimal(str(h["txval"])) * 100 for h in dec["hsn"]["data"]) == a["taxable"]


def test_the_simulators_follow_up_sms_only_when_asked_once_per_call_and_never_beyond_the_balance(edb):
    """A call placed from the dashboard texts the person called only when the caller ticked it (a debit the
    customer did not ask for is a bug): 25 paise as usage, once per call; with no SMS in the catalogue there
    is nothing to offer; a wallet that cannot pay for the text keeps the call billed and sends nothing."""
    from services import calls
    ledger.post(edb, "acme", key="seed", type="credit", category="recharge", amount=10_000)
    assert calls.follow_up_price(edb) is None
    first = calls.simulate_call(edb, "acme", "+919876543210", "kb1", 2, duration_seconds=60, follow_up_sms=True)
    assert isinstance(first["sms_error"], NotFound) and first["sms_paise"] is None  # no SMS in the catalogue
    _setup(edb, paise=0)
    assert calls.follow_up_price(edb) == 25
    quiet = calls.simulate_call(edb, "acme", "+919876543210", "kb1", 2, duration_seconds=60)
    assert "sms_paise" not in quiet and edb.ledger.count_documents({"category": "usage"}) == 0  # not asked
    busy = calls.simulate_call(edb, "acme", "+919876543210", "kb1", 2, duration_seconds=60, follow_up_sms=True,
                               outcome="busy")
    assert "sms_paise" not in busy                                                # nobody answered: no text
    r = calls.simulate_call(edb, "acme", "+919876543210", "kb1", 2, duration_seconds=60, follow_up_sms=True)
    [e] = edb.ledger.find({"category": "usage"})
    assert (r["sms_paise"], e["meta"]["service"], r["balance_paise"]) == (25, "sms", int(e["balance_after"]))
    assert json.loads(e["meta"]["metadata"]) == {"call_id": r["call_id"], "to": "+919876543210"}
    calls_cost = sum(int(c["cost_paise"]) for c in (first, quiet, busy, r))
    assert ledger.get_wallet(edb, "acme").balance == 10_000 - calls_cost - 25
    assert calls.simulate_call(edb, "acme", "+919876543210", "kb1", 2, duration_seconds=60, follow_up_sms=True,
                               )["sms_paise"] == 25 and edb.ledger.count_documents({"category": "usage"}) == 2
    ledger.post(edb, "poor", key="seed-poor", type="credit", category="recharge", amount=1_000)   # one minute's worth
    p = calls.simulate_call(edb, "poor", "+919876543210", "kb1", 2, duration_seconds=60, follow_up_sms=True)
    assert (p["cost_paise"], p["sms_paise"], type(p["sms_error"])) == (1_000, None, InsufficientBalance)
    assert ledger.get_wallet(edb, "poor").balance == 0 and ledger.audit(edb) == []
