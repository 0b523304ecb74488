"""Issue 24 in a real browser (`make run` on free ports, Debian's Chromium through Playwright): one test per
item of "Figures that are wrong" and "Outcomes out of sight", each asserting the text a person reads.

Figures: spending after a refund (Insights, the admin's top spenders, the analyst, the runway), payment
messages with GST on top, billed call time, what the admin's "recharges" figure counts, the statement's
running balance, the amount picker and the Pay button on a first sign-in.
Outcomes: back from Razorpay after a failure, Recharge on a phone, one status per refund request, an
announced top-up made redundant by a recharge, the business details a receipt lacks.

Customers are created in the product's database from here (services.accounts, as sign-up does); everything
they then do goes through the browser, the sandbox's hosted pages, its webhooks and the worker. The tests
of one module share one product: each uses its own customer, and the order below is the order they need
(the GST test last: it turns GST on for everyone, then off again).
"""
from __future__ import annotations

import re
import time

import httpx
import pytest

from services import accounts, clock, db as dbmod, documents, ledger, payments
from tests.support.browser import (LAPTOP, PASSWORD, PHONE, WAIT, no_raw_words, playwright_or_skip, run_product,
                                   settle, submit)

pytestmark = pytest.mark.browser
sync_api = playwright_or_skip()
PdfReader = pytest.importorskip("pypdf").PdfReader
expect = sync_api.expect
REASON = "Payment failed because the customer declined it (sandbox)."
RS = re.compile(r"Rs\. ([\d,]+)\.(\d\d)")


def paise(text: str) -> int:
    m = RS.search(text)
    assert m, text
    return int(m[1].replace(",", "")) * 100 + int(m[2])


def rupees(p: int) -> str:
    from services.money import format_rupees
    return format_rupees(p)


# ------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def product(tmp_path_factory):
    # A top-up announced 6 minutes ahead: time to recharge by hand and skip it in the browser.
    with run_product(tmp_path_factory.mktemp("figures"), WALLET_PREDEBIT_NOTICE_HOURS="0.1") as p:
        yield p


@pytest.fixture(scope="module")
def db(product):
    d = dbmod.open_db(uri="", name="wallet", path=str(product["data"]))
    yield d
    dbmod.client_of(d).close()


@pytest.fixture
def shots(product, request):
    """Pages opened by a test: each is kept as a screenshot in the product's folder at the end (what the
    browser showed, when a test fails), then closed."""
    pages = []
    yield pages
    for i, pg in enumerate(pages):
        try:
            pg.screenshot(path=str(product["tmp"] / f"{request.node.name}-{i}.png"))
            pg.context.close()
        except Exception:
            pass


def customer(db, name: str, *, promo_rupees: int = 0) -> str:
    accounts.create_user(db, name, PASSWORD, f"{name.title()} Rao", f"{name}@example.com", "user")
    if promo_rupees:  # a welcome credit (not refundable, not a payment): money to call with
        ledger.post(db, name, key=f"welcome:{name}", type="credit", category="promo_credit",
                    amount=promo_rupees * 100, source="test", note="Welcome credit")
    return name


