"""Campaigns: parse, estimate, run until the balance runs out, resume without placing or billing any
number twice, survive a SIGKILL mid-run.

The spec scenario and the crash test run on every target; the rest on the embedded engine.
"""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections import Counter

import pytest

from services import rates
from services import accounts, calls, campaigns, clock, ledger, money, telephony
from services.errors import Conflict, InvalidInput, NotFound
from tests.support import processes

KB = "kb_support"


def credit(db, uid, paise, key):
    return ledger.post(db, uid, key=key, type="credit", category="recharge", amount=paise)


def numbers(n, base=0):
    return [f"+9198{base + i:08d}" for i in range(n)]


def debits(db, uid):
    return [e for e in ledger.iter_entries(db, user_id=uid) if e["type"] == "debit"]


def snapshot(db, uid):
    w = ledger.get_wallet(db, uid)
    return (w.balance, w.held, sorted(e["_id"] for e in ledger.iter_entries(db, user_id=uid)),
            db.calls.count_documents({}), db.campaigns.count_documents({}))


# ------------------------------------------------------------------------------- the spec scenario

def test_spec_campaign_runs_out_then_resumes_after_recharge(db):
    credit(db, "camp", 10000, "rch-1")  # Rs. 100
    est = campaigns.estimate(db, "camp", 10, 2)
    assert (est["affordable"], est["calls"], est["cost_per_call_paise"], est["total_paise"]) == (5, 10, 2000, 20000)
    assert "You can afford 5 of 10 calls" in est["message"]
    c = campaigns.create_campaign(db, "camp", numbers(10), KB, 2)
    cid = c["campaign_id"]
    assert c["status"] == "ready" and c["estimate"]["affordable"] == 5

    backend = telephony.SimulatedBackend(120)  # each call talks its 2 expected minutes
    seen = []
    s = campaigns.run_campaign(db, "camp", cid, progress=seen.append, backend=backend)
    assert (s["status"], s["placed"], s["completed"], s["cut_off"], s["needs_recharge"], s["cost_paise"]) == \
        ("needs_recharge", 5, 5, 0, 5, 10000)
    assert ledger.get_wallet(db, "camp").balance == 0
    assert [x["completed"] for x in seen[:5]] == [1, 2, 3, 4, 5]  # progress as it went
    states = [it["state"] for it in campaigns.campaign_items(db, "camp", cid)]
    assert states == ["completed"] * 5 + ["needs_recharge"] * 5
    got = campaigns.get_campaign(db, "camp", cid)
    assert got["status"] == "needs_recharge" and got["progress"]["needs_recharge"] == 5
    assert campaigns.summary(db, "camp", cid)["needs_recharge"] == 5

    credit(db, "camp", 10000, "rch-2")
    s = campaigns.run_campaign(db, "camp", cid, backend=backend)
    assert (s["status"], s["placed"], s["completed"], s["needs_recharge"], s["cost_paise"]) == \
        ("completed", 10, 10, 0, 20000)
    assert ledger.get_wallet(db, "camp").balance == 0
    assert sorted(backend.dials) == sorted(campaigns.item_call_id(cid, i) for i in range(10))
    assert set(backend.dials.values()) == {1}  # no call placed twice
    ds = debits(db, "camp")
    assert len(ds) == 10 and {e["category"] for e in ds} == {"campaign"}
    assert Counter(e["meta"]["to_number"] for e in ds) == Counter(numbers(10))
    assert all(e["amount"] == 2000 and e["meta"]["seconds"] == 120 for e in ds)
    # Running a finished campaign again places nothing.
    assert campaigns.run_campaign(db, "camp", cid, backend=backend)["completed"] == 10
    assert sum(backend.dials.values()) == 10
    assert ledger.audit(db) == []


# ------------------------------------------------------------------------------------- input

def test_parse_numbers():
    # A 10-digit Indian mobile number is taken as +91; other digits without a country code are not.
    text = ("+919876543210, +919876543211\n\n  +91 98765 43212 ;9876543213\n+919876543210\nhello,+1-415-555-0100,"
            "4155550100")
    nums, bad = campaigns.parse_numbers(text)
    assert nums == ["+919876543210", "+919876543211", "+919876543212", "+919876543213", "+14155550100"]
    assert [(b["row"], b["value"]) for b in bad] == [(5, "+919876543210"), (6, "hello"), (8, "4155550100")]
    assert "country code" in bad[2]["reason"] and bad[0]["reason"] == "Duplicate of row 1."
    for empty in ("", "  \n , ,\n", "abc\n123"):
        with pytest.raises(InvalidInput, match="No valid phone numbers"):
            campaigns.parse_numbers(empty)
    with pytest.raises(InvalidInput):
        campaigns.parse_numbers(None)
    with pytest.raises(InvalidInput, match="at most 10,000"):
        campaigns.parse_numbers("\n".join(numbers(10_001)))
    assert len(campaigns.parse_numbers("\n".join(numbers(10_000)))[0]) == 10_000


