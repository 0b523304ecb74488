"""Low-balance alerts: decided from the entries that cross a line, delivered by e-mail (a real SMTP server,
aiosmtpd) and a signed webhook (a real HTTP receiver that verifies every signature), each with a
payment link that the Razorpay sandbox really pays. No mocks of smtplib or httpx."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from services import rates
from services import accounts, alerts, calls, campaigns, clock, ledger, settings, spending, telephony, wallet
from services.alerts import outbox, prefs, thresholds
from services.errors import BelowMinimum, InvalidAmount, InvalidInput, NotFound
from tests.support.alerts import pay_link, subscribe

KB = "kb_sales"


def numbers(n, base=0):
    return [f"+9198{base + i:08d}" for i in range(n)]


def recharge(db, uid, paise, key):
    return ledger.post(db, uid, key=key, type="credit", category="recharge", amount=paise, source="test")


def customer(db, uid="shop"):
    accounts.create_user(db, uid, "password-1", "Shop", f"{uid}@example.com")
    alerts.derive(db)  # the worker is running before the customer does anything
    return uid


def drain_by_campaign(db, uid, calls_of_one_minute):
    c = campaigns.create_campaign(db, uid, numbers(calls_of_one_minute), KB, 1)
    return campaigns.run_campaign(db, uid, c["campaign_id"], backend=telephony.SimulatedBackend(60))


def link_in(text: str) -> str:
    return re.search(r"https?://\S+/pay/plink_\w+", text).group(0)


# ----------------------------------------------------------------------------------- the must-show

def test_campaign_drains_through_three_lines_then_the_paid_link_rearms_them(edb, wired):
    sink, endpoint, rzp = wired
    uid = customer(edb)
    subscribe(edb, uid, endpoint, thresholds=["50"], emails=["finance@shop.in", "ops@shop.in"])
    recharge(edb, uid, 10_000, "first")  # Rs. 100: also the "usual amount" of the links
    s = drain_by_campaign(edb, uid, 10)  # ten calls of Rs. 10
    assert s["completed"] == 10 and ledger.get_wallet(edb, uid).balance == 0
    assert wallet.balance(edb, uid).low  # the in-app warning stays

    out = alerts.run(edb)
    assert out["written"] == 3 and out["sent"] == 6, out
    mails = sink.messages()
    hooks = endpoint.events(uid)
    assert [m["subject"] for m in mails] == ["Low balance: Rs. 40.00 left (below Rs. 50.00)",
                                             "Low balance: Rs. 10.00 left (below Rs. 20.00)",
                                             "Your wallet is empty: calls have stopped"]
    assert all(m["rcpt_tos"] == ["finance@shop.in", "ops@shop.in"] for m in mails)
    assert [h["type"] for h in hooks] == ["wallet.balance_low", "wallet.balance_low", "wallet.balance_zero"]
    assert [h["body"]["data"]["threshold_paise"] for h in hooks] == [5000, 2000, 0]
    assert all(h["signature_ok"] for h in hooks)
    # Each carries its own working link for the usual amount, the same in the e-mail and the webhook.
    urls = [h["body"]["data"]["recharge"]["url"] for h in hooks]
    assert len(set(urls)) == 3 and [link_in(m["text"]) for m in mails] == urls
    assert all(h["body"]["data"]["recharge"]["amount_paise"] == 10_000 for h in hooks)
    for h in hooks:
        link = next(x for x in rzp.sandbox.links.values() if x["short_url"] == h["body"]["data"]["recharge"]["url"])
        assert 7 * 86400 - 120 <= link["expire_by"] - link["created_at"] <= 7 * 86400 + 120
    assert alerts.run(edb) == {"written": 0, "sent": 0, "retrying": 0, "failed": 0, "waiting": 0}

    # Paying the last alert's link credits once (a repeated callback changes nothing) ...
    paid = pay_link(edb, uid, urls[-1])
    assert paid["outcome"] in ("credited", "already_credited") and ledger.get_wallet(edb, uid).balance == 10_000
    assert len(ledger.entries(edb, uid, category="recharge")[0]) == 2
    # ... and re-arms every line: draining again alerts again, three times, in order.
    drain_by_campaign(edb, uid, 10)
    out = alerts.run(edb)
    assert out["written"] == 3 and out["sent"] == 6, out
    assert [m["subject"][:20] for m in sink.messages()[3:]] == ["Low balance: Rs. 40.", "Low balance: Rs. 10.",
                                                                "Your wallet is empty"]
    assert len(endpoint.events(uid)) == 6 and all(h["signature_ok"] for h in endpoint.events(uid))
    assert len({h["event_id"] for h in endpoint.events(uid)}) == 6
    assert ledger.audit(edb) == []


def test_twenty_concurrent_calls_crossing_a_line_alert_once(db, wired):
    sink, endpoint, _ = wired
    uid = customer(db, "busy")
    subscribe(db, uid, endpoint, thresholds=["100"])
    recharge(db, uid, 25_000, "fund")  # Rs. 250; twenty calls of Rs. 10 end at Rs. 50
    rates.set_user_value(db, uid, "max_concurrent_calls", 20, by="test")  # the default allows 10 at once
    started = [calls.start_call(db, uid, n, KB, 1)["call_id"] for n in numbers(20)]
    barrier, errors = threading.Barrier(20), []

    def end(cid):
        barrier.wait()
        try:
            calls.end_call(db, uid, cid, 60)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=end, args=(c,)) for c in started]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and ledger.get_wallet(db, uid).balance == 5_000
    out = alerts.run(db)
    assert out["written"] == 1, out
    [a] = alerts.of_user(db, uid)
    assert (a["kind"], a["threshold_paise"], a["status"]) == ("threshold", 10_000, "sent")
    assert len(sink.messages()) == 1 and len(endpoint.events(uid)) == 1
    # Holds coming and going do not move the balance: nothing more to say.
    cid = calls.start_call(db, uid, numbers(1, 50)[0], KB, 1)["call_id"]
    calls.end_call(db, uid, cid, 0)
    assert alerts.run(db)["written"] == 0


def test_a_hovering_balance_does_not_spam_and_zero_always_alerts(edb, wired):
    sink, endpoint, _ = wired
    uid = customer(edb, "hover")
    recharge(edb, uid, 2_500, "fund")
    for i in range(5):  # Rs. 25 -> 19 -> 18 ... under the Rs. 20 line: one alert
        ledger.post(edb, uid, key=f"d{i}", type="debit", category="call", amount=600 if i == 0 else 100)
    assert [a["threshold_paise"] for a in alerts.of_user(edb, uid)] == []  # nothing until the worker looks
    alerts.run(edb)
    assert [a["kind"] for a in alerts.of_user(edb, uid)] == ["threshold"]
    # A credit that does not reach the line re-arms nothing.
    ledger.post(edb, uid, key="small", type="credit", category="promo_credit", amount=100)
    ledger.post(edb, uid, key="d9", type="debit", category="call", amount=100)
    assert alerts.run(edb)["written"] == 0
    # Zero alerts even with every threshold gone (the platform's set to 0, none of the customer's).
    settings.set_value(edb, "low_balance_paise", 0, by="admin")
    left = ledger.get_wallet(edb, uid).balance
    ledger.post(edb, uid, key="last", type="debit", category="call", amount=left)
    alerts.run(edb)
    assert [a["kind"] for a in alerts.of_user(edb, uid)] == ["zero", "threshold"]
    assert len(sink.messages()) == 2  # webhook off: e-mail only (to the account's address)
    assert sink.messages()[0]["rcpt_tos"] == ["hover@example.com"]


def test_staff_wallets_and_history_before_the_feature_are_not_alerted(edb, wired):
    accounts.create_user(edb, "old", "password-1", "Old", "old@example.com")
    recharge(edb, "old", 5_000, "old-fund")
    ledger.post(edb, "old", key="old-spend", type="debit", category="call", amount=4_000)
    accounts.create_user(edb, "boss", "password-1", "Boss", "boss@example.com", "admin")
    alerts.derive(edb)  # the first pass: "old" crossed Rs. 20 before alerts existed
    assert alerts.recent(edb) == []
    ledger.post(edb, "boss", key="b1", type="credit", category="manual_credit", amount=100)
    ledger.post(edb, "boss", key="b2", type="debit", category="call", amount=100)
    ledger.post(edb, "old", key="old-last", type="debit", category="call", amount=1_000)
    assert alerts.derive(edb) == 1
    assert [a["user_id"] for a in alerts.recent(edb)] == ["old"]


# ----------------------------------------------------------------------------------------- runway

def _at(monkeypatch, t):
    monkeypatch.setattr(clock, "now", lambda: t)


def test_runway_matches_a_hand_computation_over_seven_business_days(edb, wired, monkeypatch):
    sink, endpoint, _ = wired
    today = clock.now().replace(hour=10, minute=0, second=0, microsecond=0)
    _at(monkeypatch, today - timedelta(days=10))
    uid = customer(edb, "steady")
    subscribe(edb, uid, endpoint, runway_days=2)
    recharge(edb, uid, 100_000, "fund")  # Rs. 1,000, ten days ago
    # Spend on the 7 whole days before today (oldest first), and some 8 days ago, outside the window.
    spend = {8: 9_999, 7: 7_000, 6: 0, 5: 14_000, 4: 21_000, 3: 0, 2: 7_000, 1: 21_000}
    for ago, paise in spend.items():
        _at(monkeypatch, today - timedelta(days=ago))
        if paise:
            ledger.post(edb, uid, key=f"spend-{ago}", type="debit", category="call", amount=paise)
        alerts.run(edb)
    _at(monkeypatch, today)
    # By hand: 70,000 paise over 7 days = Rs. 100 a day; Rs. 1,000 - 99.99 - 700 = Rs. 200.01 left -> 2 days.
    balance = 100_000 - sum(spend.values())
    assert balance == 20_001
    yesterday = (today - timedelta(days=1)).date()
    r = spending.runway(edb, uid, window_days=7, through=yesterday, available=balance)
    assert r == {"days": 2, "avg_daily_paise": 10_000, "available_paise": 20_001, "window_days": 7}
    assert spending.runway_basis(edb, uid, window_days=7, through=yesterday) == (70_000, 7)
    assert alerts.of_user(edb, uid) == []  # 2 days is not under 2
    ledger.post(edb, uid, key="today-1", type="debit", category="call", amount=2)  # Rs. 199.99: 1 day
    assert alerts.run(edb)["written"] == 1
    [a] = alerts.of_user(edb, uid)
    assert (a["kind"], a["runway_days"], a["threshold_paise"]) == ("runway", 1, 20_000)
    [hook] = endpoint.events(uid)
    assert hook["type"] == "wallet.runway_low" and hook["body"]["data"]["runway_days"] == 1
    assert sink.messages()[-1]["subject"] == "About 1 day of calls left (Rs. 199.99)"
    ledger.post(edb, uid, key="today-2", type="debit", category="call", amount=100)
    assert alerts.run(edb)["written"] == 0  # still under 2 days: no second alert


def test_runway_of_a_young_wallet_counts_only_its_days():
    assert spending.runway_days(30_000, 70_000, 7) == 3
    assert spending.runway_days(0, 70_000, 7) == 0 and spending.runway_days(5, 0, 7) is None
    assert thresholds.runway_fell(20_001, 19_999, (70_000, 7), 2) == 1
    assert thresholds.runway_fell(19_999, 19_000, (70_000, 7), 2) is None  # already under: no new crossing
    assert thresholds.runway_line((70_000, 7), 2) == 20_000


def test_runway_window_starts_with_the_wallet(edb, monkeypatch):
    today = clock.now().replace(hour=10, minute=0, second=0, microsecond=0)
    _at(monkeypatch, today - timedelta(days=3))
    recharge(edb, "young", 10_000, "f")
    ledger.post(edb, "young", key="s", type="debit", category="call", amount=3_000)
    _at(monkeypatch, today)
    yesterday = (today - timedelta(days=1)).date()
    assert spending.runway_basis(edb, "young", window_days=7, through=yesterday) == (3_000, 3)
    assert spending.runway(edb, "young", window_days=7, through=yesterday)["days"] == 7  # 7,000 * 3 // 3,000
    new = "newborn"
    recharge(edb, new, 100, "g")
    assert spending.runway_basis(edb, new, window_days=7, through=yesterday) == (0, 0)


# ------------------------------------------------------------------------- the receiver down an hour

def test_receiver_down_for_an_hour_backs_off_logs_each_try_and_blocks_nothing(edb, wired, monkeypatch):
    sink, endpoint, rzp = wired
    uid = customer(edb, "night")
    subscribe(edb, uid, endpoint)
    recharge(edb, uid, 2_500, "fund")
    endpoint.stop()
    t0 = clock.now()
    t = [t0]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    rzp.sandbox.clock = lambda: t[0].timestamp()
    ledger.post(edb, uid, key="cross", type="debit", category="call", amount=1_000)
    alerts.run(edb)  # e-mail goes at once; the webhook is refused
    [a] = alerts.of_user(edb, uid)
    assert (a["email_state"], a["webhook_state"], a["webhook_attempts"]) == ("sent", "pending", 1)
    # An hour of the worker's 30-second ticks while calls and recharges go on.
    for step in range(1, 121):
        t[0] = t0 + timedelta(seconds=30 * step)
        alerts.run(edb)
        if step % 20 == 0:
            cid = calls.start_call(edb, uid, numbers(1, step)[0], KB, 1)["call_id"]
            assert calls.end_call(edb, uid, cid, 6)["status"] == "completed"
            recharge(edb, uid, 100, f"top-{step}")
    log = alerts.delivery_log(edb, uid)[::-1]
    offsets = [round((r["at"] - t0).total_seconds()) for r in log]
    assert offsets == [0, 30, 90, 210, 450, 930, 1890], offsets  # 30 s doubling: 7 tries in the hour
    assert [r["attempt"] for r in log] == list(range(1, 8)) and not any(r["ok"] for r in log)
    assert all("ConnectError" in r["error"] for r in log)
    [a] = alerts.of_user(edb, uid)
    assert (a["status"], a["webhook_state"], a["webhook_attempts"]) == ("pending", "pending", 7)
    # Back up: the next try (63.5 minutes after the first) delivers, signed, with the same event id.
    endpoint.start()
    t[0] = t0 + timedelta(seconds=3810)
    alerts.run(edb)
    [hook] = endpoint.events(uid)
    assert hook["signature_ok"] and hook["event_id"] == a["event_id"]
    assert alerts.delivery_log(edb, uid)[0]["ok"] and alerts.of_user(edb, uid)[0]["status"] == "sent"


def test_a_receiver_down_for_a_day_fails_the_alert_for_admins_to_see(edb, wired, monkeypatch):
    sink, endpoint, _ = wired
    uid = customer(edb, "gone")
    subscribe(edb, uid, endpoint)
    recharge(edb, uid, 2_500, "fund")
    endpoint.mode = "error"  # answers 503 every time
    t0 = clock.now()
    t = [t0]
    monkeypatch.setattr(clock, "now", lambda: t[0])
    ledger.post(edb, uid, key="cross", type="debit", category="call", amount=1_000)
    while t[0] < t0 + timedelta(hours=25):
        alerts.run(edb)
        t[0] += timedelta(minutes=10)
    [a] = alerts.recent(edb, status="failed")
    assert a["webhook_state"] == "failed" and a["email_state"] == "sent" and a["webhook_last_error"] == "HTTP 503"
    assert 24 <= a["webhook_attempts"] <= 32  # 7 in the first hour, then hourly
    assert alerts.counts(edb)["failed"] == 1
    assert all(h["signature_ok"] for h in endpoint.events(uid))


def test_smtp_down_retries_then_sends_once_with_the_same_message_id(edb, wired, monkeypatch):
    sink, endpoint, _ = wired
    uid = customer(edb, "mailer")
    recharge(edb, uid, 2_500, "fund")
    monkeypatch.setenv("SMTP_PORT", "1")  # nothing listens there
    ledger.post(edb, uid, key="cross", type="debit", category="call", amount=1_000)
    out = alerts.run(edb)
    assert out["retrying"] == 1
    [a] = alerts.of_user(edb, uid)
    assert a["email_state"] == "pending" and "ConnectionRefused" in a["email_last_error"]
    monkeypatch.setenv("SMTP_PORT", str(sink.smtp_port))
    doc = outbox.get(edb, a["id"])
    edb.alerts.update_one({"_id": a["id"]}, {"$set": {"next_at": clock.now(), "email.next_at": clock.now()}})
    assert alerts.run(edb)["sent"] == 1
    [m] = sink.messages()
    assert m["message_id"] == doc["message_id"]


def test_the_link_is_made_once_per_alert(edb, wired):
    """The link is made once per alert, under the alert's own reference: asking again returns it."""
    from services import payments
    sink, endpoint, _ = wired
    uid = customer(edb, "linky")
    recharge(edb, uid, 2_500, "fund")
    ledger.post(edb, uid, key="cross", type="debit", category="call", amount=1_000)
    alerts.run(edb)
    doc = edb.alerts.find_one({"user_id": uid})
    again = payments.create_payment_link(edb, uid, 25, expire_in=timedelta(days=7), reference=doc["link_ref"])
    assert again["reused"] and again["short_url"] == doc["link"]["short_url"]
    assert again["amount_paise"] == 2_500  # the last recharge, not the amount asked the second time
    assert len(payments.list_links(edb, uid)) == 1
    # A plain recharge of the same amount is not handed the alert's link (nor the other way round).
    plain = payments.create_payment_link(edb, uid, 25)
    assert plain["short_url"] != doc["link"]["short_url"] and not plain["reused"]


