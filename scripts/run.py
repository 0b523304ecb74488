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

from services import config, db as dbmod, ledger, users  # noqa: E402


def _cookie_key(cfg: config.Config) -> str:
    """The login cookie's signing key: the configuration's, else one generated once per data folder."""
    if cfg.cookie_key:
        return cfg.cookie_key
    path = cfg.data_dir / "cookie_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def demo_credentials_file(cfg: config.Config) -> Path:
    return cfg.data_dir / "demo_credentials.txt"


def prepare(cfg: config.Config) -> list[tuple[str, str, str]]:
    db = dbmod.get_db()
    users.ensure_first_admin(db)
    made = users.seed_demo(db, password=cfg.demo_password or None)
    if made:
        creds = demo_credentials_file(cfg)
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

    cfg = config.get()
    port, api_port, sandbox_port = cfg.port, cfg.api_port, cfg.sandbox_port
    env = dict(os.environ)  # the children's environment: they read it through services.config
    env["WALLET_PUBLIC_URL"] = cfg.public_url
    # The data folder first: a fresh clone has none, and the cookie key is written into it.
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    env["WALLET_COOKIE_KEY"] = _cookie_key(cfg)
    env["PYTHONPATH"] = str(ROOT)
    made = prepare(cfg)

    py = sys.executable
    procs: list[tuple[str, subprocess.Popen, str]] = []

    def start(name: str, cmd: list[str], health: str | None):
        p = subprocess.Popen(cmd, cwd=ROOT, env=env)
        procs.append((name, p, health))
        if health and not _wait(health, p):
            print(f"!! {name} did not come up ({health})", flush=True)

    # Keys from anywhere in the configuration (environment or secrets.toml) mean a real account: no sandbox.
    # RAZORPAY_SANDBOX_URL already set: a sandbox someone else runs.
    sandbox = cfg.razorpay.mode == "off"
    if sandbox:
        env["RAZORPAY_SANDBOX_URL"] = f"http://127.0.0.1:{sandbox_port}"
        env.setdefault("SANDBOX_WEBHOOK_URL", f"http://127.0.0.1:{api_port}/api/payment/webhook")
        env.setdefault("SANDBOX_STATE", str(cfg.data_dir / "sandbox_state.json"))
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
    if args.only is None:
        print(f"  dashboard         http://127.0.0.1:{port}")
    if any(name == "api" for name, _, _ in procs):
        print(f"  api               http://127.0.0.1:{api_port}/api/health")
        print(f"  api docs          http://127.0.0.1:{api_port}/docs")
    if sandbox:
        print(f"  razorpay-sandbox  http://127.0.0.1:{sandbox_port}/sandbox/health")
        print("  payments          Sandbox — no real money (no Razorpay keys configured)")
    elif cfg.razorpay.mode == "sandbox":
        print(f"  payments          Sandbox at {cfg.razorpay.base_url} — no real money")
    else:
        print(f"  payments          Razorpay, {cfg.razorpay.mode} mode")
    if made:
        print(f"  demo logins (also in {demo_credentials_file(cfg)}):")
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
