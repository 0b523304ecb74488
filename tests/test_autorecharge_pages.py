"""Auto-recharge on the wallet page and the admin page (AppTest), and `/api/auto-recharge`, against the
Razorpay sandbox with its webhooks reaching razorpay_events.handle_webhook."""
from __future__ import annotations

import time

import httpx
from fastapi.testclient import TestClient

from api.main import create_app
from services import autorecharge, tokens, users
from services.autorecharge import charges, mandates
from tests.support.autorecharge import active_mandate, sandbox_payments, spend, wait_for
from tests.support.dashboard import fund, signed_in, texts


def _markdown(at) -> str:
    return texts(at.markdown) + " | " + texts(at.caption)


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_cancel_in_the_dashboard_cancels_the_token_and_no_charge_follows(adb, hooked):
    hooked.forwarder.db = adb
    fund(adb, "asha", 30_000)
    tid = active_mandate(adb, hooked, "asha")["mandate"]["token_id"]
    spend(adb, "asha", 220, "calls")
    c = wait_for(lambda: charges.get(adb, mandates.get(adb, "asha").get("in_flight")),
                 tick=lambda: autorecharge.run(adb))
    assert c["state"] == "notified"
    at = signed_in("asha", "user", "wallet")
    assert "Active" in _markdown(at) and "is announced: it will be debited from your mandate on or after" in \
        texts(at.info)
    assert any(b.label == "Skip this top-up of Rs. 500.00" for b in at.button)
    _button(at, "Cancel auto-recharge").click().run()
    assert not at.exception and "cancelled" in texts(at.success)
    # Razorpay's answer: cancellation_initiated, then cancelled when NPCI confirms
    assert hooked.sandbox.tokens[tid]["recurring_details"]["status"] == "cancellation_initiated"
    wait_for(lambda: hooked.sandbox.tokens[tid]["recurring_details"]["status"] == "cancelled", timeout=10)
    assert "Cancelled" in _markdown(at)
    time.sleep(2.0)  # past the debit's payment_after
    wait_for(lambda: charges.get(adb, c["_id"])["state"] == "skipped", tick=lambda: autorecharge.run(adb))
    for _ in range(10):
        autorecharge.run(adb)
    assert not sandbox_payments(hooked, "asha") and len(charges.recent(adb)) == 1


def test_set_up_in_the_dashboard_then_authorise(adb, hooked):
    hooked.forwarder.db = adb
    at = signed_in("asha", "user", "wallet")
    inputs = {t.label: t for t in at.text_input}
    inputs["Top-up amount (Rs.)"].input("20000")  # above Rs. 15,000 without accepting it: refused
    _button(at, "Set up auto-recharge").click().run()
    assert "15,000" in texts(at.error) and mandates.get(adb, "asha") is None
    inputs = {t.label: t for t in at.text_input}
    inputs["Top-up amount (Rs.)"].input("750")
    inputs["Monthly cap (Rs.)"].input("3000")
    _button(at, "Set up auto-recharge").click().run()  # no mobile number on file, none given: asked for
    assert "mobile number" in texts(at.error) and mandates.get(adb, "asha") is None
    for bad in ("12345", "5812345678"):  # not an Indian mobile: refused, nothing kept
        {t.label: t for t in at.text_input}["Mobile number"].input(bad)
        _button(at, "Set up auto-recharge").click().run()
        assert "10-digit Indian mobile" in texts(at.error) and mandates.get(adb, "asha") is None
        assert users.phone(adb, "asha") is None and not hooked.sandbox.invoices
    {t.label: t for t in at.text_input}["Mobile number"].input("+91 98123-45678")
    _button(at, "Set up auto-recharge").click().run()
    assert not at.exception and "authorise the mandate" in texts(at.success)
    assert users.phone(adb, "asha") == "+919812345678"
    [invoice] = hooked.sandbox.invoices.values()
    assert invoice["customer_details"]["contact"] == "+919812345678"
    m = mandates.get(adb, "asha")
    assert (m["state"], m["amount_paise"], m["monthly_cap_paise"]) == ("pending", 75_000, 300_000)
    assert any(b.label == "Authorise the mandate on Razorpay" for b in at.get("link_button"))
    httpx.post(m["auth_url"] + "/approve", trust_env=False).raise_for_status()
    wait_for(lambda: autorecharge.status(adb, "asha")["state"] == "active")
    at.run()
    assert "Active" in _markdown(at)
    _button(at, "Pause auto-recharge").click().run()
    assert autorecharge.status(adb, "asha")["state"] == "paused" and "Paused" in _markdown(at)


