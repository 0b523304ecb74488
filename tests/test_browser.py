"""The whole product in a real browser: `make run` on free ports, Debian's Chromium driven by Playwright.

The first visitor opens the URL as soon as `make run` prints it; the seconds to the sign-in form are
printed as `first_visit_to_sign_in_s=…` (a figure: no timed assertion).

demo signs in → recharges Rs. 100 on the Wallet page → pays on the sandbox's hosted Razorpay page →
lands back on /wallet with the signed callback → success and Rs. 100.00 → the Transactions CSV holds
the credit → signs out; admin signs in, finds demo among the largest balances and opens every admin page
at its own deep link.
Screenshots (1280×800) go to the test's tmp dir (Chromium's fresh profile too); the key ones are copied to
docs/screenshots/ on success.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import time
import warnings
from pathlib import Path

import pytest

from tests.support.browser import ROOT, WAIT, playwright_or_skip, settle, sign_in

pytestmark = pytest.mark.browser

SHOTS_KEPT = ("wallet-signed-in", "sandbox-pay-page", "wallet-paid", "transactions",
              "admin")
sync_api = playwright_or_skip()


def test_first_visitor_after_the_url_is_printed_reaches_the_sign_in_form(product, browser, capsys):
    """The first visitor (the first test of the module) opens the URL make run printed: the seconds to the
    sign-in form are recorded as a figure (first_visit_to_sign_in_s, also in the test's folder), not
    asserted (timing targets live in bench/). It was 8.7 s before make run warmed the dashboard."""
    page = browser.pages[0] if browser.pages else browser.new_page()
    t0 = time.monotonic()
    page.goto(product["base"])
    page.get_by_label("Username", exact=True).wait_for(timeout=WAIT)
    page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=WAIT)
    took, since = time.monotonic() - t0, time.monotonic() - product["printed_at"]
    figure = f"first_visit_to_sign_in_s={took:.2f} (url_printed_to_sign_in_s={since:.2f}, load {load_average()})"
    (product["tmp"] / "first_visit.txt").write_text(figure + "\n")
    with capsys.disabled():
        print(f"\n{figure}")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def test_recharge_through_razorpay_sandbox_end_to_end(product, browser):
    try:
        _flow(product, browser)
    except BaseException:
        for i, pg in enumerate(browser.pages):  # what the browser showed when it failed
            try:
                pg.screenshot(path=str(product["tmp"] / "shots" / f"failure-{i}.png"))
            except Exception:
                pass
        print(f"screenshots and the make run log: {product['tmp']}")
        raise


def _flow(product, browser):
    base, shots = product["base"], product["tmp"] / "shots"
    sync_api.expect.set_options(timeout=WAIT)  # assertions wait like the locators do
    shots.mkdir()
    t0 = time.time()

    def snap(page, name: str) -> None:
        page.screenshot(path=str(shots / f"browser-{name}.png"))

    ctx = browser
    page = ctx.pages[0] if ctx.pages else ctx.new_page()
    page.set_default_timeout(WAIT)

    # --- demo signs in and lands on the Wallet page with an empty wallet
    sign_in(page, base, "demo")
    page.goto(f"{base}/wallet")
    settle(page, "Your payments")
    balance = page.get_by_test_id("stMetric").filter(has_text="Available")
    sync_api.expect(balance).to_contain_text("Rs. 0.00")
    snap(page, "wallet-signed-in")

    # --- Rs. 100 (a preset) → a payment link
    page.get_by_text("Rs. 100", exact=True).click()
    page.get_by_role("button", name="Pay Rs. 100.00").click()
    settle(page, "Payment link for Rs. 100.00 is ready")
    pay = page.get_by_role("link", name="Pay with Razorpay")
    href = pay.get_attribute("href")
    assert href and href.startswith("http://127.0.0.1:"), href

    # --- the hosted page opens in a new tab (st.link_button); pay there
    with ctx.expect_page() as new_tab:
        pay.click()
    rp = new_tab.value
    rp.set_default_timeout(WAIT)
    rp.wait_for_load_state()
    assert rp.url.split("?")[0] == href.split("?")[0], (rp.url, href)
    sync_api.expect(rp.get_by_text("100", exact=False).first).to_be_visible()
    rp.set_viewport_size({"width": 1280, "height": 800})
    rp.screenshot(path=str(shots / "browser-sandbox-pay-page.png"))
    rp.get_by_role("button", name="Pay", exact=True).click()

    # --- Razorpay redirects back to the dashboard's /wallet with signed razorpay_* parameters
    rp.wait_for_url(f"{base}/wallet**", timeout=WAIT)
    # Checked in one step inside the page first: a rerun right after landing must not race the check.
    rp.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stAlert"]')].some(
        a => a.innerText.includes('Payment received: Rs. 100.00 added to your wallet'))""", timeout=WAIT)
    alert = rp.get_by_test_id("stAlert").filter(has_text="Payment received")
    metrics = rp.get_by_test_id("stMetric")
    settle(rp, "Paid — credited")
    sync_api.expect(metrics.filter(has_text="Available")).to_contain_text("Rs. 100.00")
    assert "razorpay_" not in rp.url  # the parameters are consumed once
    sync_api.expect(metrics.filter(has_text="Balance").first).to_contain_text("Rs. 100.00")
    snap(rp, "wallet-paid")
    # The confirmation must outlast the runs that follow the landing (the cookie component's rerun once
    # dropped it after a split second).
    sync_api.expect(alert).to_be_visible()
    sync_api.expect(alert).to_contain_text("Rs. 100.00 added to your wallet")
    rp.close()

    # --- Transactions: the credit is there and in the CSV
    page.goto(f"{base}/transactions")
    settle(page, "Download CSV")
    snap(page, "transactions")
    with page.expect_download(timeout=WAIT) as dl:
        page.get_by_role("button", name="Download CSV of these filters").click()
    path = dl.value.path()
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    assert dl.value.suggested_filename.startswith("transactions-demo-")
    credits = [r for r in rows if r["type"] == "credit" and r["category"] == "recharge"]
    assert len(credits) == 1, rows
    assert credits[0]["amount_rupees"] == "100.00" and credits[0]["balance_after_rupees"] == "100.00"
    assert credits[0]["user_id"] == "demo"

    # --- sign out
    page.get_by_role("button", name="Sign out").click()
    settle(page, "Create an account")
    sync_api.expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()

    # --- admin (same browser: signing out really ended demo's session): demo among the largest balances
    sign_in(page, base, "admin")
    page.goto(f"{base}/admin")
    settle(page, "Largest balances")
    column = page.get_by_test_id("stColumn").filter(has_text="Largest balances")
    table = column.get_by_test_id("stDataFrame")
    sync_api.expect(table).to_contain_text("demo")
    sync_api.expect(table).to_contain_text("Rs. 100.00")
    snap(page, "admin")

    # --- every other admin page answers at its own URL (a bookmark or a shared link), not only via the menu
    for path, text in (("admin-users", "Reset a password"), ("admin-credits", "Every credit needs a reason"),
                       ("admin-rates", "Change history"), ("admin-payments", "Failed and suspicious payments"),
                       ("admin-audit", "Run ledger audit"), ("admin-services", "Price changes ahead")):
        page.goto(f"{base}/{path}")
        settle(page, text)
        assert page.url.split("?")[0].rstrip("/").endswith(f"/{path}"), (path, page.url)
        sync_api.expect(page.get_by_role("heading", level=1).first).to_contain_text("Admin")

    assert time.time() - t0 < 180, f"the browser flow took {time.time() - t0:.0f}s"
    text = product["log"].read_text(errors="replace")
    if "Traceback" in text:  # the flow worked, but a process logged an error on the way: say so
        warnings.warn("make run logged a traceback during the flow:\n" + text[text.index("Traceback"):][:3000],
                      stacklevel=1)
    if not os.environ.get("UPDATE_SCREENSHOTS"):  # tests must not rewrite tracked files on every run
        return
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for name in SHOTS_KEPT:
        shutil.copy(shots / f"browser-{name}.png", out / f"browser-{name}.png")