# ------------------------------------------------------------------------------------ preferences

def test_preferences_are_checked_and_bad_input_writes_nothing(edb, monkeypatch):
    accounts.create_user(edb, "pref", "password-1", "Pref", "pref@example.com")
    p = alerts.get_prefs(edb, "pref")
    assert (p.thresholds, p.runway_days, p.emails, p.emails_set, p.webhook_url) == ((), 2, ("pref@example.com",),
                                                                                     False, "")
    bad = [dict(thresholds=["1", "2", "3", "4"]), dict(thresholds=["-5"]), dict(thresholds=["abc"]),
           dict(thresholds="50"), dict(thresholds=[True]), dict(runway_days=-1), dict(runway_days=61),
           dict(runway_days=True), dict(emails=["not-an-address"]), dict(emails="a@b.co"),
           dict(emails=[f"u{i}@x.co" for i in range(6)]), dict(webhook_url="ftp://x.co/h"),
           dict(webhook_url="http://user:pw@x.co/h"), dict(webhook_url="http://x.co:port/"),
           dict(webhook_url="x" * 501), dict(webhook_url=5), dict(thresholds=["0.001"])]
    for kw in bad:
        with pytest.raises((InvalidInput, InvalidAmount, BelowMinimum)):
            alerts.update(edb, "pref", **kw)
    assert edb.alert_prefs.count_documents({}) == 0
    with pytest.raises(NotFound):
        alerts.update(edb, "nobody", runway_days=3)
    p = alerts.update(edb, "pref", thresholds=["500", "50", "1,000", "50.00"], emails=[" Finance@Shop.in ",
                                                                                       "ops@shop.in"],
                      webhook_url="https://hooks.example.com/w", runway_days=0)
    assert p.thresholds == (100_000, 50_000, 5_000) and p.emails == ("finance@shop.in", "ops@shop.in")
    assert p.webhook_secret.startswith("whsec_") and p.runway_days == 0
    assert prefs.thresholds_of(edb, p) == (100_000, 50_000, 5_000, 2_000)
    secret = p.webhook_secret
    assert alerts.update(edb, "pref", webhook_url="https://hooks.example.com/v2").webhook_secret == secret
    assert alerts.rotate_secret(edb, "pref").webhook_secret != secret
    assert alerts.update(edb, "pref", emails=[]).emails == ()
    # A private address is refused when saved and at delivery unless the operator allows it (development).
    monkeypatch.delenv("WALLET_WEBHOOK_PRIVATE_OK", raising=False)
    with pytest.raises(InvalidInput, match="private or local"):
        alerts.update(edb, "pref", webhook_url="http://127.0.0.1:9/hook")
    monkeypatch.setenv("WALLET_WEBHOOK_PRIVATE_OK", "1")
    alerts.update(edb, "pref", webhook_url="http://127.0.0.1:9/hook")
    monkeypatch.delenv("WALLET_WEBHOOK_PRIVATE_OK")  # saved while allowed: still refused when sent
    out = alerts.send_test(edb, "pref")
    assert not out["ok"] and "private or local" in out["error"]


