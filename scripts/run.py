"""`make run`: prepare the database, then start what the product is made of, on 127.0.0.1.

- the Razorpay sandbox (only when no Razorpay keys are configured: "Sandbox — no real money"),
- the REST API (api.serve: uvicorn processes on api.main:app; Razorpay's webhooks land there),
- the worker (recovery, payment reconciliation and low-balance alerts on a schedule),
- the local SMTP sink (only when no SMTP server is configured: alert e-mails land there),
- the Streamlit dashboard, its script run once (scripts/warm.py) before its URL is printed.
`--only api` starts the API alone (`make api`). Ctrl-C stops everything.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import warm  # noqa: E402
from services import accounts, config, documents, files, ledger, schema, usage  # noqa: E402


def _cookie_key(cfg: config.Config) -> str:
    """The login cookie's signing key: the configuration's, else one generated once per data folder."""
    if cfg.cookie_key:
        return cfg.cookie_key
    path = cfg.data_dir / "cookie_key"
    if not path.exists():
        files.write_private(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def demo_credentials_file(cfg: config.Config) -> Path:
    return cfg.data_dir / "demo_credentials.txt"


def prepare(cfg: config.Config) -> list[tuple[str, str, str]]:
    db = schema.get_db()
    accounts.ensure_first_admin(db)
    made = accounts.seed_demo(db, password=cfg.demo_password or None)
    if made:
        creds = demo_credentials_file(cfg)
        files.write_private(creds, "".join(f"{u} {pw} {role}\n" for u, pw, role in made))
        usage.catalogue.seed_demo(db)  # SMS and a rented number beside calls
    ledger.recover(db)
    # Rollups counted by business day (IST): recounted from the ledger once per zone, a no-op afterwards.
    ledger.rebuild_rollups(db)
    documents.recover_numbering(db)  # document numbers a crash left half-issued
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


class Supervisor:
    """The product's processes: started side by side, each waited for until it answers, watched, stopped
    together."""

    def __init__(self, env: dict):
        self.env = env
        self.procs: list[tuple[str, subprocess.Popen, str | None]] = []

    def start(self, name: str, cmd: list[str], health: str | None, **popen) -> subprocess.Popen:
        """Start a process; its health URL is waited for by `wait_up`, so several start side by side."""
        p = subprocess.Popen(cmd, cwd=ROOT, env=self.env, **popen)
        self.procs.append((name, p, health))
        return p

    def wait_up(self) -> None:
        """Wait for every process started so far to answer its health URL (they import in parallel: on
        two cores the sandbox, the API and the dashboard came up in 8.5 s one after another)."""
        for name, p, health in self.procs:
            if health and not _wait(health, p):
                print(f"!! {name} did not come up ({health})", flush=True)

    def running(self, name: str) -> bool:
        return any(n == name for n, _, _ in self.procs)

    def watch(self) -> int:
        """Until Ctrl-C / SIGTERM (0), or until one process dies (1); then stop every process."""
        stopping = []
        signal.signal(signal.SIGINT, lambda *_: stopping.append(0))
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(0))
        while not stopping:
            dead = next(((n, p) for n, p, _ in self.procs if p.poll() is not None), None)
            if dead:
                print(f"!! {dead[0]} exited with {dead[1].returncode}; stopping the rest", flush=True)
                stopping.append(1)
            time.sleep(0.5)
        self.stop()
        return stopping[0]

    def stop(self) -> None:
        for _, p, _ in self.procs:
            if p.poll() is None:
                p.terminate()
        for _, p, _ in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def start_all(sup: Supervisor, cfg: config.Config, only_api: bool) -> bool:
    """Start the product's processes; True when the offline Razorpay sandbox is one of them."""
    py, env = sys.executable, sup.env
    # Keys anywhere in the configuration (environment or secrets.toml) mean a real account: no sandbox.
    # RAZORPAY_SANDBOX_URL already set means a sandbox someone else runs.
    sandbox = cfg.razorpay.mode == "off"
    if sandbox:
        env["RAZORPAY_SANDBOX_URL"] = f"http://127.0.0.1:{cfg.sandbox_port}"
        env.setdefault("SANDBOX_WEBHOOK_URL", f"http://127.0.0.1:{cfg.api_port}/api/payment/webhook")
        env.setdefault("SANDBOX_STATE", str(cfg.data_dir / "sandbox_state.json"))
        sup.start("razorpay-sandbox", [py, "-m", "sandbox.razorpay_server", "--host", "127.0.0.1",
                                       "--port", str(cfg.sandbox_port)],
                  f"http://127.0.0.1:{cfg.sandbox_port}/sandbox/health")
    if not only_api:
        start_smtp_sink(sup, cfg)  # before the API and the dashboard: they learn from it where it is
    sup.start("api", [py, "-m", "api.serve", "--host", "127.0.0.1", "--port", str(cfg.api_port),
                      "--workers", str(cfg.api_workers),  # API_WORKERS: one process per core by default
                      "--log-level", "warning"], f"http://127.0.0.1:{cfg.api_port}/api/health")
    if not only_api:
        sup.start("dashboard", [py, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
                                "--server.address", "127.0.0.1", "--server.port", str(cfg.port),
                                "--browser.gatherUsageStats", "false"],
                  f"http://127.0.0.1:{cfg.port}/_stcore/health")
    sup.wait_up()
    if not only_api:
        # After the sandbox answers: the worker's first tick reconciles with it.
        sup.start("worker", [py, str(ROOT / "scripts" / "worker.py")], None)
        # Before its URL is printed: the first visitor must not pay for the app's imports (8.7 s).
        problem = warm.run_once(f"http://127.0.0.1:{cfg.port}")
        if problem:
            print(f"!! the dashboard's first run did not finish ({problem})", flush=True)
    return sandbox