def page_of(chromium, shots, viewport=LAPTOP):
    ctx = chromium.new_context(viewport=viewport, device_scale_factor=1, accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(WAIT)
    expect.set_options(timeout=WAIT)
    shots.append(page)
    return page


def sign_in(page, base: str, username: str) -> None:
    """Sign in and wait for the session cookie (a full load before it exists lands on the form again)."""
    page.goto(base)
    settle(page, "Sign in")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    deadline = time.time() + WAIT / 1000
    while not any(c["name"] == "wallet_session" for c in page.context.cookies()):
        assert time.time() < deadline, "the sign-in cookie was never written"
        page.wait_for_timeout(100)


def wallet(page, base: str) -> None:
    page.goto(f"{base}/wallet")
    settle(page, "Your payments")


def pay_link(page, base: str, preset: str = "Rs. 500"):
    """Pick `preset`, press Pay; returns the hosted Razorpay page opened from "Pay with Razorpay"."""
    wallet(page, base)
    page.get_by_text(preset, exact=True).click()
    page.get_by_role("button", name=re.compile(r"^Pay Rs\. ")).click()
    settle(page, "is ready")
    with page.context.expect_page() as tab:
        page.get_by_role("link", name="Pay with Razorpay").click()
    rp = tab.value
    rp.set_default_timeout(WAIT)
    rp.wait_for_load_state()
    return rp


def recharge(page, base: str, preset: str = "Rs. 500") -> str:
    """A recharge paid on the sandbox's page; returns the message the wallet greets the payer back with."""
    rp = pay_link(page, base, preset)
    rp.get_by_role("button", name="Pay", exact=True).click()
    rp.wait_for_url(f"{base}/wallet**")
    settle(rp, "Payment received")
    said = rp.get_by_test_id("stAlert").filter(has_text="Payment received").first.inner_text()
    rp.close()
    return said


def call(page, base: str, seconds: int) -> tuple[int, str]:
    """One simulated call of `seconds`; returns its cost and the result as the Calls page words it."""
    page.goto(f"{base}/calls")
    settle(page, "Make a call")
    page.get_by_label("Phone number").fill("9876543210")
    page.get_by_label("Knowledge base id").fill("kb_support")
    talk = page.get_by_role("spinbutton", name=re.compile("Simulated talk time"))
    talk.fill(str(seconds))
    talk.press("Tab")
    page.get_by_role("button", name="Call", exact=True).click()
    result = page.get_by_text(re.compile(r"billed · cost")).first
    result.wait_for()
    settle(page, "Make a call")
    text = result.inner_text()
    return paise(text.split("cost")[1]), text


def until_on_wallet(page, base: str, text: str, seconds: float = 180) -> None:
    """Reload the wallet until `text` is on it: what the worker and Razorpay's webhooks do takes a while."""
    deadline = time.time() + seconds
    while True:
        wallet(page, base)
        if page.get_by_test_id("stMain").get_by_text(text).count() or time.time() > deadline:
            return
        page.wait_for_timeout(1500)


def metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).first


# ----------------------------------------------------------------------------- figures that are wrong

@pytest.fixture(scope="module")
def refunded(product, chromium, db):
    """rita recharges Rs. 500, places two calls (4 min 55 s and 1 min 30 s) and has Rs. 100 refunded."""
    base = product["base"]
    customer(db, "rita")
    page = page_of(chromium, [])
    try:
        sign_in(page, base, "rita")
        recharge(page, base)
        costs = [call(page, base, 295)[0], call(page, base, 90)[0]]
        wallet(page, base)
        page.get_by_label("Refund amount in rupees").fill("100")
        page.get_by_role("button", name="Request refund").click()
        settle(page, "Refund request for Rs. 100.00")
    except BaseException:
        page.screenshot(path=str(product["tmp"] / "refunded-failure.png"))
        raise
    finally:
        page.context.close()
    return {"costs": costs, "spent": sum(costs)}


def test_after_a_refund_spent_is_the_calls_everywhere(product, chromium, db, refunded, shots):
    """Insights' spent equals the sum of the call charges after a Rs. 100 refund, and the runway is
    computed from them; the admin's top spenders and the analyst's "Spent (calls and services)" say the same."""
    base, spent = product["base"], refunded["spent"]
    assert refunded["costs"] == [4_917, 1_500]  # Rs. 10 a minute, rounded up to the paisa
    page = page_of(chromium, shots)
    sign_in(page, base, "rita")
    page.goto(f"{base}/insights")
    settle(page, "Billed call time")
    expect(metric(page, "Spent, 30 days")).to_contain_text(rupees(spent))
    expect(page.get_by_text("went back to your bank")).to_contain_text("Rs. 100.00 went back to your bank")
    available = 50_000 - spent - 10_000
    runway = page.get_by_text("your balance lasts")
    expect(runway).to_contain_text(f"about {rupees(spent)} a day")
    expect(runway).to_contain_text(f"lasts about {available // spent} days")  # 5 days; the refund made it 2
    no_raw_words(page)

    admin = page_of(chromium, shots)
    sign_in(admin, base, "admin")
    admin.goto(f"{base}/admin")
    settle(admin, "Top spenders")
    top = admin.get_by_test_id("stColumn").filter(has_text="Top spenders").get_by_test_id("stDataFrame").first
    expect(top).to_contain_text("rita")
    expect(top).to_contain_text(rupees(spent))
    expect(top).not_to_contain_text(rupees(spent + 10_000))

    analyst = page_of(chromium, shots)
    sign_in(analyst, base, "analyst")
    analyst.goto(f"{base}/analyst")
    settle(analyst, "Spending trends")
    # rita's are the only calls yet
    expect(metric(analyst, "Spent (calls and services)")).to_contain_text(rupees(spent))
    expect(analyst.get_by_text("Refunded to customers' banks")).to_contain_text("Rs. 100.00")


