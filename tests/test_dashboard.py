"""The Streamlit dashboard, driven by AppTest against the embedded engine (and the Razorpay sandbox
for payments): sign-in, each role's navigation, every page, and the report/CSV functions behind them."""
from __future__ import annotations

import base64
import csv
import io
import json
import os
from datetime import timedelta

import httpx
import jwt
import pytest
from streamlit.testing.v1 import AppTest

import app_ui
from services import accounts, calls, clock, csvout, ledger, rates, reports, settings, spending, tokens, users, wallet
from services.errors import InvalidPayment
from tests.support import seeding
from tests.support.dashboard import APP, COOKIE_KEY, PW, ROOT, app, fund, login, markdown, signed_in, texts

# Page scripts under app_pages/, without ".py".
ADMIN_PAGES = ["admin/overview", "admin/users", "admin/credits", "admin/rates", "admin/services", "admin/payments",
               "admin/audit"]
ALL_PAGES = ["wallet", "transactions", "calls", "insights", "account", *ADMIN_PAGES, "analyst"]
ROLE_PAGES = {"user": ["wallet", "transactions", "calls", "insights", "account"], "admin": [*ADMIN_PAGES, "analyst"],
              "analyst": ["analyst"]}


def values(v):
    """Plotly ships number arrays as base64 typed arrays."""
    if isinstance(v, dict) and "bdata" in v:
        import numpy as np
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return v


# ------------------------------------------------------------------------------------------ sign-in

def test_missing_cookie_key_stops_with_instructions(adb, monkeypatch):
    monkeypatch.delenv("WALLET_COOKIE_KEY", raising=False)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "WALLET_COOKIE_KEY" in texts(at.error) and "cookie_key" in texts(at.error)
    assert not at.text_input  # no sign-in form without a key


@pytest.mark.parametrize("key,works", [(COOKIE_KEY, True), ("k" * 31, False)])
def test_cookie_key_from_secrets_toml_as_documented(adb, monkeypatch, tmp_path, key, works):
    # .streamlit/secrets.toml.example documents a top-level `cookie_key`; too short a key is refused.
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'cookie_key = "{key}"\n', encoding="utf-8")
    monkeypatch.setenv("WALLET_SECRETS_FILE", str(secrets))
    monkeypatch.delenv("WALLET_COOKIE_KEY", raising=False)
    at = app().run()
    assert not at.exception
    assert bool(at.text_input) is works and ("cookie key" in texts(at.error)) is not works
    if works:
        assert login(at, "asha", PW).session_state["authentication_status"] is True


def test_login_form_signs_in_and_shows_the_wallet(adb):
    at = login(app().run(), "asha", PW)  # straight into the app: no run waits for the cookie
    assert not at.exception
    # No browser runs the cookie component here, so the cookie stays pending: written again on each run.
    assert at.session_state["_cookie_pending"] is True
    assert at.session_state["authentication_status"] is True
    assert "Wallet" in texts(at.title)
    assert "Rs. 0.00" in [m.value for m in at.metric]


def test_wrong_password_is_refused_and_repeated_failures_slow_that_address_only(adb, monkeypatch):
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now)  # the waits below are exact, however slow the machine
    at = login(app().run(), "asha", "not-the-password")
    assert texts(at.error) == "Wrong username or password."  # one message, nothing else
    assert at.session_state["authentication_status"] is not True
    for _ in range(tokens.FREE_FAILURES - 1):
        at = login(app().run(), "asha", "still-wrong")
    # This address now waits before its next attempt, the right password included: one message only.
    at = login(app().run(), "asha", PW)
    assert len(at.error) == 1 and "wait 2 seconds" in texts(at.error), texts(at.error)
    assert at.session_state["authentication_status"] is not True
    # The count is the API's too (one throttle in services.tokens for both doors) ...
    from services.errors import RateLimited
    with pytest.raises(RateLimited):
        tokens.login(adb, "asha", PW)
    # ... but it holds back this address only: the owner signs in from another one at once.
    assert tokens.login(adb, "asha", PW, client="203.0.113.7")
    # Once the wait has passed, the right password works here too and clears the count.
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(seconds=2))
    at = login(app().run(), "asha", PW)
    assert at.session_state["authentication_status"] is True
    assert adb.login_attempts.find_one({"_id": "a|asha|local"}) is None


def test_failures_below_the_limit_are_cleared_by_a_success(adb):
    for _ in range(2):
        login(app().run(), "asha", "wrong-password")
    assert adb.login_attempts.find_one({"_id": "a|asha|local"})["failures"] == 2
    at = login(app().run(), "asha", PW)
    assert at.session_state["authentication_status"] is True
    assert adb.login_attempts.find_one({"_id": "a|asha|local"}) is None


