"""Issues 16 and 24 in a real browser (`make run` on free ports, Debian's Chromium through Playwright; the
plumbing of tests/test_browser.py).

- Money traps: demo picks Rs. 500, then types 250 in "Other amount": the button says "Pay Rs. 250.00" and
  the hosted Razorpay page asks for Rs. 250; an admin's manual credit to an unknown user with a bad amount
  never reaches the review step, a valid one shows the customer's name and balance there and posts once.
- Journeys at 1280×800 and at 390×844, every role: the customer (wallet, calls, call history, insights,
  transactions, notifications), the admin (overview, users, credits and refunds, payments, audit log, rates,
  alerts, auto-recharge) and the analyst (analytics), a screenshot per step, and on every page no raw
  status word and no "None" in what it shows (`no_raw_words`). On the phone the sidebar closes after a page
  is chosen and after Sign out, and the next sign-in starts with it closed.
Screenshots go to the test's tmp dir; with UPDATE_SCREENSHOTS=1 they are copied to docs/screenshots/ (the
README shows some of them).
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from services.usage.catalogue import DEMO as DEMO_SERVICES

from tests.support.browser import (LAPTOP, PASSWORD, PHONE, ROOT, WAIT, no_raw_words, playwright_or_skip, settle,
                                   sign_in)

pytestmark = pytest.mark.browser
sync_api = playwright_or_skip()


def toolbars_clear(page) -> None:
    """Each table's hover toolbar (search, download, full screen) sits in the room kept above the table: it
    covers neither the table's rows nor what is drawn above it (a filter, a dropdown's arrow, a date picker)."""
    tables = page.get_by_test_id("stDataFrame")
    for i in range(tables.count()):
        table = tables.nth(i)
        if not table.is_visible():
            continue
        table.scroll_into_view_if_needed()
        table.hover()
        table.get_by_test_id("stElementToolbar").wait_for(state="visible")
        page.wait_for_timeout(300)  # the scroll has come to rest: the three boxes are read in one go below
        top, bottom, above = table.evaluate("""el => {
            const bar = el.querySelector('[data-testid="stElementToolbar"]').getBoundingClientRect();
            let c = el.closest('[data-testid="stElementContainer"]').previousElementSibling;
            while (c && c.getBoundingClientRect().height === 0) c = c.previousElementSibling;
            const bottom = c ? c.getBoundingClientRect().bottom : null;
            return [bar.top, bar.bottom - el.getBoundingClientRect().top, bottom]; }""")
        assert bottom <= 1, f"the toolbar covers the table's rows on {page.url}"
        assert above is None or top >= above - 1, f"the toolbar covers what is above the table on {page.url}"
    page.mouse.move(0, 0)


def columns_in_view(table, names_: tuple[str, ...]) -> None:
    """Each of `names_` is a column in view: the grid (a canvas) keeps accessible headers for the columns it
    shows, and none for those scrolled out of sight (checked: in the old layout New and By had none)."""
    table.scroll_into_view_if_needed()
    for name in names_:
        sync_api.expect(table.get_by_role("columnheader", name=name, exact=True, include_hidden=True)).to_have_count(1)


def _page(chromium, viewport: dict):
    ctx = chromium.new_context(viewport=viewport, device_scale_factor=1, accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(WAIT)
    sync_api.expect.set_options(timeout=WAIT)
    return page


def _failing(product, pages, name: str):
    for i, pg in enumerate(pages):  # what the browser showed when it failed
        try:
            pg.screenshot(path=str(product["tmp"] / f"{name}-failure-{i}.png"))
        except Exception:
            pass
    print(f"screenshots and the make run log: {product['tmp']}")


def _sign_in(page, base: str, username: str, phone: bool) -> None:
    """test_browser.sign_in, except that on a phone "Sign out" hides in the closed sidebar: wait for the
    session cookie and the page instead."""
    if not phone:
        return sign_in(page, base, username)
    page.goto(base)
    settle(page, "Sign in")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    deadline = time.time() + WAIT / 1000
    while not any(c["name"] == "wallet_session" for c in page.context.cookies()):
        assert time.time() < deadline, "the sign-in cookie was never written"
        page.wait_for_timeout(100)


def _sidebar(page, want_open: bool) -> None:
    """Open or close the sidebar as a person does on a phone (Streamlit may remember it open)."""
    bar = page.get_by_test_id("stSidebar")
    bar.wait_for(state="attached")
    if (bar.get_attribute("data-collapsed") == "false") != want_open:
        (page.get_by_test_id("stExpandSidebarButton") if want_open else
         page.get_by_test_id("stSidebarCollapseButton").get_by_role("button")).click()
    sync_api.expect(bar).to_have_attribute("data-collapsed", "false" if want_open else "true")


def _sign_out(page, phone: bool = False) -> None:
    if phone:
        _sidebar(page, True)
    page.get_by_role("button", name="Sign out").click()
    settle(page, "Create an account")


# ---------------------------------------------------------------------------------------- money traps

def test_typed_amount_is_charged_and_a_bad_manual_credit_never_reaches_review(product, chromium):
    page = _page(chromium, LAPTOP)
    try:
        _money_traps(product, page)
    except BaseException:
        _failing(product, page.context.pages, "money")
        raise


def _money_traps(product, page):
    base = product["base"]
    sign_in(page, base, "demo")
    page.goto(f"{base}/wallet")
    settle(page, "Your payments")
    sync_api.expect(page.get_by_role("button", name="Pay Rs. 500.00")).to_be_visible()
    page.get_by_text("Other amount", exact=True).click()
    box = page.get_by_label("Amount in rupees")
    box.fill("250")
    box.press("Enter")
    pay = page.get_by_role("button", name="Pay Rs. 250.00")
    sync_api.expect(pay).to_be_visible()
    pay.click()
    settle(page, "Payment link for Rs. 250.00 is ready")
    href = page.get_by_role("link", name="Pay with Razorpay").get_attribute("href")
    with page.context.expect_page() as tab:
        page.get_by_role("link", name="Pay with Razorpay").click()
    rp = tab.value
    rp.wait_for_load_state()
    assert rp.url.split("?")[0] == href.split("?")[0]
    sync_api.expect(rp.locator("body")).to_contain_text("250")  # Razorpay asks for what was typed
    sync_api.expect(rp.locator("body")).not_to_contain_text("500")
    rp.close()
    _sign_out(page)

    sign_in(page, base, "admin")
    page.goto(f"{base}/admin-credits")
    settle(page, "Every credit needs a reason")
    for label, value in (("Customer's username", "nobody"), ("Amount in rupees", "abc")):
        page.get_by_label(label).fill(value)
        page.get_by_label(label).press("Enter")
        settle(page, "Every credit needs a reason")
    page.get_by_label("Reason (required)").fill("Goodwill for the outage")
    page.get_by_role("button", name="Review", exact=True).click()
    settle(page, "No user 'nobody'")
    sync_api.expect(page.get_by_role("button", name="Confirm credit")).to_have_count(0)
    sync_api.expect(page.get_by_text("Confirm:")).to_have_count(0)

    page.get_by_label("Customer's username").fill("demo")
    page.get_by_label("Customer's username").press("Enter")
    settle(page, "Demo User")
    page.get_by_label("Amount in rupees").fill("75.5")
    page.get_by_label("Amount in rupees").press("Enter")
    settle(page, "= Rs. 75.50")
    page.get_by_role("button", name="Review", exact=True).click()
    settle(page, "Confirm:")
    review = page.get_by_test_id("stMarkdownContainer").filter(has_text="Confirm:").first
    sync_api.expect(review).to_contain_text("Rs. 75.50")
    sync_api.expect(review).to_contain_text("Demo User")
    sync_api.expect(review).to_contain_text("Rs. 0.00")
    page.get_by_role("button", name="Confirm credit").click()
    # the page already says "nothing is credited until you confirm": wait for the success line itself
    settle(page, "Credited Rs. 75.50 to demo")
    page.goto(f"{base}/admin-log")  # the credit is in the audit log, and in its CSV (the table is a canvas)
    settle(page, f"{1 + len(DEMO_SERVICES)} actions")  # make run's catalogue, priced by "system"
    with page.expect_download(timeout=WAIT) as dl:
        page.get_by_role("button", name="Download CSV of these filters").click()
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8"))))
    assert {r["actor"] for r in rows} == {"admin", "system"}, rows
    assert [(r["actor"], r["target"], r["what"], r["why"]) for r in rows if r["actor"] == "admin"] == [
        ("admin", "demo", "Rs. 75.50", "Goodwill for the outage")], rows
    assert dl.value.suggested_filename.startswith("audit-log-"), dl.value.suggested_filename


# -------------------------------------------------------------------------------------------- journeys

@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_each_role_walks_its_journey(product, chromium, viewport):
    page = _page(chromium, viewport)
    try:
        _journey(product, page, viewport)
    except BaseException:
        _failing(product, page.context.pages, f"journey-{viewport['width']}")
        raise


def _journey(product, page, viewport):
    base, phone = product["base"], viewport["width"] < 768
    tag = "phone" if phone else "laptop"
    shots = product["tmp"] / f"ux-{tag}"
    shots.mkdir(exist_ok=True)
    taken = []
    t0 = time.time()

    def snap(name: str) -> None:
        page.wait_for_timeout(300)  # charts finish their first draw
        page.screenshot(path=str(shots / f"ux-{tag}-{name}.png"), full_page=False)
        taken.append(f"ux-{tag}-{name}.png")

    def go(title: str, wait_for: str) -> None:
        """Choose a page in the sidebar as a person does (opening it first on a phone)."""
        if phone:
            _sidebar(page, True)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        settle(page, wait_for)
        if phone:  # the sidebar got out of the way of the page just chosen
            sync_api.expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")

    def signed_in_home(user: str, wait_for: str) -> None:
        _sign_in(page, base, user, phone)
        page.goto(base)
        settle(page, wait_for)
        if phone:  # starts closed: nothing covers the page (Streamlit once remembered it open from Sign out)
            sync_api.expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")

    def signed_out() -> None:
        _sign_out(page, phone)
        field = page.get_by_label("Username", exact=True)
        box = field.bounding_box()
        on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y).getAttribute('autocomplete')",
                               [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
        assert on_top == "username", "something covers the sign-in form"
        sync_api.expect(page.get_by_test_id("stSidebar")).not_to_be_visible()

    signed_in_home("demo", "Your payments")
    snap("1-customer-wallet")
    no_raw_words(page)
    go("Calls", "Make a call")
    page.get_by_label("Phone number").fill("9876543210")  # 10 digits: taken as +91
    page.get_by_label("Knowledge base id").fill("kb_support")
    page.get_by_role("button", name="Call", exact=True).click()
    # A result or, with an empty wallet, a refusal that says how to recharge (the money test may run first).
    page.get_by_text(re.compile(r"billed|Recharge your wallet")).first.wait_for()
    settle(page, "Make a call")
    snap("2-customer-calls")
    no_raw_words(page)
    page.get_by_text("Call history", exact=True).click()
    settle(page, "Download CSV of these filters")
    snap("3-customer-call-history")
    no_raw_words(page)
    go("Insights", "Billed call time")
    snap("4-customer-insights")
    no_raw_words(page)
    for title, wait_for in (("Transactions", "Download CSV of these filters"), ("Notifications", "Alerts sent")):
        go(title, wait_for)
        no_raw_words(page)
        toolbars_clear(page)  # Transactions: its table right under the filters and the date picker
    signed_out()

    signed_in_home("admin", "Largest balances")
    sync_api.expect(page.get_by_test_id("stSidebar").get_by_test_id("stMetric")).to_have_count(0)
    snap("5-admin-overview")
    no_raw_words(page)
    go("Users", "Reset a password")
    snap("6-admin-users")
    no_raw_words(page)
    toolbars_clear(page)  # under the search, sort and order filters
    go("Audit log", "Download CSV of these filters")
    snap("7-admin-audit-log")
    no_raw_words(page)
    go("Call rates", "Change history")
    if not phone:  # a plan defined: the change history has rows (a long description among them)
        plan = page.get_by_test_id("stForm").filter(has_text="Create or change a plan")
        plan.get_by_label("Plan name").fill("business")
        plan.get_by_label("Rupees per minute").fill("8.50")
        plan.get_by_role("button", name="Save plan").click()
        settle(page, "Plan business saved")
    snap("8-admin-rates")
    no_raw_words(page)
    if not phone:  # at 1280 px the change history shows who changed what, old and new, without scrolling
        columns_in_view(page.get_by_test_id("stDataFrame").last, ("When", "Setting", "Scope", "By", "Old", "New"))
    for title, wait_for in (("Credits & refunds", "Refund approvals"), ("Payments", "Daily reconciliation"),
                            ("Alerts", "Outbox"), ("Auto-recharge", "Auto-charges")):
        go(title, wait_for)
        no_raw_words(page)
    signed_out()

    signed_in_home("analyst", "Spending trends")
    snap("9-analyst-analytics")
    no_raw_words(page)
    assert time.time() - t0 < 480, f"the journey took {time.time() - t0:.0f}s"

    if os.environ.get("UPDATE_SCREENSHOTS"):  # tests must not rewrite tracked files on every run
        out = ROOT / "docs" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        for name in taken:
            shutil.copy(shots / name, out / name)