def test_send_test_event_is_signed_and_logged(edb, endpoint, monkeypatch):
    monkeypatch.setenv("WALLET_WEBHOOK_PRIVATE_OK", "1")
    accounts.create_user(edb, "tester", "password-1", "T", "t@example.com")
    with pytest.raises(InvalidInput):
        alerts.send_test(edb, "tester")
    subscribe(edb, "tester", endpoint)
    out = alerts.send_test(edb, "tester")
    assert out["ok"] and out["status_code"] == 200
    [hook] = endpoint.events("tester")
    assert hook["signature_ok"] and hook["type"] == "wallet.test" and hook["event_id"] == out["event_id"]
    endpoint.secrets["tester"] = "wrong"  # the receiver now refuses: the log says so
    assert alerts.send_test(edb, "tester")["status_code"] == 401
    assert [r["ok"] for r in alerts.delivery_log(edb, "tester")] == [False, True]


def test_signature_is_hmac_sha256_over_the_raw_bytes():
    import hashlib
    import hmac
    raw = b'{"a":1}'
    assert alerts.sign("s3cret", raw) == "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    assert alerts.verify("s3cret", raw, alerts.sign("s3cret", raw))
    assert not alerts.verify("s3cret", raw + b" ", alerts.sign("s3cret", raw))
    assert not alerts.verify("s3cret", raw, None)