def test_sign_up_creates_a_user_with_an_empty_wallet(adb):
    at = app().run()
    form = {"Choose a username": "ravi_k", "Your name": "Ravi K", "Email": "ravi@example.com"}
    for ti in at.text_input:
        if ti.label in form:
            ti.input(form[ti.label])
    pw_fields = [ti for ti in at.text_input if ti.label in ("Choose a password", "Repeat the password")]
    for ti in pw_fields:
        ti.input("a-good-password")
    next(b for b in at.button if b.label == "Create account").click().run()
    assert not at.exception
    assert "ravi_k" in texts(at.success)
    assert users.get(adb, "ravi_k")["role"] == "user"
    assert wallet.balance(adb, "ravi_k").balance == 0
    at = login(app().run(), "ravi_k", "a-good-password").run()
    assert at.session_state["authentication_status"] is True


def test_sign_up_with_bad_input_writes_nothing(adb):
    at = app().run()
    for ti in at.text_input:
        if ti.label == "Choose a username":
            ti.input("X!")
    next(b for b in at.button if b.label == "Create account").click().run()
    assert "Username must be" in texts(at.error)
    assert adb.users.count_documents({}) == 3


# --------------------------------------------------------------------------------------- navigation

@pytest.mark.parametrize("role,username", [("user", "asha"), ("admin", "boss"), ("analyst", "ana")])
def test_each_role_gets_only_its_pages(adb, role, username):
    at = signed_in(username, role)
    for page in ALL_PAGES:
        if page in ROLE_PAGES[role]:
            at.switch_page(f"app_pages/{page}.py").run()
            assert not at.exception, (page, at.exception)
            assert not at.error, (page, texts(at.error))
        else:
            fresh = signed_in(username, role)  # AppTest knows the registered pages of the first run
            with pytest.raises(ValueError, match="Could not find"):
                fresh.switch_page(f"app_pages/{page}.py").run()


@pytest.mark.parametrize("page,role,username",
                         [(p, "user", "asha") for p in ADMIN_PAGES] + [(p, "analyst", "ana") for p in ADMIN_PAGES]
                         + [("analyst", "user", "asha"), ("wallet", "analyst", "ana")])
