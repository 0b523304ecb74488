"""Other services where the customer reads money (issue 29): Insights shows spend by service."""
from __future__ import annotations

from datetime import time, timedelta

from services import clock, usage
from tests.support.dashboard import fund, markdown, signed_in, texts


def test_insights_shows_spend_by_service(adb):
    fund(adb, "asha", 10_000)
    usage.define(adb, "boss", "sms", display_name="SMS", unit="message", price_paise=25)
    usage.record_batch(adb, "asha", [usage.Event("sms", 1, f"e{i}") for i in range(8)])
    at = signed_in("asha", "user", "insights")
    assert "Spend by service" in [h.value for h in at.subheader]
    [table] = [d for d in at.dataframe if "Service" in d.value.columns]
    assert table.value.to_dict("records") == [{"Service": "sms", "Last 30 days": "Rs. 2.00"}]  # 8 x 25 paise


def test_the_admin_services_page_adds_a_service_schedules_and_withdraws_a_price_change(adb):
    at = signed_in("boss", "admin", "admin/services")
    assert "No services yet" in markdown(at)
    at.text_input[0].input("sms")
    at.text_input[1].input("SMS")
    at.text_input[2].input("message")
    at.text_input[3].input("0.25")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "SMS saved: Rs. 0.25 per message now." in texts(at.success)
    assert usage.get(adb, "sms").price_paise == 25
    [table] = at.dataframe
    assert table.value.iloc[0][["Name", "Price now", "Grace days", "Changes ahead"]].tolist() == [
        "sms", "Rs. 0.25 per message", 7, "—"]

    # the new price for next week at 10:00 IST; only the name and the price are typed, the rest stays
    day = clock.today() + timedelta(days=7)
    at.text_input[0].input("sms")
    at.text_input[3].input("0.30")
    at.date_input[0].set_value(day)
    at.time_input[0].set_value(time(10, 0))
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert f"new price from 10:00 on {day:%d %b %Y} IST" in texts(at.success)
    assert usage.get(adb, "sms").price_paise == 25  # not yet
    (ch,) = usage.prices.changes_ahead(adb)
    assert (ch["at"], ch["terms"]["price_paise"]) == (clock.at_local(day, time(10, 0)), 30)
    assert at.dataframe[0].value.iloc[0]["Changes ahead"] == f"Rs. 0.30 per message from {day:%d %b %Y}, 10:00"
    assert "(now Rs. 0.25 per message)" in markdown(at)

    at.text_input[0].input("sms")
    at.text_input[3].input("abc")  # not rupees: said once, nothing written
    at.button[0].click().run()
    assert at.error and len(usage.prices.changes_ahead(adb)) == 1

    next(b for b in at.button if b.label == "Withdraw").click().run()
    assert not at.exception, at.exception
    assert "Price change withdrawn." in texts(at.success)
    assert usage.prices.changes_ahead(adb) == [] and "None scheduled." in markdown(at)


def test_the_wallet_page_tells_a_customer_of_a_price_change_of_a_service_they_use(adb):
    fund(adb, "asha", 10_000)
    usage.define(adb, "boss", "sms", display_name="SMS", unit="message", price_paise=25)
    usage.define(adb, "boss", "number", display_name="Phone number", unit="number·month", price_paise=50_000)
    usage.record(adb, "asha", usage.Event("sms", 1, "e1"))
    when = clock.now() + timedelta(days=3)
    usage.prices.schedule(adb, "boss", "sms", when, price_paise=30)
    usage.prices.schedule(adb, "boss", "number", when, price_paise=40_000)  # asha rents no number
    at = signed_in("asha", "user", "wallet")
    said = " | ".join(i.value for i in at.info)
    assert f"{clock.fmt(when, '%H:%M on %d %b %Y')} IST SMS costs Rs. 0.30 per message" in said
    assert "Phone number" not in said


def test_a_call_from_the_dashboard_texts_the_person_called_only_when_ticked(adb):
    """The SMS option shows its price from the catalogue; ticked, the answered call is followed by one SMS
    billed as usage and said under the call's cost; unticked, nothing but the call is billed."""
    from services import ledger
    fund(adb, "asha", 10_000)
    at = signed_in("asha", "user", "calls")
    assert not at.checkbox  # no SMS in the catalogue: nothing to offer
    usage.define(adb, "boss", "sms", display_name="SMS", unit="message", price_paise=25)
    at = signed_in("asha", "user", "calls")
    [box] = at.checkbox
    assert "Text the person called afterwards (SMS, Rs. 0.25" in box.label
    for tick, want in ((False, 0), (True, 1)):
        at.text_input[0].input("+919876543210")
        at.text_input[1].input("kb_support")
        at.number_input[1].set_value(60)
        box = at.checkbox[0].check() if tick else at.checkbox[0].uncheck()
        next(b for b in at.button if b.label == "Call").click().run()
        assert not at.exception, at.exception
        assert adb.ledger.count_documents({"category": "usage"}) == want
    assert "Follow-up SMS to +919876543210: Rs. 0.25, billed as usage" in markdown(at)
    assert "balance now **Rs. 79.75**" in markdown(at) and ledger.get_wallet(adb, "asha").balance == 7_975


def test_the_admin_types_volume_tiers_in_rupees_on_the_services_page(adb):
    at = signed_in("boss", "admin", "admin/services")
    for i, v in enumerate(("sms", "SMS", "message", "0.25")):
        at.text_input[i].input(v)
    at.text_input[4].input("10000: 0.20, 100000: 0.15")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert usage.get(adb, "sms").tiers == ((10_000, 20), (100_000, 15))
    assert at.dataframe[0].value.iloc[0]["Price now"] == ("Rs. 0.25 per message; past 10,000 a month Rs. 0.20; "
                                                          "past 100,000 a month Rs. 0.15")
    at.text_input[0].input("sms")
    at.text_input[3].input("0.25")
    at.text_input[4].input("10000: 0.30")  # not a discount: said, nothing written
    at.button[0].click().run()
    assert "below the price before it" in texts(at.error) and usage.get(adb, "sms").tiers[1] == (100_000, 15)