def start_smtp_sink(sup: Supervisor, cfg: config.Config) -> None:
    """No SMTP server configured: alert e-mails go to a local sink the admin page shows. It takes free
    ports (SMTP_SINK_PORT: that one and the next, if free) and says which through a pipe, so copies
    side by side on one machine never collide."""
    if cfg.smtp.host:
        return
    wanted = cfg.smtp.sink_port if cfg.smtp.sink_port and _free(cfg.smtp.sink_port) and \
        _free(cfg.smtp.sink_port + 1) else 0
    read, write = os.pipe()
    p = sup.start("smtp-sink", [sys.executable, "-m", "sandbox.smtp_sink", "--smtp-port", str(wanted),
                                "--http-port", str(wanted + 1 if wanted else 0), "--ports-fd", str(write),
                                "--dir", str(cfg.data_dir / "smtp_sink")], None, pass_fds=(write,))
    os.close(write)
    with os.fdopen(read) as f:
        line = f.readline()  # "" if the sink died before listening
    if not line:
        print(f"!! smtp-sink did not come up (exit {p.wait()})", flush=True)
        return
    ports = json.loads(line)
    url = f"http://127.0.0.1:{ports['http']}"
    # Local development: the children send there, and a customer webhook may point at this machine.
    sup.env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(ports["smtp"]), SMTP_TLS="none", SMTP_USER="",
                   SMTP_PASSWORD="", SMTP_SINK_URL=url)
    sup.env.setdefault("WALLET_WEBHOOK_PRIVATE_OK", "1")
    if not _wait(f"{url}/health", p):
        print(f"!! smtp-sink did not come up ({url}/health)", flush=True)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def banner(sup: Supervisor, cfg: config.Config, sandbox: bool, made: list) -> None:
    """Every URL printed here answers (the newcomer test checks each one)."""
    print("\n== AI calling wallet is running ==", flush=True)
    if sup.running("dashboard"):
        print(f"  dashboard         http://127.0.0.1:{cfg.port}")
    print(f"  api               http://127.0.0.1:{cfg.api_port}/api/health")
    print(f"  api docs          http://127.0.0.1:{cfg.api_port}/docs")
    if sandbox:
        print(f"  razorpay-sandbox  http://127.0.0.1:{cfg.sandbox_port}/sandbox/health")
        print("  payments          Sandbox — no real money (no Razorpay keys configured)")
    elif cfg.razorpay.mode == "sandbox":
        print(f"  payments          Sandbox at {cfg.razorpay.base_url} — no real money")
    else:
        print(f"  payments          Razorpay, {cfg.razorpay.mode} mode")
    if sup.running("smtp-sink") and "SMTP_SINK_URL" in sup.env:
        print(f"  smtp-sink         {sup.env['SMTP_SINK_URL']}/  (alert e-mails land here: no SMTP server set; "
              f"SMTP on 127.0.0.1:{sup.env['SMTP_PORT']})")
    if made:
        print(f"  demo logins (also in {demo_credentials_file(cfg)}):")
        for u, pw, role in made:
            print(f"    {u:8s} {pw}   ({role})")
    print("Ctrl-C stops everything.", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["api"], default=None)
    args = ap.parse_args()

    cfg = config.get()
    bad = config.problems(cfg)
    if bad:  # refused before anything starts: nothing half-running on a configuration that must not run
        for problem in bad:
            print(f"!! configuration: {problem}", file=sys.stderr, flush=True)
        return 2
    # The data folder first: a fresh clone has none, and the cookie key is written into it.
    files.private_dir(cfg.data_dir)
    # The children's environment: they read it through services.config like this process.
    env = dict(os.environ, WALLET_PUBLIC_URL=cfg.public_url, WALLET_COOKIE_KEY=_cookie_key(cfg),
               PYTHONPATH=str(ROOT))
    made = prepare(cfg)
    sup = Supervisor(env)
    sandbox = start_all(sup, cfg, args.only == "api")
    banner(sup, cfg, sandbox, made)
    return sup.watch()


if __name__ == "__main__":
    sys.exit(main())