def test_a_page_refuses_a_role_that_reaches_it_directly(adb, page, role, username):
    at = AppTest.from_file(os.path.join(ROOT, "app_pages", f"{page}.py"), default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.run()
    assert "only" in texts(at.error)
    assert not at.metric and not at.dataframe


def test_a_demoted_admin_loses_admin_pages_on_the_next_run(adb):
    at = signed_in("boss", "admin", "admin/users")
    assert "Users · Admin" in texts(at.title)
    adb.users.update_one({"_id": "boss"}, {"$set": {"role": "user"}})
    at.run()
    # The admin pages are gone from the navigation: the session falls back to the user's home page.
    assert "Admin" not in texts(at.title) and "Wallet" in texts(at.title)
    for page in ADMIN_PAGES:
        with pytest.raises(ValueError):
            signed_in("boss", "user").switch_page(f"app_pages/{page}.py").run()


def test_sidebar_shows_who_role_balance_and_sandbox_badge(adb, sandbox):
    fund(adb, "asha", 123456)
    at = signed_in("asha", "user")
    side = texts(at.sidebar.markdown)
    assert "Asha Rao" in side and "Customer" in side and "Sandbox — no real money" in side
    assert at.sidebar.metric[0].value == "Rs. 1,234.56"
    assert any(b.label == "Sign out" for b in at.sidebar.button)


# ------------------------------------------------------------------------------------------- wallet

def test_low_balance_warning_below_the_threshold_only(adb):
    fund(adb, "asha", 1999)  # threshold Rs. 20
    at = signed_in("asha", "user")
    assert "below Rs. 20.00" in texts(at.warning)
    assert [m.value for m in at.main.metric] == ["Rs. 19.99", "Rs. 0.00", "Rs. 19.99"]
    fund(adb, "asha", 1, key="more")
    at.run()
    assert not at.warning


def test_low_balance_threshold_comes_from_settings(adb):
    fund(adb, "asha", 5000)
    settings.set_value(adb, "low_balance_paise", 10000, by="boss")
    app_ui.invalidate()
    at = signed_in("asha", "user")
    assert "below Rs. 100.00" in texts(at.warning)


def test_recharge_without_payments_configured_says_so(adb):
    at = signed_in("asha", "user")
    assert "not configured" in texts(at.info)


def test_recharge_creates_a_payment_link(adb, sandbox):
    at = signed_in("asha", "user")
    assert "Sandbox — no real money" in markdown(at)
    at.radio[0].set_value("Rs. 1,000").run()
    next(b for b in at.button if b.label == "Pay Rs. 1,000.00").click().run()
    assert not at.exception, at.exception
    link = at.get("link_button")[0]
    assert link.proto.label == "Pay with Razorpay" and link.proto.url.startswith(sandbox.url)
    rec = adb.payment_links.find_one({"user_id": "asha"})
    assert rec["amount_paise"] == 100000 and rec["status"] == "created"
    assert "Waiting for payment" in markdown(at)


def test_recharge_custom_amount_below_minimum_is_refused(adb, sandbox):
    at = signed_in("asha", "user")
    at.radio[0].set_value("Other amount").run()
    next(t for t in at.text_input if t.label.startswith("Amount in rupees")).input("9.99").run()
    assert "minimum" in texts(at.error)
    next(b for b in at.button if b.label == "Pay").click().run()
    assert adb.payment_links.count_documents({}) == 0


def _paid_link(db, sandbox, uid="asha", rupees=500):
    from services import payments
    link = payments.create_payment_link(db, uid, str(rupees))
    r = httpx.post(f"{sandbox.url}/sandbox/links/{link['payment_link_id']}/pay", json={})
    r.raise_for_status()
    return r.json()["callback_params"]


def test_callback_success_credits_once_and_clears_the_url(adb, sandbox):
    params = _paid_link(adb, sandbox)
    at = app()
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "asha"
    at.session_state["roles"] = ["user"]
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    assert "Rs. 500.00 added to your wallet" in texts(at.success)
    assert at.main.metric[0].value == "Rs. 500.00"
    assert not dict(at.query_params)  # consumed: a reload cannot resubmit it
    assert "Paid — credited" in markdown(at)
    at.run()  # the browser's next rerun: the message stays until dismissed, nothing is credited twice
    assert "Rs. 500.00 added to your wallet" in texts(at.success)
    assert wallet.balance(adb, "asha").balance == 50000
    next(b for b in at.button if b.label == "Dismiss").click().run()
    assert not at.success


def test_callback_with_a_forged_signature_fails_and_credits_nothing(adb, sandbox):
    params = _paid_link(adb, sandbox)
    params["razorpay_signature"] = "0" * 64
    at = app()
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "asha"
    at.session_state["roles"] = ["user"]
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert "did not go through" in texts(at.error) and "No money was added" in texts(at.error)
    assert wallet.balance(adb, "asha").balance == 0
    assert not dict(at.query_params)


def test_check_status_credits_a_paid_link_without_the_callback(adb, sandbox):
    _paid_link(adb, sandbox, rupees=250)
    at = signed_in("asha", "user")
    next(b for b in at.button if b.label == "Check status").click().run()
    assert not at.exception, at.exception
    assert "Rs. 250.00 credited just now" in markdown(at)
    assert at.main.metric[0].value == "Rs. 250.00"


# ------------------------------------------------------------------------------------- transactions

def _history(db):
    fund(db, "asha", 100000, key="r1")
    ledger.post(db, "asha", key="c1", type="debit", category="call", amount=1234, meta={"seconds": 74})
    ledger.post(db, "asha", key="c2", type="debit", category="campaign", amount=500, meta={"seconds": 30})
    ledger.post(db, "asha", key="p1", type="credit", category="promo_credit", amount=2500, note="=HYPERLINK(x)")


def test_transactions_newest_first_with_formatted_money(adb):
    _history(adb)
    at = signed_in("asha", "user", "transactions")
    df = at.dataframe[0].value
    assert list(df["Category"]) == ["Promotional credit", "Campaign call", "Call", "Manual credit"]
    assert list(df["Amount"]) == ["+ Rs. 25.00", "− Rs. 5.00", "− Rs. 12.34", "+ Rs. 1,000.00"]
    assert df["Balance after"].iloc[0] == "Rs. 1,007.66"


def test_transactions_filters_by_type_category_and_dates(adb):
    _history(adb)
    at = signed_in("asha", "user", "transactions")
    at.selectbox(key="tx_type").set_value("Debits (money out)").run()
    assert set(at.dataframe[0].value["Type"]) == {"Debit"} and len(at.dataframe[0].value) == 2
    at.selectbox(key="tx_cat").set_value("call").run()
    assert list(at.dataframe[0].value["Amount"]) == ["− Rs. 12.34"]
    at.selectbox(key="tx_type").set_value("All")
    at.selectbox(key="tx_cat").set_value("All")
    old = reports.today() - timedelta(days=10)
    at.date_input(key="tx_dates").set_value((old - timedelta(days=5), old)).run()
    assert "No transactions match" in texts(at.info)


def test_transactions_page_through_with_a_cursor(adb):
    fund(adb, "asha", 100000)
    for i in range(30):
        ledger.post(adb, "asha", key=f"d{i}", type="debit", category="call", amount=100 + i)
    at = signed_in("asha", "user", "transactions")
    assert len(at.dataframe[0].value) == 25
    assert at.dataframe[0].value["Amount"].iloc[0] == "− Rs. 1.29"
    next(b for b in at.button if b.label == "Older").click().run()
    df = at.dataframe[0].value
    assert len(df) == 6 and df["Amount"].iloc[-1] == "+ Rs. 1,000.00"
    assert next(b for b in at.button if b.label == "Older").disabled
    next(b for b in at.button if b.label == "Newer").click().run()
    assert at.dataframe[0].value["Amount"].iloc[0] == "− Rs. 1.29"
    assert any(b.proto.label.startswith("Download CSV") for b in at.get("download_button"))


def test_csv_export_neutralises_formulas_and_respects_filters(adb):
    _history(adb)
    # a stored text cannot start with a tab any more (checks.text); csv_safe's own test has one
    ledger.post(adb, "asha", key="@evil", type="credit", category="refund", amount=1, note="+1-1",
                source="-x")
    text = "".join(reports.export_csv(adb, user_id="asha"))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(reports.LEDGER_COLUMNS)
    assert [r[5] for r in rows[1:]] == ["manual_credit", "call", "campaign", "promo_credit", "refund"]  # oldest first
    assert rows[2][6] == "12.34" and rows[1][7] == "1000.00"
    assert rows[4][10] == "'=HYPERLINK(x)"
    assert rows[5][8] == "'@evil" and rows[5][10] == "'+1-1" and rows[5][9] == "'-x"
    assert [r[3] for r in rows[1:]] == ["1", "2", "3", "4", "5"]
    only = list(csv.reader(io.StringIO("".join(reports.export_csv(adb, user_id="asha", type="debit")))))
    assert [r[5] for r in only[1:]] == ["call", "campaign"]
    start, end = reports.day_range(reports.today() - timedelta(days=3), reports.today() - timedelta(days=1))
    assert len(list(reports.export_csv(adb, user_id="asha", start=start, end=end))) == 1  # header only


@pytest.mark.parametrize("cell,safe", [("=1+1", "'=1+1"), ("+91", "'+91"), ("-5", "'-5"), ("@x", "'@x"),
                                       ("\tx", "'\tx"), ("\rx", "'\rx"), ("ok", "ok"), ("", ""), (None, ""),
                                       (12, "12"), ("a=b", "a=b")])
def test_csv_safe(cell, safe):
    assert csvout.csv_safe(cell) == safe


def test_export_csv_streams_with_progress(adb):
    # More than two progress steps of entries, written at once: this proves the export, not the posting.
    seeding.history(adb, "asha", [("credit", "manual_credit", 10_000_000)] + [("debit", "call", 1)] * 1200)
    assert ledger.audit(adb) == []
    seen = []
    start, end = reports.day_range(reports.today(), reports.today())
    gen = reports.export_csv(adb, start=start, end=end, progress=lambda f, n: seen.append((f, n)))
    assert next(gen).startswith("created_at,")  # a generator: nothing built up front
    lines = 1 + sum(1 for _ in gen)
    assert lines == 1 + 1201
    assert seen[-1] == (1.0, 1201) and [n for _, n in seen[:2]] == [500, 1000]


# ------------------------------------------------------------------------------------------ insights

def test_insights_charts_and_runway(adb):
    _history(adb)
    at = signed_in("asha", "user", "insights")
    assert not at.exception, at.exception
    charts = {d[0]["type"] + str(i): d for i, d in enumerate(json.loads(c.proto.spec)["data"]
                                                             for c in at.get("plotly_chart"))}
    assert len(charts) == 4
    spend, balance, pie = charts["bar0"][0], charts["scatter1"][0], charts["pie2"][0]
    assert len(spend["x"]) == 30 and list(values(spend["y"]))[-1] == pytest.approx(17.34)
    assert list(values(balance["y"]))[-1] == pytest.approx(1007.66)
    assert pie["labels"] == ["Calls", "Campaign calls"] and list(values(pie["values"])) == pytest.approx([12.34, 5])
    # Rs. 1,007.66 available, Rs. 17.34 spent today (a 1-day-old wallet) → 58 days.
    assert "lasts about **58 days**" in texts(at.info) + texts(at.warning)
    at.segmented_control(key="ins_days").set_value(90).run()
    assert "Spent, 90 days" in [m.label for m in at.metric]


def test_runway_integer_math(adb):
    assert spending.runway(adb, "asha")["days"] is None  # no spending
    fund(adb, "asha", 1000)
    ledger.post(adb, "asha", key="x", type="debit", category="call", amount=300)
    r = spending.runway(adb, "asha")
    assert r == {"days": 2, "avg_daily_paise": 300, "available_paise": 700, "window_days": 1}


def test_daily_reads_archived_rollups_and_the_wallet(adb):
    fund(adb, "asha", 5000)
    old = (reports.today() - timedelta(days=5)).isoformat()
    adb.rollups.update_one({"_id": f"asha|{old}"}, {"$set": {"user_id": "asha", "day": old, "debits": 700,
                                                            "debit_count": 2, "calls": 2, "call_seconds": 65,
                                                            "cat": {"call": 700}, "balance": 1234}}, upsert=True)
    rows = spending.daily(adb, "asha", reports.today() - timedelta(days=6), reports.today())
    assert [r["debits"] for r in rows] == [0, 700, 0, 0, 0, 0, 0]
    assert rows[-1]["credits"] == 5000
    bal = spending.balance_series(adb, "asha", reports.today() - timedelta(days=6), reports.today(), rows=rows)
    assert [b["balance"] for b in bal] == [1934, 1234, 1234, 1234, 1234, 1234, 5000]


# --------------------------------------------------------------------------------------------- calls

def test_make_a_call_shows_its_cost(adb):
    fund(adb, "asha", 10000)
    at = signed_in("asha", "user", "calls")
    at.text_input[0].input("+919876543210")
    at.text_input[1].input("kb_support")
    at.number_input[1].set_value(90)
    next(b for b in at.button if b.label == "Call").click().run()
    assert not at.exception, at.exception
    out = markdown(at)
    assert "1 min 30 s billed" in out and "Rs. 15.00" in out and "Rs. 85.00" in out
    at.segmented_control(key="calls_view").set_value("Call history").run()
    df = at.dataframe[0].value
    assert list(df["Cost"]) == ["Rs. 15.00"] and list(df["Number"]) == ["+919876543210"]


def test_a_call_with_no_balance_is_refused_with_a_recharge_hint(adb):
    at = signed_in("asha", "user", "calls")
    at.text_input[0].input("+919876543210")
    at.text_input[1].input("kb_support")
    next(b for b in at.button if b.label == "Call").click().run()
    assert "Recharge your wallet" in texts(at.error)
    assert wallet.balance(adb, "asha").balance == 0


# --------------------------------------------------------------------------------------------- admin

def test_admin_overview_totals_lists_and_todays_transactions(adb):
    _history(adb)
    accounts.create_user(adb, "low_one", PW, "Low One", "low@example.com", "user")
    fund(adb, "low_one", 500)
    at = signed_in("boss", "admin", "admin/overview")
    assert not at.exception, at.exception
    assert "Admin" in texts(at.title)
    # A default install: receipts name no business, and the home page says so first.
    assert ("do not name your business in full yet: legal name, address, state, GSTIN, PAN, SAC code, "
            "authorised signatory are missing") in texts(at.warning)
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Total balance held"] == "Rs. 1,012.66"
    assert metrics["Customers"] == "2" and metrics["Transactions today"] == "5"  # staff are not customers
    # Manual and promotional credits are given, not paid: apart from recharges.
    assert metrics["Credits given today"] == "Rs. 1,030.00" and metrics["Recharges to wallets"] == "Rs. 0.00"
    assert metrics["Money out today"] == "Rs. 17.34"
    tables = [d.value for d in at.dataframe]
    assert list(tables[0]["Customer"]) == ["asha"] and list(tables[0]["Spent (calls and services)"]) == ["Rs. 17.34"]
    assert "boss" not in set(tables[1]["Customer"])  # staff wallets sit at zero: not a largest balance
    assert list(tables[2]["Customer"]) == ["low_one"]  # below Rs. 20; staff wallets are not listed
    assert "Manual credit" in set(tables[3]["Category"])  # a name, not the key manual_credit
    assert len(tables[3]) == 5  # today's transactions


def test_admin_summary_reads_rollups_for_older_days(adb):
    fund(adb, "asha", 5000)
    old = (reports.today() - timedelta(days=10)).isoformat()
    adb.rollups.update_one({"_id": f"ana|{old}"}, {"$set": {"user_id": "ana", "day": old, "debits": 9000,
                                                            "cat": {"call": 9000}}}, upsert=True)
    s = reports.admin_summary(adb, period_days=30)
    assert s["top_spenders"] == [{"username": "ana", "spent_paise": 9000}]
    assert reports.admin_summary(adb, period_days=7)["top_spenders"] == []
    assert s["total_balance_paise"] == 5000 and s["users"] == 1 and s["staff"] == 2 and s["today_count"] == 1
    assert s["top_balances"][0] == {"username": "asha", "balance_paise": 5000}
    assert isinstance(s["failed_payments"], list)


def test_admin_rate_change_prices_the_next_call(adb):
    fund(adb, "asha", 100000)
    at = signed_in("boss", "admin", "admin/rates")
    at.text_input[0].input("12.50")
    next(b for b in at.button if b.label == "Set global rate").click().run()
    assert not at.exception, at.exception
    assert "Rs. 12.50 / minute" in [m.value for m in at.metric]
    assert "next call is priced" in texts(at.success)
    hist = at.dataframe[0].value
    assert list(hist.iloc[0][["Old", "New", "By"]]) == ["Rs. 10.00", "Rs. 12.50", "boss"]
    user = signed_in("asha", "user", "calls")
    assert "Rs. 12.50 per minute" in markdown(user)
    user.text_input[0].input("+919876543210")
    user.text_input[1].input("kb_support")
    user.number_input[1].set_value(60)
    next(b for b in user.button if b.label == "Call").click().run()
    assert "cost **Rs. 12.50**" in markdown(user)
    assert calls.list_calls(adb, "asha")[0]["rate_paise"] == 1250


def test_admin_per_user_rate(adb):
    at = signed_in("boss", "admin", "admin/rates")
    at.text_input[1].input("asha")
    at.text_input[2].input("7")
    next(b for b in at.button if b.label == "Set user rate").click().run()
    assert rates.tariff_for(adb, "asha").rate_paise == 700
    assert rates.tariff_for(adb, "ana").rate_paise == 1000


def test_admin_credit_needs_confirmation_and_credits_once(adb):
    at = signed_in("boss", "admin", "admin/credits")
    at.text_input[0].input("asha")
    at.selectbox[0].set_value("promo_credit")
    at.text_input[1].input("250")
    at.text_area[0].input("Diwali promotion")
    next(b for b in at.button if b.label == "Review").click().run()
    assert wallet.balance(adb, "asha").balance == 0  # nothing until confirmed
    assert "Promotional credit of **Rs. 250.00** to **Asha Rao**" in markdown(at)  # formatted, named
    key = at.session_state["_idem_credit"]
    confirm = next(b for b in at.button if b.label == "Confirm credit")
    # A double click: the same key reaches the service twice; the second is the same entry.
    wallet.admin_credit(adb, admin="boss", key=key, user_id="asha", category="promo_credit", amount="250",
                        reason="Diwali promotion")
    confirm.click().run()
    assert not at.exception, at.exception
    assert "Credited Rs. 250.00 to asha" in texts(at.success)
    assert wallet.balance(adb, "asha").balance == 25000
    e = ledger.find_entry(adb, f"admin:{key}")
    assert e["source"] == "admin:boss" and e["note"] == "Diwali promotion"
    assert adb.audit_log.count_documents({"actor": "boss"}) == 1
    # The next form gets a new key: a second, separate credit is possible.
    at.text_input[0].input("asha")
    at.text_input[1].input("10")
    at.text_area[0].input("Goodwill")
    next(b for b in at.button if b.label == "Review").click().run()
    assert at.session_state["_idem_credit"] != key
    next(b for b in at.button if b.label == "Confirm credit").click().run()
    assert wallet.balance(adb, "asha").balance == 26000


def test_admin_credit_without_reason_is_refused(adb):
    at = signed_in("boss", "admin", "admin/credits")
    at.text_input[0].input("asha")
    at.text_input[1].input("100")
    next(b for b in at.button if b.label == "Review").click().run()
    assert not [b for b in at.button if b.label == "Confirm credit"]  # it never reaches the review
    assert "A reason of 3 to 300 characters is required." in markdown(at)
    assert wallet.balance(adb, "asha").balance == 0


def test_admin_users_search_sort_and_password_reset(adb):
    fund(adb, "asha", 700)
    fund(adb, "ana", 900)
    at = signed_in("boss", "admin", "admin/users")
    df = at.dataframe[0].value
    assert list(df["Username"]) == ["ana", "asha", "boss"]
    at.text_input(key="adm_search").input("asha").run()
    assert list(at.dataframe[0].value["Username"]) == ["asha"]
    at.text_input(key="pw_user").input("asha")
    at.text_input(key="pw_new").input("brand-new-pass")
    next(b for b in at.button if b.label == "Set password").click().run()
    assert "Password for asha changed" in texts(at.success)
    users.authenticate(adb, "asha", "brand-new-pass")


def test_admin_failed_payments_and_ledger_audit(adb, sandbox):
    params = _paid_link(adb, sandbox)
    from services import payments
    with pytest.raises(InvalidPayment):
        payments.handle_callback(adb, "asha", dict(params, razorpay_signature="f" * 64))
    at = signed_in("boss", "admin", "admin/payments")
    df = at.dataframe[0].value
    assert "Suspicious" in set(df["Kind"]) and df["Reason"].str.contains("signature").any()
    at = signed_in("boss", "admin", "admin/audit")
    next(b for b in at.button if b.label == "Run ledger audit").click().run()
    assert "Every wallet reconciles" in texts(at.success)
    adb.wallets.update_one({"_id": "asha"}, {"$inc": {"balance": 100}})  # corrupt it behind the ledger
    next(b for b in at.button if b.label == "Run ledger audit").click().run()
    assert "1 wallet(s) do not reconcile" in texts(at.error)
    assert list(at.dataframe[0].value["User"]) == ["asha"]


# ------------------------------------------------------------------------------------------- analyst

def test_analyst_trends_summary_and_export(adb):
    _history(adb)
    at = signed_in("ana", "analyst", "analyst")
    assert not at.exception, at.exception
    m = {x.label: x.value for x in at.metric}
    assert m["Spent (calls and services)"] == "Rs. 17.34" and m["Money added"] == "Rs. 1,025.00" and m["Calls"] == "2"
    assert len(at.get("plotly_chart")) == 3  # spent and added apart: a big recharge hides no spending
    next(b for b in at.button if b.label == "Prepare the transactions export").click().run()
    assert not at.exception, at.exception
    ex = at.session_state["an_transactions"]
    with open(ex["path"], encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert ex["rows"] == 4 and len(rows) == 5 and rows[4][10] == "'=HYPERLINK(x)"
    os.unlink(ex["path"])
    for secs in (295, 30):  # real calls for the calls export (the history above is ledger entries only)
        calls.simulate_call(adb, "asha", "9876543210", "kb_support", duration_seconds=secs)
    next(b for b in at.button if b.label == "Prepare the calls export").click().run()
    assert not at.exception, at.exception
    ex = at.session_state["an_calls"]
    with open(ex["path"], encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert ex["rows"] == len(rows) == 2 and {r["username"] for r in rows} == {"asha"}
    assert [(r["billed_seconds"], r["cost_rupees"], r["status"]) for r in rows] == [
        ("295", "49.17", "Completed"), ("30", "5.00", "Completed")]  # oldest first
    os.unlink(ex["path"])


def test_user_summary_and_trends(adb):
    _history(adb)
    t = reports.today()
    rows = {r["username"]: r for r in reports.user_summary(adb, t, t)}
    assert rows["asha"]["debits_paise"] == 1734 and rows["asha"]["calls"] == 2 and rows["asha"]["call_seconds"] == 104
    assert rows["asha"]["free_credits_paise"] == 102500 and rows["asha"]["recharges_paise"] == 0
    assert set(rows) == {"asha"}  # staff accounts are not customers
    tr = reports.spending_trends(adb, t - timedelta(days=1), t)
    assert [r["debits"] for r in tr] == [0, 1734] and tr[1]["active_users"] == 1
    lines = list(csv.reader(io.StringIO("".join(csvout.dicts_csv(
        [{"username": "=x", "spent_paise": 1734}], ["username", "spent_paise"])))))
    assert lines == [["username", "spent_rupees"], ["'=x", "17.34"]]


def test_trends_and_user_summary_read_archived_days(adb):
    old = (reports.today() - timedelta(days=4)).isoformat()
    adb.rollups.update_one({"_id": f"asha|{old}"}, {"$set": {
        "user_id": "asha", "day": old, "credits": 5000, "debits": 700, "credit_count": 1, "debit_count": 2,
        "calls": 2, "call_seconds": 65, "cat": {"call": 700, "recharge": 5000}, "balance": 4300}}, upsert=True)
    t = reports.today()
    tr = reports.spending_trends(adb, t - timedelta(days=6), t)
    day = next(r for r in tr if r["day"] == old)
    assert (day["credits"], day["debits"], day["calls"], day["call_seconds"], day["active_users"]) == \
        (5000, 700, 2, 65, 1)
    assert day["cat"] == {"call": 700, "recharge": 5000}
    row = next(r for r in reports.user_summary(adb, t - timedelta(days=6), t) if r["username"] == "asha")
    assert (row["credits_paise"], row["debits_paise"], row["calls"], row["call_seconds"]) == (5000, 700, 2, 65)
    assert (row["recharges_paise"], row["free_credits_paise"], row["other_credits_paise"]) == (5000, 0, 0)
    assert reports.top_spenders(adb, t - timedelta(days=6), t) == [
        {"username": "asha", "spent_paise": 700, "calls": 2, "call_seconds": 65}]


def test_report_ranges_are_checked(adb):
    from services.errors import InvalidInput
    t = reports.today()
    with pytest.raises(InvalidInput):
        reports.spending_trends(adb, t, t - timedelta(days=1))
    with pytest.raises(InvalidInput):
        spending.daily(adb, "asha", t - timedelta(days=400), t)
    with pytest.raises(InvalidInput):
        reports.admin_summary(adb, top=0)


# ----------------------------------------------------------------------------------------- campaigns

NUMBERS = "+919800000001\n+919800000002, +919800000003\n+919800000004\nnot-a-number\n+919800000005\n+919800000001"


def test_campaign_estimate_run_and_resume_after_recharge(adb):
    fund(adb, "asha", 10000)  # Rs. 100 at Rs. 10/min, 3 minutes a call = Rs. 30 a call
    at = signed_in("asha", "user", "calls")
    at.segmented_control(key="calls_view").set_value("Campaigns").run()
    at.text_area(key="cmp_text").input(NUMBERS)
    at.text_input(key="cmp_kb").input("kb_sales")
    at.number_input(key="cmp_mpc").set_value(3).run()
    assert not at.exception, at.exception
    est = texts(at.warning)
    assert "You can afford **3 of 5 calls** at Rs. 30.00 each" in est
    assert "Rs. 150.00 for all, Rs. 100.00 available" in est and "Recharge Rs. 50.00" in est
    assert "2 row(s) skipped" in [e.label for e in at.expander]
    next(b for b in at.button if b.label == "Start campaign").click().run()
    assert not at.exception, at.exception
    m = {x.label: x.value for x in at.metric}
    # 3 full calls; a 4th is not started on the last Rs. 10: a campaign call needs its expected length covered.
    assert (m["Completed"], m["Cut off"], m["Need a recharge"], m["Spent"]) == ("3", "0", "2", "Rs. 90.00")
    assert "recharge and resume" in texts(at.warning)
    assert wallet.balance(adb, "asha").balance == 1000
    fund(adb, "asha", 10000, key="topup")
    next(b for b in at.button if b.label == "Resume").click().run()
    assert not at.exception, at.exception
    m = {x.label: x.value for x in at.metric}
    assert (m["Completed"], m["Need a recharge"], m["Spent"]) == ("5", "0", "Rs. 150.00")
    assert "Finished" in markdown(at)
    assert wallet.balance(adb, "asha").balance == 5000


def test_campaign_csv_upload_needs_a_to_number_column(adb):
    from services import campaigns
    nums, bad = campaigns.parse_csv(b"name,to_number\nA,+919800000001\nB,=cmd\n")
    assert nums == ["+919800000001"] and bad[0]["row"] == 3
    at = signed_in("asha", "user", "calls")
    at.segmented_control(key="calls_view").set_value("Campaigns").run()
    at.text_area(key="cmp_text").input("nothing here").run()
    assert "No valid phone numbers" in texts(at.error)


def test_visitors_without_a_valid_cookie_leave_nothing_in_the_log(adb, capfd):
    """A visitor with no sign-in cookie (or an old or foreign one) is ordinary: they see the sign-in form and
    nothing is printed (streamlit-authenticator printed PyJWT's "Invalid token type" for each such run)."""
    at = app().run()
    assert not at.exception and at.text_input, "the sign-in form"
    signed_in("asha", "user", "wallet").run()
    assert app_ui.decode_cookie(None, COOKIE_KEY) is None
    assert app_ui.decode_cookie("not.a.jwt", COOKIE_KEY) is None
    forged = jwt.encode({"username": "asha", "exp_date": 9e9}, "another-key-" * 4, algorithm="HS256")
    assert app_ui.decode_cookie(forged, COOKIE_KEY) is None
    good = jwt.encode({"username": "asha", "exp_date": 9e9}, COOKIE_KEY, algorithm="HS256")
    assert app_ui.decode_cookie(good, COOKIE_KEY)["username"] == "asha"
    out, err = capfd.readouterr()
    assert "Invalid token" not in out + err and "Signature" not in out + err
