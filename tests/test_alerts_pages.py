"""The customer's Notifications page and the admin's Alerts page (AppTest), and the notifications API,
against the real SMTP sink, a signature-checking receiver and the Razorpay sandbox."""
from __future__ import annotations

import os

from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from api.main import create_app
from services import accounts, alerts, ledger, tokens, users
from tests.support.dashboard import ROOT, signed_in, texts


def _form_inputs(at):
    return {ti.label: ti for ti in at.text_input}


def test_customer_sets_alerts_tests_the_webhook_and_sees_what_was_sent(adb, wired):
    sink, endpoint, _ = wired
    alerts.derive(adb)
    at = signed_in("asha", "user", "notifications")
    assert "Notifications" in texts(at.title) and "Rs. 20.00" in texts(at.markdown)
    inputs = _form_inputs(at)
    inputs["Your alert 1 (Rs.)"].input("50")
    inputs["Your alert 2 (Rs.)"].input("abc")
    at.text_area[0].input("finance@asha.in\nops@asha.in")
    inputs["Webhook URL"].input(endpoint.url)
    at.button[0].click().run()  # Save
    assert "Threshold" in texts(at.error) and alerts.get_prefs(adb, "asha").thresholds == ()  # nothing written
    _form_inputs(at)["Your alert 2 (Rs.)"].input("")
    at.button[0].click().run()
    assert not at.exception and "saved" in texts(at.success)
    p = alerts.get_prefs(adb, "asha")
    assert p.thresholds == (5_000,) and p.emails == ("finance@asha.in", "ops@asha.in") and p.webhook_url
    endpoint.secrets["asha"] = p.webhook_secret
    assert p.webhook_secret in [c.value for c in at.code]

    next(b for b in at.button if b.label == "Send test event").click().run()
    assert "Delivered" in texts(at.success)
    assert endpoint.events("asha")[0]["signature_ok"]
    assert at.dataframe  # the delivery log

    ledger.post(adb, "asha", key="fund", type="credit", category="recharge", amount=6_000)
    ledger.post(adb, "asha", key="spend", type="debit", category="call", amount=2_000)
    alerts.run(adb)
    at.run()
    sent = at.dataframe[-1].value
    assert list(sent["Alert"]) == ["Below your alert line"] and list(sent["E-mail"]) == ["Sent"]  # not "threshold"
    assert sent["Recharge link"][0].startswith("http")

    admin = signed_in("boss", "admin", "admin/alerts")
    assert not admin.exception and "Alerts · Admin" in texts(admin.title)
    admin.segmented_control(key="adm_alerts").set_value("sent").run()
    table = admin.dataframe[0].value
    assert list(table["User"]) == ["asha"] and list(table["Status"]) == ["Sent"]
    mail = admin.dataframe[1].value  # what the local SMTP sink received
    assert list(mail["To"]) == ["finance@asha.in, ops@asha.in"] and "Low balance" in mail["Subject"][0]


def test_pages_refuse_other_roles(adb):
    for page, role, name in (("notifications", "analyst", "ana"), ("admin/alerts", "user", "asha")):
        at = AppTest.from_file(os.path.join(ROOT, "app_pages", f"{page}.py"), default_timeout=60)
        at.session_state["authentication_status"] = True
        at.session_state["username"] = name
        at.run()
        assert users.get(adb, name)["role"] == role and "only" in texts(at.error)


def test_notifications_api(edb, wired):
    sink, endpoint, _ = wired
    accounts.create_user(edb, "apiu", "password-1", "Api", "apiu@example.com")
    alerts.derive(edb)
    h = {"Authorization": f"Bearer {tokens.issue(edb, 'apiu')}"}
    with TestClient(create_app(db=edb), raise_server_exceptions=False) as c:
        got = c.get("/api/notifications", headers=h).json()
        assert got["emails"] == ["apiu@example.com"] and got["emails_default"] and got["runway_days"] == 2
        assert got["thresholds"] == [{"amount_paise": 2000, "amount": 20.0, "source": "platform"}]
        r = c.put("/api/notifications/settings", headers=h,
                  json={"thresholds": [500, "99.50", 99.5], "emails": ["x@y.co"]})
        assert r.status_code == 200, r.text
        assert [t["amount_paise"] for t in r.json()["thresholds"]] == [2000, 50_000, 9_950]
        bad = c.put("/api/notifications/settings", headers=h, json={"emails": ["nope"], "runway_days": 3})
        assert bad.status_code == 400 and c.get("/api/notifications", headers=h).json()["runway_days"] == 2
        assert c.put("/api/notifications/settings", headers=h, json={"runway_days": True}).status_code == 422
        assert c.post("/api/notifications/webhook/test", headers=h).status_code == 400
        r = c.put("/api/notifications/settings", headers=h, json={"webhook_url": endpoint.url})
        secret = r.json()["webhook_secret"]
        endpoint.secrets["apiu"] = secret
        t = c.post("/api/notifications/webhook/test", headers=h).json()
        assert t["ok"] and t["status_code"] == 200 and endpoint.events("apiu")[0]["event_id"] == t["event_id"]
        new = c.post("/api/notifications/webhook/rotate-secret", headers=h).json()["webhook_secret"]
        assert new != secret
        log = c.get("/api/notifications/webhook/deliveries", headers=h).json()["deliveries"]
        assert [d["ok"] for d in log] == [True] and log[0]["type"] == "wallet.test"
        ledger.post(edb, "apiu", key="f", type="credit", category="recharge", amount=60_000)
        ledger.post(edb, "apiu", key="d", type="debit", category="call", amount=20_000)
        endpoint.secrets["apiu"] = new
        alerts.run(edb)
        [a] = c.get("/api/notifications/alerts", headers=h).json()["alerts"]
        assert (a["kind"], a["threshold_paise"], a["threshold"], a["balance"]) == ("threshold", 50_000, 500.0, 400.0)
        assert a["status"] == "sent" and a["link_url"] and a["link_amount"] == 600.0
