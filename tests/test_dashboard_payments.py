"""The wallet page and the admin Payments page for issue 11, under Streamlit's AppTest: a failed payment
with Razorpay's reason and a way to try again, `review`, cancelling a link, refunds and the amount due,
the refund request; approvals, amounts due and the daily reconciliation for admins."""
from __future__ import annotations

from datetime import timedelta

import httpx

from services import clock, ledger, payments, razorpay_events, settings
from tests.support.dashboard import markdown, signed_in, texts


def _link(db, sandbox, action="pay", rupees=500):
    link = payments.create_payment_link(db, "asha", str(rupees))
    r = httpx.post(f"{sandbox.url}/sandbox/links/{link['payment_link_id']}/{action}", json={})
    r.raise_for_status()
    return link, r.json()


def test_a_failed_payment_shows_the_reason_and_a_try_again_button(adb, sandbox):
    link, _ = _link(adb, sandbox, "fail")
    payments.reconcile_link(adb, link["payment_link_id"], user_id="asha")  # what the webhook would do
    at = signed_in("asha", "user")
    assert not at.exception, at.exception
    reason = "Razorpay says: “Payment failed because the customer declined it (sandbox).”"
    assert reason in markdown(at)  # on the payment's row
    # ...and first on the page: the payment just made, with its reason and Try again
    assert texts(at.error).startswith("Your payment of Rs. 500.00 (all of it for your wallet) did not go through. "
                                      + reason)
    again = [b for b in at.get("link_button") if b.proto.label == "Try again"]
    assert len(again) == 2 and {b.proto.url for b in again} == {link["short_url"]}
    httpx.post(f"{sandbox.url}/sandbox/links/{link['payment_link_id']}/pay", json={}).raise_for_status()
    next(b for b in at.button if b.label == "Check status").click().run()
    assert "Paid — credited" in markdown(at) and "did not go through" not in markdown(at) + texts(at.error)
    assert "Payment received: Rs. 500.00 added to your wallet." in texts(at.success)
    assert at.main.metric[0].value == "Rs. 500.00"


def test_review_has_its_own_words(adb, sandbox):
    link = payments.create_payment_link(adb, "asha", "100")
    adb.payment_links.update_one({"_id": link["reference_id"]}, {"$set": {"status": "review"}})
    at = signed_in("asha", "user")
    assert "under review, not credited yet" in markdown(at)


def test_cancel_an_unpaid_link_from_the_wallet(adb, sandbox):
    payments.create_payment_link(adb, "asha", "100")
    at = signed_in("asha", "user")
    next(b for b in at.button if b.label == "Cancel link").click().run()
    assert not at.exception, at.exception
    assert "cancelled; nothing was charged" in texts(at.success)
    assert "Cancelled — nothing charged" in markdown(at)
    assert not [b for b in at.button if b.label == "Cancel link"]


def test_refund_request_from_the_wallet_and_the_amount_due(adb, sandbox):
    _link(adb, sandbox)
    razorpay_events.reconcile_open(adb, due_only=False)
    at = signed_in("asha", "user")
    assert "Refundable now: **Rs. 500.00**" in markdown(at)
    next(t for t in at.text_input if t.label == "Refund amount in rupees").input("200")
    next(b for b in at.button if b.label == "Request refund").click().run()
    assert not at.exception, at.exception
    assert "Refund request for Rs. 200.00: sent to Razorpay." in texts(at.success)
    assert at.main.metric[0].value == "Rs. 300.00"
    # One plain status per request, the payment it went back to named. Razorpay has it, the bank not yet:
    # said so (not "Refunded" over a refund that is pending).
    day = f"{clock.today():%d %b %Y}"
    assert ":blue[:material/schedule: On its way to your bank]" in markdown(at)
    assert f"Back to: Rs. 200.00 to your Rs. 500.00 payment of {day}" in markdown(at)
    assert "Refunded" not in markdown(at)
    from services.payments import refunds
    [rf] = payments.list_refunds(adb, "asha")
    done = httpx.post(f"{sandbox.url}/sandbox/refunds/{rf['refund_id']}/process", json={}).json()
    refunds.record(adb, done, None, source="webhook", event="refund.processed")  # what the webhook would do
    at.run()
    assert ":green[:material/check_circle: Refunded to your bank]" in markdown(at)
    assert "On its way" not in markdown(at)
    # The rest is spent, and Razorpay refunds it anyway (its dashboard): Rs. 300 becomes due.
    ledger.post(adb, "asha", key="spent", type="debit", category="call", amount=30000)
    [src] = payments.refundable_for(adb, "asha").sources
    refund = httpx.post(f"{sandbox.url}/sandbox/payments/{src.payment_id}/refund", json={}).json()
    refunds.record(adb, refund, None, source="webhook")
    at.run()
    assert "Amount due: Rs. 300.00" in texts(at.error)
    # the refund made at Razorpay's dashboard is a row of its own, newest first
    assert [m.value for m in at.markdown if m.value in ("**Rs. 300.00**", "**Rs. 200.00**")][-2:] == [
        "**Rs. 300.00**", "**Rs. 200.00**"]
    assert "· Part became an amount due" in markdown(at)
    admin = signed_in("boss", "admin", "admin/payments")
    assert not admin.exception, admin.exception
    due = next(d.value for d in admin.dataframe if "Amount due" in d.value.columns)
    assert list(due["User"]) == ["asha"] and list(due["Amount due"]) == ["Rs. 300.00"]


def test_admin_approves_a_waiting_refund_and_sees_the_daily_report(adb, sandbox):
    _link(adb, sandbox)
    razorpay_events.reconcile_open(adb, due_only=False)
    admin = signed_in("boss", "admin", "admin/payments")
    assert "No day reconciled yet" in markdown(admin)
    credits = signed_in("boss", "admin", "admin/credits")  # approvals live with credits and refunds
    credits.toggle(key="refund_approval").set_value(True).run()
    assert settings.get(adb)["refund_approval_required"] == 1
    req = payments.request_refund(adb, "asha", 100, key="wait")
    assert req["status"] == "approval"
    payments.reconcile_day(adb, (clock.now() - timedelta(days=1)).date())
    credits.run()
    assert "**asha** asks for **Rs. 100.00** back to 1 payment" in markdown(credits)
    next(b for b in credits.button if b.label == "Approve").click().run()
    assert not credits.exception, credits.exception
    assert "Refund request of asha: sent to Razorpay." in texts(credits.success)
    assert ledger.get_wallet(adb, "asha").balance == 40000
    admin.run()
    assert "Every captured payment matches exactly one wallet credit." in texts(admin.success)
    days = next(d.value for d in admin.dataframe if "Day" in d.value.columns)
    assert list(days["Status"]) == ["Done"]
    reqs = next(d.value for d in admin.dataframe if "Decided by" in d.value.columns)
    assert list(reqs["Decided by"]) == ["boss"] and list(reqs["Status"]) == ["Sent to Razorpay"]
