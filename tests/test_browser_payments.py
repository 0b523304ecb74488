"""A failed payment in a real browser: `make run` on free ports, Debian's Chromium driven by Playwright
(the plumbing of tests/test_browser.py).

demo makes a Rs. 100 link on the Wallet page → fails the payment on the sandbox's hosted page, which says
why → goes back to the app → the Wallet page shows the failure first, with Razorpay's reason and "Try again"
→ tries again on the same link and pays → lands back on /wallet: credited once, Rs. 100.00 available,
the failure gone.
"""
from __future__ import annotations

import time

import pytest

from tests.support.browser import WAIT, playwright_or_skip, settle, sign_in

pytestmark = pytest.mark.browser
sync_api = playwright_or_skip()
REASON = "Payment failed because the customer declined it (sandbox)."


def test_fail_see_the_reason_retry_and_pay(product, browser):
    try:
        _flow(product, browser)
    except BaseException:
        for i, pg in enumerate(browser.pages):  # what the browser showed when it failed
            try:
                pg.screenshot(path=str(product["tmp"] / f"payments-failure-{i}.png"))
            except Exception:
                pass
        print(f"screenshots and the make run log: {product['tmp']}")
        raise


def _new_tab(ctx, click):
    with ctx.expect_page() as tab:
        click()
    page = tab.value
    page.set_default_timeout(WAIT)
    page.wait_for_load_state()
    return page


def _until_failure_shows(page) -> None:
    """The payment.failed webhook reaches the API within moments; the page shows what it recorded. A
    reload (or, last, "Check status", which asks Razorpay) draws it."""
    for _ in range(10):
        if page.get_by_text(f"Razorpay says: “{REASON}”").count():
            return
        page.wait_for_timeout(1500)
        page.reload()
        settle(page, "Your payments")
    page.get_by_role("button", name="Check status").first.click()
    settle(page, f"Razorpay says: “{REASON}”")


def _flow(product, browser):
    base, shots = product["base"], product["tmp"] / "payment-shots"
    sync_api.expect.set_options(timeout=WAIT)
    shots.mkdir()
    t0 = time.time()
    ctx = browser
    page = ctx.pages[0] if ctx.pages else ctx.new_page()
    page.set_default_timeout(WAIT)

    sign_in(page, base, "demo")
    page.goto(f"{base}/wallet")
    settle(page, "Your payments")
    page.get_by_text("Rs. 100", exact=True).click()
    page.get_by_role("button", name="Pay Rs. 100.00").click()
    settle(page, "Payment link for Rs. 100.00 is ready")

    # --- fail on the hosted page: it says why and links back to the app
    rp = _new_tab(ctx, page.get_by_role("link", name="Pay with Razorpay").click)
    rp.get_by_role("button", name="Fail", exact=True).click()
    sync_api.expect(rp.locator("#reason")).to_have_text(REASON)
    rp.screenshot(path=str(shots / "sandbox-failure-page.png"))
    rp.locator("#back").click()
    rp.wait_for_url(f"{base}/wallet**")
    settle(rp, "Your payments")

    # --- the wallet shows the failure in Razorpay's words, and a way to try again
    _until_failure_shows(rp)
    sync_api.expect(rp.get_by_test_id("stMetric").filter(has_text="Available")).to_contain_text("Rs. 0.00")
    rp.screenshot(path=str(shots / "wallet-payment-failed.png"))
    again = rp.get_by_role("link", name="Try again")  # first on the page, and on the payment's row
    sync_api.expect(again).to_have_count(2)
    again = again.first

    # --- try again on the same link and pay: back on /wallet, credited
    pay = _new_tab(ctx, again.click)
    pay.get_by_role("button", name="Pay", exact=True).click()
    pay.wait_for_url(f"{base}/wallet**", timeout=WAIT)
    pay.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stAlert"]')].some(
        a => a.innerText.includes('Payment received: Rs. 100.00 added to your wallet'))""", timeout=WAIT)
    settle(pay, "Paid — credited")
    metrics = pay.get_by_test_id("stMetric")
    sync_api.expect(metrics.filter(has_text="Available")).to_contain_text("Rs. 100.00")
    sync_api.expect(metrics.filter(has_text="Balance").first).to_contain_text("Rs. 100.00")
    sync_api.expect(pay.get_by_text("did not go through")).to_have_count(0)
    pay.screenshot(path=str(shots / "wallet-paid-after-retry.png"))
    assert time.time() - t0 < 180, f"the flow took {time.time() - t0:.0f}s"
