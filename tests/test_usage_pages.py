"""Other services where the customer reads money (issue 29): Insights shows spend by service."""
from __future__ import annotations

from services import usage
from tests.support.dashboard import fund, signed_in


def test_insights_shows_spend_by_service(adb):
    fund(adb, "asha", 10_000)
    usage.define(adb, "boss", "sms", display_name="SMS", unit="message", price_paise=25)
    usage.record_batch(adb, "asha", [usage.Event("sms", 1, f"e{i}") for i in range(8)])
    at = signed_in("asha", "user", "insights")
    assert "Spend by service" in [h.value for h in at.subheader]
    [table] = [d for d in at.dataframe if "Service" in d.value.columns]
    assert table.value.to_dict("records") == [{"Service": "sms", "Last 30 days": "Rs. 2.00"}]  # 8 x 25 paise
