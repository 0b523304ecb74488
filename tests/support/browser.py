"""The whole product in a real browser: `make run` on free ports and a fresh data folder (one per test
module), Debian's Chromium driven by Playwright, the waits a Streamlit page needs, and the check that a page
shows no raw status word (`no_raw_words`)."""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from services import names

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "browser-test-pw-1"
WAIT = 60_000  # ms: a Streamlit rerun on a busy CI box can take a while
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def playwright_or_skip():
    """Playwright's sync API, or the calling test module is skipped (no Chromium, no Playwright)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (make browser)", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            pytest.fail(f"make run exited with {proc.returncode} before {url} answered:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {seconds:.0f}s:\n{log.read_text()[-4000:]}")


def wait_banner(proc: subprocess.Popen, log: Path, seconds: float = 120) -> float:
    """The moment (time.monotonic) `make run` printed its URLs: what a person waits for before visiting."""
    end = time.time() + seconds
    while "Ctrl-C stops everything" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.time() > end:
            pytest.fail(f"make run printed no banner:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)
    return time.monotonic()


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    """`make -s run` on free ports and a fresh data folder; the whole process group dies at teardown."""
    playwright_or_skip()
    with run_product(tmp_path_factory.mktemp("browser")) as p:
        yield p


@contextlib.contextmanager
def run_product(tmp: Path, **extra_env: str):
    """`make -s run` in `tmp` (its data folder, the log) with `extra_env`; yields the product's addresses
    (`base`, `api`, `sandbox`, `data`: the database file, `printed_at`: when the banner came) until the
    whole process group is stopped."""
    port, api_port, sandbox_port = free_port(), free_port(), free_port()
    env = dict(os.environ, PORT=str(port), API_PORT=str(api_port), SANDBOX_PORT=str(sandbox_port),
               WALLET_DATA_DIR=str(tmp / "data"), WALLET_DEMO_PASSWORD=PASSWORD,
               WALLET_COOKIE_KEY=secrets.token_urlsafe(36)[:48], WORKER_INTERVAL_SECONDS="2",
               # One API process: a browser drives one request at a time, and each more worker is another
               # interpreter importing the app at every module's start (tests/test_run_side_by_side.py runs two).
               API_WORKERS="1", MONGODB_URI="", PYTHONUNBUFFERED="1", **extra_env)
    for k in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_SANDBOX_URL", "WALLET_PUBLIC_URL",
              "SANDBOX_WEBHOOK_URL", "SANDBOX_STATE"):
        env.pop(k, None)
    log = tmp / "make-run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", proc, log)
        wait_http(f"http://127.0.0.1:{api_port}/api/health", proc, log)
        printed_at = wait_banner(proc, log)
        yield {"base": f"http://127.0.0.1:{port}", "api": f"http://127.0.0.1:{api_port}", "tmp": tmp, "log": log,
               "printed_at": printed_at, "sandbox": f"http://127.0.0.1:{sandbox_port}",
               "data": tmp / "data" / "wallet.sqlite"}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:  # whatever outlived the polite stop (or ignored it)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


@pytest.fixture
def browser(product):
    """Chromium with a fresh profile in tmp (a persistent context: Playwright wants the profile dir
    passed this way rather than as --user-data-dir)."""
    sync_api = playwright_or_skip()
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(product["tmp"] / "chromium-profile"), executable_path=CHROMIUM, args=CHROME_ARGS,
            viewport={"width": 1280, "height": 800}, device_scale_factor=1, accept_downloads=True)
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture(scope="module")
def chromium(product):
    """Chromium for a module's tests; each test opens its own contexts (a fresh profile each)."""
    sync_api = playwright_or_skip()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        try:
            yield b
        finally:
            b.close()