def test_parse_csv():
    data = ("\ufeffname,To_Number ,city\n"
            "Asha,+919876543210,Pune\n"
            "Ravi,919876543211,Delhi\n"        # Excel ate the +: still an Indian mobile number
            "Joe,4155550100,Boston\n"          # no country code, not Indian: refused
            "\n"
            "Meena,+919876543212\n"
            "Dup,+919876543210,Pune\n"
            "Short\n"
            '"Quoted, Name","+91 98765 43213",X\n').encode()
    nums, bad = campaigns.parse_csv(data)
    assert nums == ["+919876543210", "+919876543211", "+919876543212", "+919876543213"]
    assert [(b["row"], b["reason"][:20]) for b in bad] == [
        (4, "'4155550100' needs a"), (7, "Duplicate of row 2."), (8, "No number in this ro")]


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"phone,name\n+919876543210,A\n", "needs a 'to_number' column"),
    (b"to_number\n", "no rows"),
    (b"to_number\nabc\n12345\n", "No valid phone numbers"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not a text CSV"),
    (bytes(range(256)) * 4, "not a text CSV"),
    (b"to_number\n+919876543210\x00\n", "binary"),
    ("to_number\n+919876543210\n".encode("utf-16"), "not a text CSV"),
    (None, "bytes"),
    ("to_number\n+919876543210\n", "bytes"),
])
def test_bad_csv_is_a_clear_error_and_bills_nothing(edb, data, message):
    credit(edb, "csv", 10000, "rch")
    before = snapshot(edb, "csv")
    with pytest.raises(InvalidInput) as exc:
        nums, _ = campaigns.parse_csv(data)
        campaigns.create_campaign(edb, "csv", nums, KB, 1)
    assert message in exc.value.message
    assert snapshot(edb, "csv") == before


def test_create_campaign_rejects_bad_input(edb):
    credit(edb, "cc", 10000, "rch")
    before = snapshot(edb, "cc")
    bad = [([], KB, 1), (["4155550100"], KB, 1), (numbers(2) + numbers(1), KB, 1), ("+919876543210", KB, 1),
           (numbers(10_001), KB, 1), (numbers(2), "bad kb", 1), (numbers(2), KB, 0), (numbers(2), KB, 1.5),
           (numbers(2), KB, True), (numbers(2), KB, 241)]
    for nums, kb, minutes in bad:
        with pytest.raises(InvalidInput):
            campaigns.create_campaign(edb, "cc", nums, kb, minutes)
    for kw in ({"max_minutes": 1}, {"concurrency": 0}, {"concurrency": 21}, {"name": "x" * 101}, {"key": ""}):
        with pytest.raises(InvalidInput):
            campaigns.create_campaign(edb, "cc", numbers(2), KB, 2, **kw)
    assert snapshot(edb, "cc") == before
    a = campaigns.create_campaign(edb, "cc", numbers(2), KB, 2, key="form-1")
    assert campaigns.create_campaign(edb, "cc", numbers(2), KB, 2, key="form-1")["campaign_id"] == a["campaign_id"]
    assert len(campaigns.list_campaigns(edb, "cc")) == 1


def test_unknown_or_foreign_campaign(edb):
    credit(edb, "own", 10000, "rch")
    c = campaigns.create_campaign(edb, "own", numbers(2), KB, 1)
    before = snapshot(edb, "own")
    for fn in (campaigns.get_campaign, campaigns.run_campaign, campaigns.summary, campaigns.campaign_items):
        with pytest.raises(NotFound):
            fn(edb, "thief", c["campaign_id"])
        with pytest.raises(NotFound):
            fn(edb, "own", "0" * 20)
        with pytest.raises(InvalidInput):
            fn(edb, "own", "../etc")
    assert campaigns.list_campaigns(edb, "thief") == []
    assert snapshot(edb, "own") == before


# ---------------------------------------------------------------------------------------- estimate

