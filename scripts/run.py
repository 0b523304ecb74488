"""`make run`: prepare the database, then start what the product is made of, on 127.0.0.1.

- the Razorpay sandbox (only when no Razorpay keys are configured: "Sandbox — no real money"),
- the REST API (uvicorn api.main:app; Razorpay's webhooks land there),
- the worker (recovery and payment reconciliation on a schedule),
- the Streamlit dashboard.
`--only api` starts the API alone (`make api`). Ctrl-C stops everything.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services import db as dbmod, ledger, users  # noqa: E402


def _cookie_key() -> str:
    """The login cookie's signing key: env or secrets.toml, else one generated once per data folder."""
    if os.environ.get("WALLET_COOKIE_KEY"):
        return os.environ["WALLET_COOKIE_KEY"]
    path = dbmod.data_dir() / "cookie_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def prepare() -> list[tuple[str, str, str]]:
    db = dbmod.get_db()
    users.ensure_first_admin(db)
    made = users.seed_demo(db, password=os.environ.get("WALLET_DEMO_PASSWORD"))
    if made:
        creds = dbmod.data_dir() / "demo_credentials.txt"
        creds.write_text("".join(f"{u} {pw} {role}\n" for u, pw, role in made))
        creds.chmod(0o600)
    ledger.recover(db)
    return made


def _wait(url: str, proc: subprocess.Popen, seconds: float = 60) -> bool:
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return True
        except Exception:
            time.sleep(0.3)
    return False


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["api"], default=None)
    args = ap.parse_args()

    port = int(os.environ.get("PORT", "8501"))
    api_port = int(os.environ.get("API_PORT", "8800"))
    sandbox_port = int(os.environ.get("SANDBOX_PORT", "8900"))
    env = dict(os.environ)
    env.setdefault("WALLET_PUBLIC_URL", f"http://127.0.0.1:{port}")
    # The data folder first: a fresh clone has none, and the cookie key is written into it.
    dbmod.data_dir().mkdir(parents=True, exist_ok=True)
    env["WALLET_COOKIE_KEY"] = _cookie_key()
    env["PYTHONPATH"] = str(ROOT)
    made = prepare()

    py = sys.executable
    procs: list[tuple[str, subprocess.Popen, str]] = []

    def start(name: str, cmd: list[str], health: str | None):
        p = subprocess.Popen(cmd, cwd=ROOT, env=env)
        procs.append((name, p, health))
        if health and not _wait(health, p):
            print(f"!! {name} did not come up ({health})", flush=True)

    sandbox = not env.get("RAZORPAY_KEY_ID") and (ROOT / "sandbox" / "razorpay_server.py").exists()
    if sandbox:
        env["RAZORPAY_SANDBOX_URL"] = f"http://127.0.0.1:{sandbox_port}"
        env.setdefault("SANDBOX_WEBHOOK_URL", f"http://127.0.0.1:{api_port}/api/payment/webhook")
        env.setdefault("SANDBOX_STATE", str(dbmod.data_dir() / "sandbox_state.json"))
        start("razorpay-sandbox", [py, "-m", "sandbox.razorpay_server", "--host", "127.0.0.1",
                                   "--port", str(sandbox_port)], f"http://127.0.0.1:{sandbox_port}/sandbox/health")
    if (ROOT / "api" / "main.py").exists():
        start("api", [py, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(api_port),
                      "--log-level", "warning"], f"http://127.0.0.1:{api_port}/api/health")
    if args.only is None:
        start("worker", [py, str(ROOT / "scripts" / "worker.py")], None)
        start("dashboard", [py, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
                            "--server.address", "127.0.0.1", "--server.port", str(port),
                            "--browser.gatherUsageStats", "false"],
              f"http://127.0.0.1:{port}/_stcore/health")

    print("\n== AI calling wallet is running ==", flush=True)
    for name, p, health in procs:
        if health:
            print(f"  {name:17s} {health.rsplit('/', 1)[0] if name != 'api' else health.replace('/health', '')}")
    if args.only is None:
        print(f"  dashboard         http://127.0.0.1:{port}")
    if sandbox:
        print("  payments          Sandbox — no real money (no RAZORPAY_KEY_ID set)")
    if made:
        print("  demo logins (also in data/demo_credentials.txt):")
        for u, pw, role in made:
            print(f"    {u:8s} {pw}   ({role})")
    print("Ctrl-C stops everything.", flush=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, p, _ in procs:
            if p.poll() is not None:
                print(f"!! {name} exited with {p.returncode}; stopping the rest", flush=True)
                stopping, code = True, 1
                break
        time.sleep(0.5)
    for _, p, _ in procs:
        if p.poll() is None:
            p.terminate()
    for _, p, _ in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
    return code


if __name__ == "__main__":
    sys.exit(main())