def settle(page, text: str, timeout: int = WAIT) -> None:
    """Wait for `text` on the page, then for Streamlit to finish the run that drew it."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout)


def submit(page, button, text: str, *, first_wait: int = 20_000) -> None:
    """Click a form's submit `button` and settle on `text`. A click the page lost (the button redrawn or
    moved under the mouse between press and release: streamlit/streamlit#8725) leaves the app idle with
    nothing new; only then is it clicked once more. A click that was received shows the app running, and
    is waited for, never repeated."""
    button.click()
    try:
        settle(page, text, timeout=first_wait)
        return
    except Exception:  # playwright's TimeoutError: is the app still at work, or was the click lost?
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT)
        if page.get_by_text(text, exact=False).count():
            return
    print(f"the click for {text!r} was lost: clicking again")
    button.click()
    settle(page, text)


def sign_in(page, base: str, username: str) -> None:
    page.goto(base)
    settle(page, "Sign in")
    page.get_by_label("Username", exact=True).fill(username)  # not "Choose a username"
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text("Sign out").first.wait_for(timeout=WAIT)
    # The login cookie is written by the cookie component on a later rerun: a full page load (goto,
    # or Razorpay's redirect) before it exists lands on the sign-in form again. Wait for the cookie.
    deadline = time.time() + WAIT / 1000
    while not any(c["name"] == "wallet_session" for c in page.context.cookies()):
        assert time.time() < deadline, "the sign-in cookie was never written"
        page.wait_for_timeout(100)


# ---------------------------------------------------------------------------------- the journeys' tools
# A laptop's and a phone's screen; pages of one shared Chromium at either size, with the phone's ways
# (the sidebar closed until opened) (tests/test_browser_ux.py, tests/test_browser_team.py).
def new_page(chromium, viewport: dict):
    sync_api = playwright_or_skip()
    ctx = chromium.new_context(viewport=viewport, device_scale_factor=1, accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(WAIT)
    sync_api.expect.set_options(timeout=WAIT)
    return page


def failing(product, pages, name: str):
    for i, pg in enumerate(pages):  # what the browser showed when it failed
        try:
            pg.screenshot(path=str(product["tmp"] / f"{name}-failure-{i}.png"))
        except Exception:
            pass
    print(f"screenshots and the make run log: {product['tmp']}")


def sign_in_at(page, base: str, username: str, phone: bool) -> None:
    """sign_in, except that on a phone "Sign out" hides in the closed sidebar: wait for the session
    cookie and the page instead."""
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


def sidebar(page, want_open: bool) -> None:
    """Open or close the sidebar as a person does on a phone (Streamlit may remember it open)."""
    sync_api = playwright_or_skip()
    bar = page.get_by_test_id("stSidebar")
    bar.wait_for(state="attached")
    if (bar.get_attribute("data-collapsed") == "false") != want_open:
        (page.get_by_test_id("stExpandSidebarButton") if want_open else
         page.get_by_test_id("stSidebarCollapseButton").get_by_role("button")).click()
    sync_api.expect(bar).to_have_attribute("data-collapsed", "false" if want_open else "true")


def sign_out(page, phone: bool = False) -> None:
    if phone:
        sidebar(page, True)
    page.get_by_role("button", name="Sign out").click()
    settle(page, "Create an account")


# Words as the code stores them (services/names.py's keys), never what a person should read as a status.
_KEYS = set().union(*(m.keys() for m in (
    names.PAYMENT_STATUS, names.PAYMENT_EVENT, names.REFUND_STATUS, names.REFUND_OUTCOME, names.REFUND_REQUEST,
    names.RECONCILIATION, names.MANDATE_STATE, names.CHARGE_STATE, names.MANDATE_METHOD, names.ALERT_KIND,
    names.DELIVERY, names.CAMPAIGN_STATUS, names.CALL_STATUS, names.OUTCOME, names.CATEGORY)))
RAW_CELLS = _KEYS | {"None", "none", "nan", "NaN", "NaT", "null", "True", "False"}
RAW_ANYWHERE = re.compile(r"\b(?:" + "|".join(sorted((re.escape(k) for k in _KEYS if "_" in k or "-" in k), key=len,
                                                  reverse=True)) + r"|as_presented)\b|\bNone\b(?! [a-z])|"
                          r"e-mandate mandate|\b1 minutes\b|No-answer")


def no_raw_words(page) -> None:
    """What the page shows holds no raw status word and no "None": no text block or table cell that is a
    stored key (`done`, `pending`, `threshold`...), and no snake_case key or "None" inside a sentence.
    Table cells are read from the grid's accessible cells (the grid draws on a canvas)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT)
    shown = page.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]');
        const pick = (sel, how) => [...main.querySelectorAll(sel)].map(how).map(t => t.trim()).filter(Boolean);
        return {cells: pick('[role="gridcell"], [role="columnheader"]', e => e.textContent),
                blocks: pick('[data-testid="stMarkdownContainer"], [data-testid="stMetricValue"], '
                             + '[data-testid="stMetricLabel"], [data-testid="stCaptionContainer"], label, button, '
                             + '[data-testid="stAlert"], h1, h2, h3', e => e.innerText)}; }""")
    bad = [c for c in shown["cells"] if c in RAW_CELLS or RAW_ANYWHERE.search(c)]
    bad += [b for b in shown["blocks"] if b in RAW_CELLS or RAW_ANYWHERE.search(b)]
    assert not bad, f"raw words on {page.url}: {bad}"