def test_billed_call_time_is_minutes_and_seconds(product, chromium, db, shots):
    """A call of 4 min 55 s is "4 min 55 s" on the call and in Insights, never "4" minutes."""
    base = product["base"]
    customer(db, "mina", promo_rupees=100)
    page = page_of(chromium, shots)
    sign_in(page, base, "mina")
    _cost, said = call(page, base, 295)
    assert "4 min 55 s billed" in said, said
    page.goto(f"{base}/insights")
    settle(page, "Billed call time")
    expect(metric(page, "Billed call time")).to_contain_text("4 min 55 s")


def test_the_statement_runs_in_order_and_names_each_refund(product, chromium, refunded, shots):
    """The month's statement: every line's balance follows from the one before (no jump between sections),
    the refund says where the money went, and the month to date ends today."""
    base = product["base"]
    page = page_of(chromium, shots)
    sign_in(page, base, "rita")
    wallet(page, base)
    with page.expect_download(timeout=WAIT) as dl:
        page.get_by_role("button", name="Statement PDF").click()
    text = "\n".join(p.extract_text() for p in PdfReader(dl.value.path()).pages)
    today = clock.today()
    assert f"Period: 01 {today:%b %Y} to {today:%d %b %Y} (month to date)" in text, text
    assert "Refund to your bank rfnd_" in text and "Razorpay refund" not in text, text
    lines = re.findall(r"([+-]) Rs\. ([\d,]+\.\d\d)\s*Rs\. ([\d,]+\.\d\d)", text)
    assert len(lines) == 3, text  # the recharge, the two calls (one line: nothing between them), the refund
    balance = paise(re.search(r"Opening balance\s*(Rs\. [\d,.]+)", text)[1])
    for sign, amount, after in lines:
        balance += paise(f"Rs. {amount}") * (1 if sign == "+" else -1)
        assert paise(f"Rs. {after}") == balance, (sign, amount, after, text)
    assert paise(re.search(r"Closing balance\s*(Rs\. [\d,.]+)", text)[1]) == balance == 50_000 - 6_417 - 10_000


def test_first_sign_in_picker_and_pay_button_are_one_state(product, chromium, db, shots):
    """Right after a first sign-in, whatever order the page's runs take, the amount picked and the Pay button
    agree at every moment the page is at rest; a pick made while runs are still arriving is the one paid."""
    base = product["base"]
    customer(db, "fred")
    named = {"Rs. 100": "Pay Rs. 100.00", "Rs. 500": "Pay Rs. 500.00", "Rs. 1,000": "Pay Rs. 1,000.00"}
    for attempt in range(3):
        page = page_of(chromium, shots)
        sign_in(page, base, "fred")  # lands on the wallet: the customer's home
        # Watched until the page has been at rest, both on screen, for 2.5 s (the runs of a first sign-in
        # arrive within about a second of each other), and 6 s at most.
        seen, busy = 0, time.time()
        deadline = busy + 6
        while time.time() < deadline and not (seen and time.time() - busy > 2.5):
            state = page.evaluate(r"""() => {
                if (document.querySelector('[data-testid="stStatusWidget"]')) return null;
                const on = document.querySelector('[data-testid="stRadio"] input:checked');
                const pay = [...document.querySelectorAll('button')]
                    .map(b => b.innerText.match(/Pay Rs\. [\d,]+\.\d\d/)).find(m => m);
                return on && pay ? [on.closest('label').innerText.trim(), pay[0]] : null; }""")
            if state:
                assert named[state[0]] == state[1], (attempt, state)
                seen += 1
            else:
                busy = time.time()
            page.wait_for_timeout(100)
        assert seen, "the picker and the button were never both on screen"
        page.get_by_text("Rs. 1,000", exact=True).click()  # picked at once, runs may still be arriving
        expect(page.get_by_role("button", name="Pay Rs. 1,000.00")).to_be_visible()
        page.get_by_role("button", name="Pay Rs. 1,000.00").click()
        settle(page, "Payment link for Rs. 1,000.00 is ready")
        page.context.close()


