"""`make screenshots`: every dashboard page at 1280×800 into docs/screenshots/, from a seeded temp database.

Seeds 45 days of history through the real services (the clock is moved back while seeding, so entries,
rollups and calls are what real use would have produced), starts the Razorpay sandbox and Streamlit
on free ports, signs in as each role in headless Chromium and saves one PNG per page.
Needs /usr/bin/chromium (`make browser`) and the PyPI playwright package (no browser download).
`--out DIR` writes the PNGs elsewhere (a trial run that leaves the tracked ones alone).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PW = "demo-password-1"
DAYS = 45


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(db, sandbox_url: str) -> None:
    """Users of each role and six weeks of recharges, calls and a campaign, through the services."""
    from services import rates
    from services import accounts, clock, ledger

    real_now = clock.now
    today = clock.start_of_day(clock.date_of(real_now()))  # the business day (IST), not the UTC one
    t = {"now": today - timedelta(days=DAYS, hours=1)}
    clock.now = lambda: t["now"]  # services read the time only through clock.now()
    try:
        for u, name, role in (("asha", "Asha Rao", "user"), ("vikram", "Vikram Shah", "user"),
                              ("meera", "Meera Iyer", "user"), ("admin", "Priya Admin", "admin"),
                              ("analyst", "Rahul Analyst", "analyst")):
            accounts.create_user(db, u, PW, name, f"{u}@example.com", role)
        _seed_history(db, t, today, real_now)
    finally:
        clock.now = real_now
    ledger.recover(db)  # move closed days from wallets to the rollups collection
    rates.set_call_rate(db, "9", by="admin", user_id="vikram")
    _seed_payments(db, sandbox_url)


def _seed_history(db, t: dict, today, real_now) -> None:
    """Six weeks of days: recharges when a wallet runs low, calls, a rate change and a promotion."""
    from services import calls, ledger, rates, wallet

    rnd = random.Random(7)
    for back in range(DAYS, -1, -1):
        day = today - timedelta(days=back)
        for uid, per_day, topup in (("asha", 3, 150000), ("vikram", 6, 300000), ("meera", 1, 50000)):
            t["now"] = min(day + timedelta(hours=9, minutes=rnd.randint(0, 50)),
                           real_now() - timedelta(minutes=45))
            # asha stops recharging three days ago: her wallet page shows the low-balance warning.
            if back == DAYS or (wallet.balance(db, uid).available < 20000 and (uid != "asha" or back > 3)):
                ledger.post(db, uid, key=f"seed:{uid}:{back}", type="credit", category="recharge",
                            amount=topup, source="seed", note="Recharge (seeded history)")
            for i in range(rnd.randint(0, per_day * 2)):
                t["now"] = min(day + timedelta(hours=10 + i % 10, minutes=rnd.randint(0, 59)),
                               real_now() - timedelta(minutes=30 - i))
                try:
                    calls.simulate_call(db, uid, f"+9198{rnd.randint(10000000, 99999999)}",
                                        rnd.choice(["kb_support", "kb_sales", "kb_renewals"]),
                                        duration_seconds=rnd.randint(20, 420))
                except Exception:
                    pass
        if back == 20:
            rates.set_call_rate(db, "12", by="admin")
        if back == 6:
            ledger.post(db, "meera", key="seed:promo", type="credit", category="promo_credit", amount=25000,
                        source="admin:admin", note="Festive promotion")
    # asha keeps calling this morning until what is left cannot start a call.
    for i in range(40):
        t["now"] = real_now() - timedelta(minutes=20 - i / 4)
        try:
            calls.simulate_call(db, "asha", "+919811112222", "kb_support", max_minutes=5, duration_seconds=300)
        except Exception:
            break


def _seed_payments(db, sandbox_url: str) -> None:
    """A paid recharge (credited through reconciliation), an open one, a forged callback for admins,
    and a finished campaign."""
    import httpx

    from services import campaigns, payments
    paid = payments.create_payment_link(db, "vikram", "1000")
    httpx.post(f"{sandbox_url}/sandbox/links/{paid['payment_link_id']}/pay", json={}).raise_for_status()
    payments.reconcile_link(db, paid["reference_id"])
    payments.create_payment_link(db, "asha", "500")
    done = payments.create_payment_link(db, "meera", "100")
    r = httpx.post(f"{sandbox_url}/sandbox/links/{done['payment_link_id']}/pay", json={}).json()
    payments.handle_callback(db, "meera", r["callback_params"])
    try:
        payments.handle_callback(db, "asha", dict(r["callback_params"]))
    except Exception:
        pass  # recorded as suspicious: a callback replayed by another user

    nums, _ = campaigns.parse_numbers("\n".join(f"+9197000000{i:02d}" for i in range(12)))
    c = campaigns.create_campaign(db, "vikram", nums, "kb_sales", 3)
    campaigns.run_campaign(db, "vikram", c["campaign_id"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT, help=f"where the PNGs go (default {OUT})")
    ap.add_argument("--chromium", default=CHROMIUM, help=f"the browser binary (default {CHROMIUM})")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from sandbox.razorpay_server import run_in_thread
    from services import db as dbmod, schema

    tmp = Path(tempfile.mkdtemp(prefix="wallet-shots-"))
    port = free_port()
    sandbox = run_in_thread({"duplicate_probability": 0.0})
    env = dict(os.environ, WALLET_DATA_DIR=str(tmp), MONGODB_URI="", MONGODB_DB="wallet",
               WALLET_COOKIE_KEY="screenshots-" + "x" * 40, RAZORPAY_SANDBOX_URL=sandbox.url,
               WALLET_PUBLIC_URL=f"http://127.0.0.1:{port}")
    for k in ("RAZORPAY_SANDBOX_URL", "WALLET_PUBLIC_URL", "WALLET_DATA_DIR", "MONGODB_URI"):
        os.environ[k] = env[k]
    db = dbmod.open_db(uri="", name="wallet", path=tmp / "wallet.sqlite")
    schema.ensure_schema(db)
    t0 = time.time()
    seed(db, sandbox.url)
    print(f"seeded in {time.time() - t0:.1f}s", flush=True)

    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                             "--server.headless", "true", "--server.address", "127.0.0.1",
                             "--server.port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(base + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except Exception:
                time.sleep(0.5)
        else:
            raise SystemExit("streamlit did not start")
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            shots(p, base, args.out, args.chromium)
    finally:
        proc.terminate()
        proc.wait(10)
        sandbox.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def settle(page, text: str) -> None:
    """Wait for `text`, then for the app to stop running and charts to draw."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=60000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60000)
    page.wait_for_timeout(1500)