def test_estimate(edb):
    e = campaigns.estimate(edb, "est", 3, 2)
    assert (e["affordable"], e["available_paise"], e["shortfall_paise"]) == (0, 0, 6000)
    credit(edb, "est", 10000, "rch")
    rates.set_call_rate(edb, "5", by="admin")  # Rs. 5 per 1-minute call, but Rs. 10 to start one
    e = campaigns.estimate(edb, "est", 50, 1)
    assert (e["cost_per_call_paise"], e["affordable"], e["total_paise"]) == (500, 19, 25000)
    assert e["shortfall_paise"] == 25000 - 10000 + 500  # the last call still needs Rs. 10 to start
    assert campaigns.estimate(edb, "est", 5, 1)["affordable"] == 5
    accounts.create_user(edb, "est2", "pass-phrase-1", "Est", "est@example.com")
    credit(edb, "est2", 100000, "rch2")
    rates.set_user_value(edb, "est2", "daily_cap_paise", 1200, by="admin")
    assert campaigns.estimate(edb, "est2", 10, 1)["affordable"] == 2  # the daily cap binds
    for bad in ((0, 1), (10_001, 1), (True, 1), (5, 0), (5, "2")):
        with pytest.raises(InvalidInput):
            campaigns.estimate(edb, "est", *bad)


# ------------------------------------------------------------------------------ running details

def test_concurrent_campaign_never_overdraws_and_resumes(edb):
    start = 30000
    credit(edb, "par", start, "rch-1")
    c = campaigns.create_campaign(edb, "par", numbers(40), KB, 2, max_minutes=3, concurrency=4)
    cid = c["campaign_id"]
    low = []
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            w = ledger.get_wallet(edb, "par")
            if w.balance < 0 or w.held > w.balance:
                low.append((w.balance, w.held))
            stop.wait(0.002)
    t = threading.Thread(target=sampler)
    t.start()

    def dur(i, n):
        return (i * 53) % 200  # 0 .. 199 s, some past the 180 s maximum

    s1 = campaigns.run_campaign(edb, "par", cid, duration=dur)
    stop.set()
    t.join()
    assert low == []
    assert s1["status"] == "needs_recharge" and s1["needs_recharge"] > 0
    assert sum(e["amount"] for e in debits(edb, "par")) <= start
    credit(edb, "par", 200000, "rch-2")
    s2 = campaigns.run_campaign(edb, "par", cid, duration=dur)
    assert (s2["status"], s2["completed"], s2["needs_recharge"]) == ("completed", 40, 0)
    ds = debits(edb, "par")
    assert Counter(e["meta"]["call_id"] for e in ds).most_common(1)[0][1] == 1
    # Each call billed its own duration, capped at what its hold covered (the last calls before the
    # money ran out may have held less than 3 minutes).
    docs = {d["_id"]: d for d in edb.calls.find({"campaign_id": cid, "status": "completed"})}
    assert len(docs) == 40
    cut = 0
    for i in range(40):
        d = docs[campaigns.item_call_id(cid, i)]
        billed = min(dur(i, ""), int(d["max_duration_seconds"]))
        assert (int(d["billed_seconds"]), int(d["cost_paise"])) == (billed, money.cost_paise(billed, 1000))
        cut += dur(i, "") > int(d["max_duration_seconds"])
    total = sum(int(d["cost_paise"]) for d in docs.values())
    assert s2["cost_paise"] == total == sum(e["amount"] for e in ds)
    assert s2["cut_off"] == cut > 0
    w = ledger.get_wallet(edb, "par")
    assert w.balance == start + 200000 - total and w.held == 0
    assert ledger.audit(edb) == []


def test_spend_cap_pauses_a_campaign(edb):
    accounts.create_user(edb, "cap", "pass-phrase-1", "Cap", "cap@example.com")
    credit(edb, "cap", 100000, "rch")
    rates.set_user_value(edb, "cap", "daily_cap_paise", 5000, by="admin")
    c = campaigns.create_campaign(edb, "cap", numbers(6), KB, 2)
    s = campaigns.run_campaign(edb, "cap", c["campaign_id"])
    assert (s["status"], s["completed"], s["spend_cap"], s["cost_paise"]) == ("spend_cap", 2, 4, 4000)
    assert "Daily spend limit" in s["message"]
    rates.set_user_value(edb, "cap", "daily_cap_paise", None, by="admin")
    s = campaigns.run_campaign(edb, "cap", c["campaign_id"])
    assert (s["status"], s["completed"], s["cost_paise"]) == ("completed", 6, 12000)
    assert ledger.audit(edb) == []