# ----------------------------------------------------------------------------- outcomes out of sight

def test_back_from_razorpay_after_a_failure_the_outcome_is_first(product, chromium, db, shots):
    """The sandbox's "Back to the merchant" after a failed payment brings no parameters: the wallet still
    opens with that payment's outcome first, in Razorpay's words, with "Try again"."""
    base = product["base"]
    customer(db, "bala")
    page = page_of(chromium, shots)
    sign_in(page, base, "bala")
    rp = pay_link(page, base, "Rs. 100")
    shots.append(rp)
    rp.get_by_role("button", name="Fail", exact=True).click()
    expect(rp.locator("#reason")).to_have_text(REASON)
    rp.locator("#back").click()
    rp.wait_for_url(f"{base}/wallet**")
    first = rp.get_by_test_id("stMain").get_by_test_id("stAlert").first
    expect(first).to_contain_text(f"did not go through. Razorpay says: “{REASON}”", timeout=WAIT)
    expect(first).to_contain_text("Your payment of Rs. 100.00 (all of it for your wallet)")
    again = rp.get_by_role("link", name="Try again").first
    expect(again).to_be_in_viewport()
    balance = metric(rp, "Available").bounding_box()
    assert first.bounding_box()["y"] < balance["y"], "the outcome comes before the balance"
    no_raw_words(rp)


def test_on_a_phone_recharge_comes_right_under_the_balance(product, chromium, db, shots):
    base = product["base"]
    customer(db, "pia")
    page = page_of(chromium, shots, PHONE)
    sign_in(page, base, "pia")
    wallet(page, base)
    heads = [h.strip() for h in page.get_by_test_id("stMain").locator("h1, h2, h3").all_inner_texts() if h.strip()]
    assert heads[:2] == ["Wallet", "Recharge"], heads
    expect(page.get_by_role("heading", name="Recharge", exact=True)).to_be_in_viewport()
    pay = page.get_by_role("button", name="Pay Rs. 500.00")
    expect(pay).to_be_in_viewport()  # on the first screen, without scrolling
    assert pay.bounding_box()["y"] + pay.bounding_box()["height"] <= PHONE["height"]


def test_one_plain_status_per_refund_request_with_its_payment_named(product, chromium, db, refunded, shots):
    """"On its way to your bank" while Razorpay's refund is pending, "Refunded to your bank" once it is
    processed (never "Refunded" over a pending refund), with the payment it went back to named."""
    base = product["base"]
    page = page_of(chromium, shots)
    sign_in(page, base, "rita")
    wallet(page, base)
    main = page.get_by_test_id("stMain")
    day = f"{clock.today():%d %b %Y}"
    expect(main).to_contain_text("On its way to your bank")
    expect(main).to_contain_text(f"Back to: Rs. 100.00 to your Rs. 500.00 payment of {day}")
    expect(main).not_to_contain_text("Refunded to your bank")
    no_raw_words(page)
    [rf] = payments.list_refunds(db, "rita")
    httpx.post(f"{product['sandbox']}/sandbox/refunds/{rf['refund_id']}/process", json={},
               trust_env=False).raise_for_status()  # the bank's answer: Razorpay's webhook reaches the API
    until_on_wallet(page, base, "Refunded to your bank")
    expect(main).to_contain_text("Refunded to your bank")
    expect(main).not_to_contain_text("On its way to your bank")