def shots(p, base: str, out: Path, chromium: str) -> None:
    # playwright gives each launch a fresh profile
    browser = p.chromium.launch(executable_path=chromium, args=CHROME_ARGS)

    def session(username: str | None):
        ctx = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
        page = ctx.new_page()
        page.goto(base)
        settle(page, "Sign in")
        if username:
            page.get_by_label("Username", exact=True).fill(username)
            page.get_by_label("Password", exact=True).fill(PW)
            page.get_by_role("button", name="Sign in", exact=True).click()
            page.get_by_text("Sign out").first.wait_for(timeout=60000)
        return ctx, page

    def snap(page, name: str, path: str | None, wait_text: str, before=None) -> None:
        if path is not None:
            page.goto(f"{base}/{path}")
        settle(page, wait_text)
        if before:
            before(page)
        page.screenshot(path=str(out / f"{name}.png"))
        print("saved", out / f"{name}.png", flush=True)

    ctx, page = session(None)
    snap(page, "01-sign-in", None, "Create an account")
    ctx.close()

    ctx, page = session("asha")
    snap(page, "02-wallet", "wallet", "Your payments")
    snap(page, "03-transactions", "transactions", "Download CSV")
    snap(page, "04-calls", "calls", "Your rate")
    snap(page, "05-insights", "insights", "Calls and billed minutes per day")
    ctx.close()

    ctx, page = session("vikram")

    def campaigns_view(pg):
        pg.get_by_text("Campaigns", exact=True).click()
        settle(pg, "Your campaigns")
        pg.locator("textarea").first.fill("\n".join(f"+91980000{i:04d}" for i in range(250)) + "\n12345")
        pg.get_by_label("Knowledge base id").fill("kb_renewals")
        pg.get_by_label("Knowledge base id").press("Enter")
        settle(pg, "You can afford")
        pg.mouse.wheel(0, 260)
        pg.wait_for_timeout(800)

    snap(page, "06-campaigns", "calls", "Your rate", before=campaigns_view)
    ctx.close()

    ctx, page = session("admin")  # each admin page at its own deep link
    snap(page, "07-admin", "admin", "Top spenders")
    snap(page, "08-admin-rates", "admin-rates", "Change history")
    snap(page, "09-admin-payments", "admin-payments", "Failed and suspicious payments")
    ctx.close()

    ctx, page = session("analyst")
    snap(page, "10-analytics", "analyst", "Spending trends across all users")
    ctx.close()
    browser.close()


if __name__ == "__main__":
    main()
