"""A receipt in a real browser: `make run` on free ports, Debian's Chromium driven by Playwright.

demo recharges Rs. 100 through the sandbox's hosted Razorpay page → back on /wallet the receipt of that
recharge is listed → its PDF downloads, and its text (read back with pypdf) carries the number and the
amount; the month's statement downloads as CSV with the recharge, in IST. Shares tests/test_browser.py's
`make run` fixture and helpers (one journey, one product start).
"""
from __future__ import annotations

import csv
import io
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.browser import WAIT, playwright_or_skip, settle, sign_in

pytestmark = pytest.mark.browser
sync_api = playwright_or_skip()
PdfReader = pytest.importorskip("pypdf").PdfReader


def test_a_recharge_gets_a_receipt_that_downloads(product, browser):
    try:
        _flow(product, browser)
    except BaseException:
        for i, pg in enumerate(browser.pages):
            try:
                pg.screenshot(path=str(product["tmp"] / f"documents-failure-{i}.png"))
            except Exception:
                pass
        print(f"screenshots and the make run log: {product['tmp']}")
        raise


def _flow(product, ctx):
    base = product["base"]
    sync_api.expect.set_options(timeout=WAIT)
    t0 = time.time()
    page = ctx.pages[0] if ctx.pages else ctx.new_page()
    page.set_default_timeout(WAIT)
    sign_in(page, base, "demo")
    page.goto(f"{base}/wallet")
    settle(page, "Your payments")
    sync_api.expect(page.get_by_text("No receipts yet", exact=False)).to_be_visible()

    # --- Rs. 100 through the hosted sandbox page, back to /wallet
    page.get_by_text("Rs. 100", exact=True).click()
    page.get_by_role("button", name=re.compile(r"^Pay Rs\. ")).click()  # the amount (GST on top, if any)
    settle(page, "Payment link for Rs. 100.00 is ready")
    with ctx.expect_page() as new_tab:
        page.get_by_role("link", name="Pay with Razorpay").click()
    rp = new_tab.value
    rp.set_default_timeout(WAIT)
    rp.wait_for_load_state()
    rp.get_by_role("button", name="Pay", exact=True).click()
    rp.wait_for_url(f"{base}/wallet**", timeout=WAIT)
    settle(rp, "Paid — credited")

    # --- the receipt of that recharge is listed at once (issued on demand) and downloads as PDF
    settle(rp, "Receipts and invoices")
    receipt = rp.get_by_text(re.compile(r"RV/\d{4}/000001")).first
    sync_api.expect(receipt).to_be_visible()
    rp.screenshot(path=str(product["tmp"] / "documents-wallet.png"), full_page=True)
    with rp.expect_download(timeout=WAIT) as dl:
        rp.get_by_role("button", name="PDF", exact=True).first.click()
    assert dl.value.suggested_filename.startswith("RV-") and dl.value.suggested_filename.endswith(".pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(dl.value.path()).pages)
    assert "RECEIPT" in text and re.search(r"RV/\d{4}/000001", text), text
    assert "Amount received   Rs. 100.00" in text and "Rupees One Hundred Only" in text
    assert "Times in IST (UTC+05:30)" in text and "Authorised signatory" in text
    _rendered(rp.context, dl.value.path(), product["tmp"] / "documents-receipt-pdf")

    # --- this month's statement as CSV: the recharge, its receipt number, times with +05:30
    with rp.expect_download(timeout=WAIT) as dl:
        rp.get_by_role("button", name="Statement CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8"))))
    recharge = [r for r in rows if r["section"] == "recharge"]
    assert len(recharge) == 1 and recharge[0]["credit_rupees"] == "100.00"
    assert re.match(r"RV/\d{4}/000001", recharge[0]["reference"]) and recharge[0]["at"].endswith("+05:30")
    assert rows[-1]["section"] == "closing" and rows[-1]["balance_rupees"] == "100.00"
    rp.close()
    assert time.time() - t0 < 180, f"the documents flow took {time.time() - t0:.0f}s"


def _rendered(ctx, pdf_path, stem: Path) -> None:
    """The PDF as people see it: rendered by poppler's pdftoppm, opened in the browser, kept as a screenshot
    beside the others (`<stem>.png`, and the browser's view `<stem>-browser.png`)."""
    done = subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf_path), str(stem)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    png = stem.with_suffix(".png")
    assert png.stat().st_size > 5_000, "the page rendered blank"
    view = ctx.new_page()
    view.goto(png.as_uri())
    assert view.evaluate("document.images[0].naturalWidth") > 400
    view.screenshot(path=str(stem.with_name(stem.name + "-browser.png")), full_page=True)
    view.close()