def test_a_top_up_made_redundant_by_a_recharge_says_so_and_is_skipped(product, chromium, db, shots):
    """Auto-recharge in plain words; its top-up is marked as such in Your payments; announced before a
    recharge by hand, it says it is no longer needed but will still be taken, and Skip stops it."""
    base = product["base"]
    customer(db, "arun", promo_rupees=150)
    page = page_of(chromium, shots)
    sign_in(page, base, "arun")
    wallet(page, base)
    page.get_by_test_id("stExpander").filter(has_text="Set up auto-recharge").locator("summary").click()
    # no mobile number on file: Razorpay needs one for the mandate
    page.get_by_role("textbox", name="Mobile number").fill("98123 45678")
    submit(page, page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Set up auto-recharge"),
           "authorise the mandate")
    with page.context.expect_page() as tab:
        page.get_by_role("link", name="Authorise the mandate on Razorpay").click()
    auth = tab.value
    shots.append(auth)
    auth.get_by_role("button", name="Approve mandate").click()
    expect(auth.locator("#result")).to_have_text("Mandate confirmed")
    auth.close()
    main = page.get_by_test_id("stMain")
    until_on_wallet(page, base, "No top-up planned")
    expect(main).to_contain_text("No top-up planned: no recent spending.")
    call(page, base, 360)  # Rs. 60: about Rs. 91 left, below the Rs. 100 threshold
    # Announced first, then its debit time once the notice is out: wait for the second under load.
    until_on_wallet(page, base, "A top-up of Rs. 500.00 is announced: it will be debited from your mandate on or")
    until_on_wallet(page, base, "Auto-recharge top-up, debited from your mandate")  # its order, in Your payments
    expect(main).to_contain_text("A top-up of Rs. 500.00 is announced: it will be debited from your mandate "
                                 "on or after")
    expect(metric(page, "Taken this month")).to_contain_text("Rs. 0.00")  # announced is not taken
    expect(main).to_contain_text("Auto-recharge top-up, debited from your mandate")
    expect(main).to_contain_text("Announced — to be debited from your mandate")
    for wrong in ("frequency", "e-mandate mandate", "1 minutes", "as_presented"):
        expect(main).not_to_contain_text(wrong)
    no_raw_words(page)

    recharge(page, base)  # by hand: the balance is well above the threshold again
    wallet(page, base)
    expect(main).to_contain_text("A top-up of Rs. 500.00 was announced before your balance went up. It is no "
                                 "longer needed, but it will still be debited from your mandate on or after")
    submit(page, page.get_by_role("button", name="Skip this top-up of Rs. 500.00"), "skipped: it will not be debited")
    expect(main).to_contain_text("Not taken — nothing debited")
    expect(main).not_to_contain_text("A top-up of Rs. 500.00 is announced")
    expect(main).not_to_contain_text("unless you skip it")
    assert not [c for c in db.autorecharge_charges.find({"user_id": "arun"}) if c["state"] != "skipped"]


def test_the_admin_home_says_what_receipts_lack_until_the_business_details_are_complete(product, chromium,
                                                                                      shots):
    base = product["base"]
    page = page_of(chromium, shots)
    sign_in(page, base, "admin")
    page.goto(f"{base}/admin")
    settle(page, "Largest balances")
    warning = page.get_by_test_id("stAlert").filter(has_text="Receipts and invoices do not name your business")
    expect(warning).to_contain_text("legal name, address, state, GSTIN, PAN, SAC code, authorised signatory are "
                                    "missing")
    page.get_by_role("link", name="Complete the business details").click()
    settle(page, "Save business details")
    page.get_by_label("Legal name", exact=True).fill("Voice AI Calling Pvt Ltd")
    page.get_by_label("Address", exact=True).fill("12 MG Road, Bengaluru 560001")
    page.get_by_label("GSTIN", exact=True).fill(GSTIN)
    page.get_by_label("PAN", exact=True).fill(GSTIN[2:12])
    page.get_by_test_id("stSelectbox").filter(has_text="State").click()
    page.keyboard.type("Karnataka")
    page.keyboard.press("Enter")
    page.get_by_test_id("stSelectbox").filter(has_text="SAC code").click()
    page.keyboard.type("998599")
    page.keyboard.press("Enter")
    page.get_by_label("Authorised signatory (name printed on every document)", exact=True).fill("Asha Rao")
    page.get_by_role("button", name="Save business details").click()
    settle(page, "Business details saved")
    page.goto(f"{base}/admin")
    settle(page, "Largest balances")
    expect(page.get_by_text("do not name your business")).to_have_count(0)


def _gstin(state: str, pan: str) -> str:
    from services.documents import gst
    first14 = f"{state}{pan}1Z"
    return first14 + gst.check_character(first14)


GSTIN = _gstin("29", "AABCV1234K")


