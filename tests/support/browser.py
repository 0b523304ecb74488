"""The whole product in a real browser: `make run` on free ports and a fresh data folder (one per test
module), Debian's Chromium driven by Playwright, and the waits a Streamlit page needs."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "browser-test-pw-1"
WAIT = 60_000  # ms: a Streamlit rerun on a busy CI box can take a while


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


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    """`make -s run` on free ports and a fresh data folder; the whole process group dies at teardown."""
    playwright_or_skip()
    tmp = tmp_path_factory.mktemp("browser")
    port, api_port, sandbox_port = free_port(), free_port(), free_port()
    env = dict(os.environ, PORT=str(port), API_PORT=str(api_port), SANDBOX_PORT=str(sandbox_port),
               WALLET_DATA_DIR=str(tmp / "data"), WALLET_DEMO_PASSWORD=PASSWORD,
               WALLET_COOKIE_KEY=secrets.token_urlsafe(36)[:48], WORKER_INTERVAL_SECONDS="2",
               MONGODB_URI="", PYTHONUNBUFFERED="1")
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
        yield {"base": f"http://127.0.0.1:{port}", "api": f"http://127.0.0.1:{api_port}", "tmp": tmp, "log": log}
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


def settle(page, text: str, timeout: int = WAIT) -> None:
    """Wait for `text` on the page, then for Streamlit to finish the run that drew it."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout)


def sign_in(page, base: str, username: str) -> None:
    page.goto(base)
    settle(page, "Sign in")
    page.get_by_label("Username", exact=True).fill(username)  # not "Choose a username"
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Sign out").first.wait_for(timeout=WAIT)
    # The login cookie is written by the cookie component on a later rerun: a full page load (goto,
    # or Razorpay's redirect) before it exists lands on the sign-in form again. Wait for the cookie.
    deadline = time.time() + WAIT / 1000
    while not any(c["name"] == "wallet_session" for c in page.context.cookies()):
        assert time.time() < deadline, "the sign-in cookie was never written"
        page.wait_for_timeout(100)