def test_backoff_doubles_to_an_hour():
    assert [int(outbox.backoff(n).total_seconds()) for n in range(1, 10)] == \
        [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_crossing_rules():
    assert thresholds.crossed(10_000, 4_000, (5_000, 2_000)) == (5_000,)
    assert thresholds.crossed(5_000, 4_999, (5_000,)) == (5_000,)
    assert thresholds.crossed(4_999, 100, (5_000,)) == ()
    assert thresholds.crossed(10_000, 1_000, (5_000, 2_000)) == (5_000, 2_000)
    assert thresholds.crossed(10_000, 0, (5_000,), "admin") == ()
    c = thresholds.judge(6_000, 0, (5_000, 2_000), "user", None, 2)
    assert (c.kind, c.label, c.crossed) == ("zero", "zero", (5_000, 2_000))
    c = thresholds.judge(6_000, 1_000, (5_000, 2_000), "user", None, 2)
    assert (c.kind, c.threshold, c.label) == ("threshold", 2_000, "below-2000")
    assert thresholds.judge(6_000, 0, (5_000,), "analyst", None, 2) is None
    assert thresholds.judge(100, 50, (), "user", (0, 0), 2) is None
    assert outbox.alert_id("u", "zero", 7) == "u|zero|7"


def test_an_alerts_recharge_line_names_what_the_payer_pays_with_gst_on_top():
    """The one-click recharge in an alert charges what the link charges: with GST on top the message says
    so, beside what reaches the wallet (without GST the one amount is both)."""
    from services.alerts import message
    link = {"short_url": "https://rzp.io/x", "amount_paise": 50_000, "expire_by": clock.now()}
    with_gst = message.recharge_line({"kind": "threshold", "link": dict(link, charged_paise=59_000)})
    assert with_gst.startswith("Recharge Rs. 500.00 (you pay Rs. 590.00 with GST) in one click: https://rzp.io/x")
    plain = message.recharge_line({"kind": "threshold", "link": link})
    assert plain.startswith("Recharge Rs. 500.00 in one click: https://rzp.io/x")
