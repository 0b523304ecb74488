"""Lots on the dashboard under AppTest: the customer's credit lot by lot with what expires soon; an admin's
grant with an expiry and a campaign, a void, the order of spending; the breakage report on Analytics."""
from __future__ import annotations

from datetime import time, timedelta

from services import auditlog, clock, ledger, wallet
from tests.support.dashboard import markdown, signed_in, texts


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_the_wallet_page_lists_lots_and_warns_of_what_expires_within_a_week(adb):
    ledger.post(adb, "asha", key="paid", type="credit", category="recharge", amount=50000)
    wallet.admin_credit(adb, admin="boss", user_id="asha", amount=200, category="promo_credit", reason="Offer",
                        key="g", expires_at=clock.now() + timedelta(days=3), campaign="spring")
    at = signed_in("asha", "user", "wallet")
    assert "Rs. 200.00 of promotional credit expires on" in texts(at.warning)
    [table] = [df for df in at.dataframe if "Expires" in df.value.columns]
    rows = table.value.to_dict("records")
    assert [(r["Credit"], r["Left"], r["Expires"] != "never") for r in rows] == \
        [("Promotional credit (spring)", "Rs. 200.00", True), ("Recharge", "Rs. 500.00", False)]


def test_an_admin_grants_credit_that_expires_to_the_minute_with_a_campaign(adb):
    at = signed_in("boss", "admin", "admin/credits")
    at.text_input(key="cr_user").input("asha").run()
    at.selectbox(key="cr_kind").set_value("promo_credit").run()
    at.text_input(key="cr_amount").input("150").run()
    at.text_area(key="cr_reason").input("Festival offer").run()
    day = clock.today() + timedelta(days=10)
    at.date_input(key="cr_exp_day").set_value(day).run()
    at.time_input(key="cr_exp_time").set_value(time(18, 30)).run()
    at.text_input(key="cr_campaign").input("festival").run()
    _button(at, "Review").click().run()
    assert "What is left of it expires on" in markdown(at) and "Campaign: festival" in markdown(at)
    _button(at, "Confirm credit").click().run()
    assert not at.exception, at.exception
    [lot] = ledger.get_wallet(adb, "asha").lots
    assert (lot.kind, lot.remaining, lot.campaign) == ("promo", 15000, "festival")
    assert lot.expires_at == clock.at_local(day, time(18, 30))


def test_an_admin_voids_a_grant_and_switches_the_order_of_spending(adb):
    g = wallet.admin_credit(adb, admin="boss", user_id="asha", amount=80, category="manual_credit",
                            reason="Goodwill", key="g")
    at = signed_in("boss", "admin", "admin/credits")
    at.text_input(key="vg_user").input("asha").run()
    assert at.selectbox(key="vg_lot").value == g["n"]
    at.text_input(key="vg_reason").input("Given by mistake").run()
    _button(at, "Void what is left").click().run()
    assert not at.exception, at.exception
    assert ledger.get_wallet(adb, "asha").balance == 0
    assert [r["reason"] for r in auditlog.between(adb) if r["action"] == "void_credit"] == ["Given by mistake"]
    at.radio(key="bo_rule").set_value("oldest_first").run()
    _button(at, "Save order").click().run()
    assert ledger.burn_rule(adb) == "oldest_first"


def test_analytics_shows_breakage_per_month_and_campaign(adb):
    wallet.admin_credit(adb, admin="boss", user_id="asha", amount=100, category="promo_credit", reason="Offer",
                        key="g", campaign="launch")
    ledger.post(adb, "asha", key="use", type="debit", category="call", amount=2500)
    at = signed_in("ana", "analyst", "analyst")
    assert not at.exception, at.exception
    assert "0.0%" in texts(at.metric)                  # nothing expired or voided: no breakage yet
    [table] = [df for df in at.dataframe if "Campaign" in df.value.columns]
    assert table.value.to_dict("records") == [{"Month": clock.today().isoformat()[:7], "Campaign": "launch",
                                               "Granted": "Rs. 100.00", "Spent": "Rs. 25.00",
                                               "Expired": "Rs. 0.00", "Voided": "Rs. 0.00"}]