def test_a_live_runner_is_not_doubled_but_a_dead_one_is_taken_over(edb):
    credit(edb, "lease", 100000, "rch")
    c = campaigns.create_campaign(edb, "lease", numbers(3), KB, 1)
    cid = c["campaign_id"]
    live = {"runner_id": "other", "runner_pid": os.getpid(), "runner_host": socket.gethostname(),
            "runner_until": clock.now() + campaigns.LEASE, "status": "running"}
    edb.campaigns.update_one({"_id": cid}, {"$set": live})
    before = snapshot(edb, "lease")
    with pytest.raises(Conflict, match="already running"):
        campaigns.run_campaign(edb, "lease", cid)
    assert snapshot(edb, "lease") == before
    gone = subprocess.Popen(["true"])
    gone.wait()
    edb.campaigns.update_one({"_id": cid}, {"$set": {"runner_pid": gone.pid}})  # that process is gone
    assert campaigns.get_campaign(edb, "lease", cid)["status"] == "running"
    assert campaigns.run_campaign(edb, "lease", cid)["completed"] == 3


# ------------------------------------------------------------------------------------- the crash

def _child_duration(i, to_number):
    return 20 + (i * 37) % 110  # 20 .. 129 s: some past the 2-minute maximum


def run_in_child(spec, uid, cid, conc):
    from services import campaigns as camps, db as dbmod
    db = dbmod.open_db(uri=spec["uri"], name=spec["name"], path=spec["path"])
    camps.run_campaign(db, uid, cid, duration=_child_duration, concurrency=conc)


def test_sigkill_mid_campaign_bills_every_number_at_most_once(target):
    db, spec = target
    wire = spec["path"] is None
    n = 12 if wire else 60
    credit(db, "crash", 10**7, "rch")
    c = campaigns.create_campaign(db, "crash", numbers(n), KB, 1, max_minutes=2)
    cid = c["campaign_id"]
    for round_, (conc, kill_at) in enumerate(((1, 3 if wire else 8), (3, 6 if wire else 25))):
        p = processes.start(run_in_child, spec, "crash", cid, conc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db.calls.count_documents({"campaign_id": cid, "status": "completed"}) >= kill_at:
                break
            time.sleep(0.005)
        # Finishing first would leave this round nothing to prove: the campaign is far longer than kill_at.
        assert processes.kill(p), f"round {round_}: the child finished before the kill"
        # After each kill: nothing billed twice, whatever state the calls were left in.
        per_number = Counter(e["meta"]["to_number"] for e in debits(db, "crash"))
        assert not per_number or per_number.most_common(1)[0][1] == 1
    ledger.recover(db)
    calls.recover_stale_calls(db)
    s = campaigns.run_campaign(db, "crash", cid, duration=_child_duration)
    assert (s["status"], s["completed"]) == ("completed", n)
    ds = debits(db, "crash")
    assert Counter(e["meta"]["to_number"] for e in ds) == Counter(numbers(n))  # each exactly once
    want = [money.cost_paise(min(_child_duration(i, ""), 120), 1000) for i in range(n)]
    assert sorted(e["amount"] for e in ds) == sorted(want) and s["cost_paise"] == sum(want)
    still_open = [calls.STARTING, calls.ACTIVE, calls.ENDING, calls.EXPIRING]
    assert db.calls.count_documents({"campaign_id": cid, "status": {"$in": still_open}}) == 0
    w = ledger.get_wallet(db, "crash")
    assert (w.balance, w.held) == (10**7 - sum(want), 0)
    assert ledger.audit(db) == []


def test_backend_failures_fail_the_item_not_the_campaign(edb):
    credit(edb, "flaky", 100000, "rch")

    class Flaky(telephony.SimulatedBackend):
        def place(self, to_number, kb_id, max_seconds, *, call_id):
            if call_id.endswith("_1"):
                raise ConnectionError("carrier busy")
            if call_id.endswith("_2"):
                return telephony.SimulatedHandle("x", to_number, kb_id, max_seconds, -5)  # nonsense
            return super().place(to_number, kb_id, max_seconds, call_id=call_id)
    c = campaigns.create_campaign(edb, "flaky", numbers(4), KB, 1)
    s = campaigns.run_campaign(edb, "flaky", c["campaign_id"], backend=Flaky(60))
    assert (s["status"], s["completed"], s["failed"], s["cost_paise"]) == ("completed", 2, 2, 2000)
    items = campaigns.campaign_items(edb, "flaky", c["campaign_id"])
    assert [it["state"] for it in items] == ["completed", "failed", "failed", "completed"]
    assert "carrier busy" in calls.get_call(edb, "flaky", items[1]["call_id"])["message"]
    w = ledger.get_wallet(edb, "flaky")
    assert (w.balance, w.held) == (98000, 0) and len(debits(edb, "flaky")) == 2
    assert ledger.audit(edb) == []