@pytest.fixture(scope="module")
def gst_paid(product, chromium, db):
    """GST charged on top (18 %): gita recharges Rs. 500 and pays Rs. 590.00. What she reads on the way, and
    the admin's "Recharges to wallets" before and after. GST is off again afterwards."""
    base = product["base"]
    documents.business.update(db, {"legal_name": "Voice AI Calling Pvt Ltd", "address": "12 MG Road, Bengaluru",
                                   "state": "29", "gstin": GSTIN, "pan": GSTIN[2:12], "gst_rate_bp": 1800,
                                   "sac": "998599", "gst_mode": "exclusive"}, by="admin")
    customer(db, "gita")
    admin, page = page_of(chromium, []), page_of(chromium, [])
    seen: dict = {}
    try:
        sign_in(admin, base, "admin")
        seen["before"] = _recharged_today(admin, base)
        sign_in(page, base, "gita")
        wallet(page, base)
        page.get_by_text("Rs. 500", exact=True).click()
        expect(page.get_by_role("button", name="Pay Rs. 590.00")).to_be_visible()
        seen["caption"] = page.get_by_text("You pay").first.inner_text()
        page.get_by_role("button", name="Pay Rs. 590.00").click()
        settle(page, "is ready")
        seen["ready"] = page.get_by_test_id("stAlert").filter(has_text="is ready").first.inner_text()
        with page.context.expect_page() as tab:
            page.get_by_role("link", name="Pay with Razorpay").click()
        rp = tab.value
        rp.set_default_timeout(WAIT)
        rp.wait_for_load_state()
        seen["razorpay"] = rp.locator("body").inner_text()
        rp.get_by_role("button", name="Pay", exact=True).click()
        rp.wait_for_url(f"{base}/wallet**")
        settle(rp, "Payment received")
        seen["received"] = rp.get_by_test_id("stAlert").filter(has_text="Payment received").first.inner_text()
        settle(rp, "Paid — credited")
        seen["row"] = rp.get_by_test_id("stMain").inner_text()
        rp.close()
        deadline = time.time() + 45  # the admin summary is cached for 30 s; Refresh reads it again
        while (after := _recharged_today(admin, base, refresh=True))[0] == seen["before"][0] and time.time() < deadline:
            admin.wait_for_timeout(2000)
        seen["after"] = after
    except BaseException:
        for i, pg in enumerate((admin, page)):
            pg.screenshot(path=str(product["tmp"] / f"gst-failure-{i}.png"))
        raise
    finally:
        admin.context.close()
        page.context.close()
        documents.business.update(db, {"gst_mode": "off"}, by="admin")
    return seen


def _recharged_today(admin, base: str, *, refresh: bool = False) -> tuple[int, str]:
    admin.goto(f"{base}/admin")
    settle(admin, "Largest balances")
    if refresh:
        admin.get_by_role("button", name="Refresh").click()
        admin.wait_for_timeout(500)
        settle(admin, "Largest balances")
    caption = admin.get_by_text("Today: recharges count").first.inner_text()
    return paise(metric(admin, "Recharges to wallets").inner_text()), caption


def test_with_gst_on_top_every_payment_message_names_what_is_paid_and_what_reaches_the_wallet(gst_paid):
    split = "Rs. 500.00 for your wallet + Rs. 90.00 GST"
    assert gst_paid["caption"] == f"You pay Rs. 590.00 ({split}).", gst_paid["caption"]
    assert f"Payment link for Rs. 590.00 is ready — {split}." in gst_paid["ready"], gst_paid["ready"]
    assert "590.00" in gst_paid["razorpay"] and "500.00" not in gst_paid["razorpay"]  # the hosted page asks 590
    assert "Payment received: you paid Rs. 590.00; Rs. 500.00 added to your wallet." in gst_paid["received"]
    assert "Rs. 590.00" in gst_paid["row"] and split in gst_paid["row"]  # the payment's row says both


def test_the_admins_recharge_figure_says_it_counts_what_reached_wallets(gst_paid):
    """Rs. 590.00 paid with GST on top: the admin's figure grows by Rs. 500.00, and says that is what it counts."""
    (before, caption), (after, _) = gst_paid["before"], gst_paid["after"]
    assert after - before == 50_000, (before, after)
    assert "recharges count what reached customers' wallets (GST charged on top is tax, not in it)" in caption
