"""Issue 16 under AppTest and on the services behind it: the money traps (the amount typed last is the
one charged; an admin credit checked as it is typed), sign-up reporting every problem at once, the
audit log, the call history with filters and paging, the names people read, and the admin figures
without staff accounts. The real-browser proofs are in tests/test_browser_ux.py."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from services import audit, calls, campaigns, clock, names, reports, settings, users, wallet
from services.errors import InvalidInput, NotFound
from services.money import format_rupees_short
from tests.support.dashboard import PW, app, fund, markdown, signed_in, texts


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


# ----------------------------------------------------------------------------------- money traps

def test_recharge_charges_what_was_typed_last_and_the_button_says_it(adb, sandbox):
    at = signed_in("asha", "user")
    assert _button(at, "Pay Rs. 500.00")  # the preset picked by default, named on the button
    at.radio[0].set_value("Other amount").run()
    at.text_input(key="rc_other").input("250").run()
    assert not at.exception, at.exception
    _button(at, "Pay Rs. 250.00").click().run()
    assert [d["amount_paise"] for d in adb.payment_links.find({})] == [25000]
    assert "Payment link for Rs. 250.00 is ready" in texts(at.success)
    # Picking a preset afterwards names that amount, and the Rs. 250 link is no longer offered for it.
    at.radio[0].set_value("Rs. 100").run()
    assert _button(at, "Pay Rs. 100.00") and "Payment link for Rs. 250.00" not in texts(at.success)


def test_admin_credit_is_checked_as_typed_and_only_valid_values_reach_the_review(adb):
    at = signed_in("boss", "admin", "admin/credits")
    at.text_input(key="cr_user").input("nobody").run()
    at.text_input(key="cr_amount").input("abc").run()
    at.text_area(key="cr_reason").input("Diwali goodwill").run()
    shown = markdown(at)
    assert "No user 'nobody'" in shown and "amount" in shown.lower()
    _button(at, "Review").click().run()
    assert not [b for b in at.button if b.label == "Confirm credit"]  # refused before the review
    at.text_input(key="cr_user").input("Asha").run()
    at.text_input(key="cr_amount").input("").run()
    _button(at, "Review").click().run()
    assert not [b for b in at.button if b.label == "Confirm credit"]  # an empty amount too
    at.text_input(key="cr_amount").input("250").run()
    assert "Asha Rao" in markdown(at) and "Rs. 0.00" in markdown(at)
    _button(at, "Review").click().run()
    review = markdown(at)
    assert "Rs. 250.00" in review and "Asha Rao" in review and "Rs. **" not in review
    _button(at, "Confirm credit").click().run()
    assert not at.exception, at.exception
    assert wallet.balance(adb, "asha").balance == 25000
    assert not [b for b in at.button if b.label == "Confirm credit"] and at.text_input(key="cr_user").value == ""


def test_review_credit_reports_every_problem_and_admin_credit_refuses(adb):
    r = wallet.review_credit(adb, user_id="ghost", amount="-5", category="bogus", reason="x")
    assert set(r.problems) == {"user_id", "amount", "category", "reason"} and not r.ok
    assert isinstance(r.problems["user_id"], NotFound)
    r = wallet.review_credit(adb, user_id=" ASHA ", amount="99.5", category="promo_credit", reason="Launch offer")
    assert r.ok and (r.user_id, r.name, r.balance, r.amount) == ("asha", "Asha Rao", 0, 9950)
    with pytest.raises(NotFound):
        wallet.admin_credit(adb, admin="boss", user_id="ghost", amount="10", category="manual_credit",
                            reason="goodwill", key="k1")
    assert adb.ledger.count_documents({}) == 0


def test_one_payment_message_and_one_full_stop(adb):
    at = signed_in("asha", "user")
    at.session_state["_callback_result"] = {"outcome": "already_credited", "amount_paise": 10000,
                                            "message": "This payment of Rs. 100.00 is already in your wallet."}
    at.run()
    assert texts(at.success).count("Rs. 100.00") == 1 and "already in your wallet" not in texts(at.success)
    at.session_state["_callback_result"] = {"outcome": "invalid",
                                            "message": "The payment confirmation is not valid."}
    at.run()
    assert "not valid. No money" in texts(at.error) and ".." not in texts(at.error)


# ----------------------------------------------------------------------------------------- sign-up

def test_sign_up_reports_every_problem_at_once(adb):
    at = app().run()
    form = {"Choose a username": "A B", "Your name": "", "Email": "not-an-email",
            "Choose a password": "short", "Repeat the password": "other"}
    for ti in at.text_input:
        if ti.label in form:
            ti.input(form[ti.label])
    _button(at, "Create account").click().run()
    shown = texts(at.error)
    for part in ("Username must", "Password must", "Name must", "valid email", "passwords differ"):
        assert part in shown, shown
    assert len(users.signup_problems("A B", "short", "", "not-an-email")) == 4  # one sentence per problem
    assert users.signup_problems("ravi", PW, "Ravi", "r@example.com") == []


# ----------------------------------------------------------------------------------------- audit log

def test_audit_log_lists_credits_and_settings_by_name_filters_and_exports(adb):
    wallet.admin_credit(adb, admin="boss", user_id="asha", amount="250", category="manual_credit",
                        reason="Diwali goodwill", key="a1")
    settings.set_value(adb, "call_rate_paise", 1500, by="boss")
    rows = audit.entries(adb)
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["credit"]["what"] == "Rs. 250.00" and by_kind["credit"]["why"] == "Diwali goodwill"
    assert by_kind["credit"]["actor"] == "boss" and by_kind["credit"]["target"] == "asha"
    assert "Call rate (per minute)" in by_kind["setting"]["what"] and "Rs. 15.00" in by_kind["setting"]["what"]
    assert [r["kind"] for r in audit.entries(adb, audit.query(kind="credit"))] == ["credit"]
    assert [r["kind"] for r in audit.entries(adb, audit.query(text="diwali"))] == ["credit"]
    later = clock.now() + timedelta(days=1)
    assert audit.entries(adb, audit.query(start=later, end=later + timedelta(days=1))) == []
    with pytest.raises(InvalidInput):
        audit.query(kind="nonsense")
    got = list(csv.reader(io.StringIO("".join(audit.csv_lines(rows)))))
    assert got[0] == list(audit.COLUMNS) and len(got) == 1 + len(rows)

    at = signed_in("boss", "admin", "admin/audit_log")
    assert not at.exception, at.exception
    df = at.dataframe[0].value
    assert set(df["Who"]) == {"boss"} and "Diwali goodwill" in set(df["Why"])
    at.selectbox(key="al_kind").set_value("setting").run()
    assert list(at.dataframe[0].value["Action"]) == ["Changed a setting"]


def test_rate_history_shows_names_people_use(adb):
    settings.set_value(adb, "call_rate_paise", 1500, by="boss")
    at = signed_in("boss", "admin", "admin/rates")
    hist = at.dataframe[-1].value
    assert "Call rate (per minute)" in set(hist["Setting"]) and "call_rate_paise" not in set(hist["Setting"])


# ------------------------------------------------------------------------------------- calls

def test_a_ten_digit_indian_number_is_taken_as_plus_91():
    for raw in ("9876543210", "098765 43210", "919876543210", "+91 98765-43210"):
        assert calls.normalize_number(raw) == "+919876543210"
    for raw in ("4155550100", "12345"):
        with pytest.raises(InvalidInput):
            calls.normalize_number(raw)


def test_call_history_filters_pages_and_csv(adb):
    fund(adb, "asha", 100_000)
    nums, _ = campaigns.parse_numbers("9800000001\n9800000002")
    camp = campaigns.create_campaign(adb, "asha", nums, "kb_sales", 1, name="Diwali offers")
    campaigns.run_campaign(adb, "asha", camp["campaign_id"])
    for i in range(3):
        calls.simulate_call(adb, "asha", f"98111111{i:02d}", "kb_support", max_minutes=1, duration_seconds=10)
    first, cursor = calls.history(adb, "asha", limit=2)
    second, end = calls.history(adb, "asha", before=cursor, limit=2)
    third, none = calls.history(adb, "asha", before=end, limit=2)
    everything = first + second + third
    assert len(everything) == 5 and none is None
    assert len({c["call_id"] for c in everything}) == 5
    starts = [c["started_at"] for c in everything]
    assert starts == sorted(starts, reverse=True)
    in_campaign = calls.history(adb, "asha", calls.filters(campaign_id=camp["campaign_id"]))[0]
    assert {c["to_number"] for c in in_campaign} == {"+919800000001", "+919800000002"}
    assert len(calls.history(adb, "asha", calls.filters(campaign_id=calls.SINGLE))[0]) == 3
    assert [c["to_number"] for c in calls.history(adb, "asha", calls.filters(number="9811111101"))[0]] == \
        ["+919811111101"]
    assert len(calls.history(adb, "asha", calls.filters(number="111111"))[0]) == 3
    with pytest.raises(InvalidInput):
        calls.filters(number="12")
    f = calls.filters(campaign_id=camp["campaign_id"])
    got = list(csv.DictReader(io.StringIO("".join(reports.calls_csv(adb, "asha", f, {camp["campaign_id"]:
                                                                                      "Diwali offers"})))))
    assert len(got) == 2 and {r["campaign"] for r in got} == {"Diwali offers"}
    assert {r["status"] for r in got} == {"Completed"}

    at = signed_in("asha", "user", "calls")
    at.segmented_control(key="calls_view").set_value("Call history").run()
    assert not at.exception, at.exception
    df = at.dataframe[0].value
    assert len(df) == 5 and "Diwali offers" in set(df["Campaign"]) and set(df["Status"]) == {"Completed"}


# -------------------------------------------------------------------------------- names and figures

def test_names_never_show_a_raw_key():
    assert names.label(names.CATEGORY, "manual_credit") == "Manual credit"
    assert names.label(names.SETTING, "call_rate_paise") == "Call rate (per minute)"
    assert names.label(names.CALL_STATUS, "refused") == "Refused"
    assert names.label({}, "some_new_key") == "Some new key"


def test_short_rupees_in_lakh_and_crore():
    assert format_rupees_short(7_500_000) == "Rs. 75,000"
    assert format_rupees_short(15_000_000) == "Rs. 1.5 lakh"
    assert format_rupees_short(2_250_000_000) == "Rs. 2.25 crore"
    assert format_rupees_short(0) == "Rs. 0"


def test_admin_figures_leave_staff_out_and_split_paid_from_free(adb):
    fund(adb, "asha", 5000)  # a manual credit: free
    s = reports.admin_summary(adb)
    assert s["users"] == 1 and s["staff"] == 2
    assert [r["username"] for r in s["top_balances"]] == ["asha"]
    assert s["today_free_credits_paise"] == 5000 and s["today_recharges_paise"] == 0
    rows = list(reports.user_summary(adb, reports.today(), reports.today()))  # streamed: a generator
    assert [r["username"] for r in rows] == ["asha"]
    assert rows[0]["name"] == "Asha Rao" and rows[0]["email"] == "asha@example.com"
    assert rows[0]["free_credits_paise"] == 5000 and rows[0]["recharges_paise"] == 0


def test_staff_see_no_balance_in_the_sidebar_and_the_sandbox_badge_once(adb, sandbox):
    at = signed_in("boss", "admin", "admin/overview")
    assert "Balance" not in [m.label for m in at.sidebar.metric]
    at = signed_in("asha", "user")
    assert "Balance" in [m.label for m in at.sidebar.metric]
    assert markdown(at).count("Sandbox — no real money") == 1