def test_admin_sees_every_mandate_and_charge(adb, hooked):
    hooked.forwarder.db = adb
    fund(adb, "asha", 30_000)
    active_mandate(adb, hooked, "asha")
    spend(adb, "asha", 220, "calls")
    wait_for(lambda: any(c["state"] == "credited" for c in charges.recent(adb)), tick=lambda: autorecharge.run(adb),
             timeout=30)
    at = signed_in("boss", "admin", "admin/autorecharge")
    mand, charged = at.dataframe[0].value, at.dataframe[1].value
    assert list(mand["User"]) == ["asha"] and list(mand["State"]) == ["Active"]
    assert list(charged["Outcome"]) == ["Credited"] and list(charged["Amount"]) == ["Rs. 500.00"]


def test_the_api_sets_up_pauses_resumes_and_turns_off(adb, hooked):
    hooked.forwarder.db = adb
    tok = tokens.issue(adb, "asha")
    h = {"Authorization": f"Bearer {tok}"}
    with TestClient(create_app(db=adb)) as c:
        assert c.get("/api/auto-recharge", headers=h).json()["state"] == "off"
        bad = c.put("/api/auto-recharge", headers=h, json={"threshold": 100, "amount": 500, "monthly_cap": 100})
        assert bad.status_code == 400 and mandates.get(adb, "asha") is None
        assert c.put("/api/auto-recharge", headers=h, json={"threshold": 100, "amount": 5.5,
                                                             "monthly_cap": 100}).status_code == 400
        terms = {"threshold": "100", "amount": 500, "monthly_cap": 2000, "daily_cap": 1000}
        no_phone = c.put("/api/auto-recharge", headers=h, json=terms)
        assert no_phone.status_code == 400 and "mobile number" in no_phone.text and mandates.get(adb, "asha") is None
        bad_phone = c.put("/api/auto-recharge", headers=h, json=terms | {"contact": "0123"})
        assert bad_phone.status_code == 400 and users.phone(adb, "asha") is None
        r = c.put("/api/auto-recharge", headers=h, json=terms | {"contact": "9812345678"})
        body = r.json()
        assert r.status_code == 200 and body["state"] == "pending" and body["authorisation_url"]
        assert (body["amount_paise"], body["amount"], body["daily_cap_paise"]) == (50_000, 500.0, 100_000)
        httpx.post(body["authorisation_url"] + "/approve", trust_env=False).raise_for_status()
        wait_for(lambda: c.get("/api/auto-recharge", headers=h).json()["state"] == "active")
        body = c.get("/api/auto-recharge", headers=h).json()
        assert body["next_charge"]["state"] == "forecast" and body["frequency"] == "as_presented"
        assert c.put("/api/auto-recharge", headers=h, json={"threshold": 200, "amount": 400, "monthly_cap": 2000,
                                                             "paused": True}).json()["state"] == "paused"
        assert mandates.get(adb, "asha")["threshold_paise"] == 20_000
        assert c.put("/api/auto-recharge", headers=h, json={"threshold": 200, "amount": 900,  # above the mandate
                                                             "monthly_cap": 2000}).status_code == 400
        assert c.put("/api/auto-recharge", headers=h, json={"threshold": 200, "amount": 400, "monthly_cap": 2000,
                                                             "paused": False}).json()["state"] == "active"
        assert c.put("/api/auto-recharge", headers=h, json={"threshold": 200, "amount": 400, "monthly_cap": 2000,
                                                             "method": "card"}).status_code == 409
        off = c.delete("/api/auto-recharge", headers=h).json()
        assert off["state"] == "cancelled"
        tid = mandates.get(adb, "asha")["token_id"]
        assert hooked.sandbox.tokens[tid]["recurring_details"]["status"] in ("cancellation_initiated", "cancelled")
        wait_for(lambda: mandates.get(adb, "asha")["token_status"] == "cancelled")  # token.cancelled, later
        assert c.delete("/api/auto-recharge", headers=h).status_code == 200
