"""Load on the REST API over real HTTP: uvicorn (API_WORKERS processes, default one per core) in a subprocess
on the embedded engine in a temp dir, against what the same engine bills in process.

50 client threads (one httpx.Client each) x 40 billed calls (start + end), spread over 10 pre-credited
wallets (some wallets run dry near the end: 402 is an expected answer, nothing else is). Meanwhile one
thread pays payment links in the Razorpay sandbox and re-posts every webhook event three more times on top
of the sandbox's own (at-least-once, duplicated) deliveries, timing each answer.

Afterwards, on the same database file: `ledger.audit` must be clean, every wallet's balance must equal its
credits minus the costs the API reported for its calls, and the webhook user must hold exactly one credit
per paid link. First, on a database file of its own in the same temp dir, one thread bills calls in process:
the ledger's complete billed call (hold + settle: entry and rollup included, bench/ledger.py's "billed call")
is the yardstick, and services.calls start + end (what the API does per call, without HTTP) is printed beside.
Then, on the same server, 400 calls arrive at half the billed calls/s just measured (an open loop: Poisson
arrivals, each start timed from its arrival, on 10 wallets of their own): the latency the voice platform
sees at a normal busy hour, not at saturation. The write transactions of one billed call (start, one usage
report that grows its hold, end) are counted by the engine in process (services.engine.write_transactions).
Prints requests/s, billed calls/s, p50/p99 latency of call start; the last line is
`api_rps=X p99_ms=Y errors=Z api_vs_inprocess=R p99_vs_p50=Q writes_per_call=W p99_start_ms_at_half_load=H`
(p99 and p50 of call start at full load; R = the API's billed calls/s over the in-process hold + settle per
second). Targets: R >= 0.5, Q <= 5, errors=0, W <= 4, H <= 100 (issue 30).

Before that, usage events billed per second through POST /api/usage/batch (`usage_run`: one client, the voice
platform's stream, x 10 batches of 1,000 SMS; `usage_events_per_s=X`, target >= 1,000). `--usage-clients 2`
runs two customers' streams at once, each on its own wallet: the engine has one writer, but much of a
batch is checking and encoding its documents, which two API workers do side by side when the kernel gives
the two connections to different workers (it hashes their ports: about half the runs).

    .venv/bin/python bench/api.py [--clients 50] [--calls 40] [--wallets 10] [--workers N] [--usage-batches 10]
                                  [--usage-clients 1] [--usage-only] [--open-calls 400]
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import queue
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services import calls as callsvc, config, db as dbmod, engine, ledger, schema  # noqa: E402

PASSWORD = "bench-password-1"
CREDIT_RUPEES = 1000
LINK_RUPEES = 100
WEBHOOK_LIMIT_S = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


class Server:
    """The API as `make api` runs it (`python -m api.serve`: uvicorn, a socket per process), on a temp data
    dir and a free port."""

    def __init__(self, data_dir: str, sandbox_url: str | None, workers: int = 1):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAZORPAY_", "MONGODB_"))}
        env.update(WALLET_DATA_DIR=data_dir, API_PORT=str(self.port), WALLET_ADMIN_USER="benchadmin",
                   WALLET_ADMIN_PASSWORD=PASSWORD, WALLET_SECRETS_FILE=os.devnull, PYTHONUNBUFFERED="1")
        if sandbox_url:
            env["RAZORPAY_SANDBOX_URL"] = sandbox_url
        self.log = open(Path(data_dir) / "uvicorn.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
            cwd=str(ROOT), env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180  # workers import the app one after another on a loaded machine
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited: see {self.log.name}")
            try:
                if httpx.get(self.url + "/api/health", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("uvicorn did not answer within 180 s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def _client(url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=60, trust_env=False)


def _setup(url: str, wallets: int, webhook_user: bool, prefix: str = "wallet") -> tuple[list[tuple[str, str]], str,
                                                                                      tuple | None]:
    with _client(url) as c:
        admin = c.post("/api/auth/login", json={"username": "benchadmin", "password": PASSWORD})
        admin.raise_for_status()
        ah = {"Authorization": f"Bearer {admin.json()['token']}"}
        out = []
        names = [f"{prefix}{i:02d}" for i in range(wallets)] + (["hookuser"] if webhook_user else [])
        for name in names:
            r = c.post("/api/auth/signup", json={"username": name, "password": PASSWORD, "name": name.title(),
                                                  "email": f"{name}@example.com"})
            r.raise_for_status()
            out.append((name, r.json()["token"]))
            if name != "hookuser":
                c.post("/api/admin/credit", headers=dict(ah, **{"Idempotency-Key": f"seed-{name}"}),
                       json={"user_id": name, "amount": CREDIT_RUPEES, "category": "promo_credit",
                             "reason": "bench seed"}).raise_for_status()
    hook = out.pop() if webhook_user else None
    return out, admin.json()["token"], hook


def in_process(tmp: str, n: int = 200) -> tuple[float, float, dict]:
    """Billed calls/s of one thread on the same engine, no HTTP: (services.calls start + end, the ledger's
    hold + settle, the write transactions counted per call)."""
    db = dbmod.open_db(uri="", name="inprocess", path=str(Path(tmp) / "inprocess.sqlite"))
    schema.ensure_schema(db)
    ledger.post(db, "inproc", key="seed", type=ledger.CREDIT, category="promo_credit", amount=10**9)
    rng = random.Random(1)
    for _ in range(5):  # warm: imports, caches, the first pages of the file
        cid = callsvc.start_call(db, "inproc", "+919876543210", "kb_bench", 1)["call_id"]
        callsvc.end_call(db, "inproc", cid, 30)
    writes = count_writes(db, "inproc")
    t0 = time.perf_counter()
    for _ in range(n):
        cid = callsvc.start_call(db, "inproc", f"+9198{rng.randrange(10**8):08d}", "kb_bench", 1)["call_id"]
        callsvc.end_call(db, "inproc", cid, rng.randint(1, 75))
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    for i in range(n):  # the ledger's share alone (bench/ledger.py's "billed call"): hold + settle
        held = ledger.hold(db, "inproc", f"raw{i}", 10_000, min_amount=1_000)
        ledger.settle(db, "inproc", f"raw{i}", min(held, 3_000), key=f"call:raw{i}")
    ledger_rate = n / (time.perf_counter() - t1)
    dbmod.client_of(db).close()
    return n / elapsed, ledger_rate, writes


def count_writes(db, user: str, calls: int = 5) -> dict:
    """Write transactions (each holds the database's one write lock) of a billed call through services.calls:
    start, one usage report that grows its hold by a slice, end; and of the ledger's bare hold + settle.
    Counted by the engine over `calls` calls each, not assumed; the figures are the means."""
    def tally(step) -> float:
        w0 = engine.write_transactions()
        for i in range(calls):
            step(i)
        return (engine.write_transactions() - w0) / calls

    def call(i):
        cid = callsvc.start_call(db, user, "+919876543210", "kb_bench", 15)["call_id"]
        grant = callsvc.update_call(db, user, cid, 290)  # 10 s left of the first 5-minute slice: the next one
        assert grant["authorized_seconds"] > 300, grant
        callsvc.end_call(db, user, cid, 400)

    def bare(i):
        ledger.hold(db, user, f"count{i}", 10_000, min_amount=1_000)
        ledger.settle(db, user, f"count{i}", 3_000, key=f"call:count{i}")
    return {"call": tally(call), "ledger": tally(bare)}


def _caller(url, token, n_calls, seed, stats, lock):
    rng = random.Random(seed)
    lat, start_lat, errors, refused, costs, calls_done = [], [], [], 0, 0, 0
    with _client(url, token) as c:
        for _ in range(n_calls):
            body = {"to_number": f"+9198{rng.randrange(10**8):08d}", "kb_id": "kb_bench", "max_minutes": 1}
            t0 = time.perf_counter()
            try:
                r = c.post("/api/call", json=body)
            except httpx.HTTPError as exc:
                errors.append(f"start: {type(exc).__name__}: {exc}")
                continue
            lat.append(time.perf_counter() - t0)
            start_lat.append(lat[-1])
            if r.status_code == 402:
                refused += 1
                continue
            if r.status_code != 200:
                errors.append(f"start {r.status_code}: {r.text[:200]}")
                continue
            cid = r.json()["call_id"]
            t0 = time.perf_counter()
            try:
                e = c.post(f"/api/call/{cid}/end", json={"duration_seconds": rng.randint(1, 75)})
            except httpx.HTTPError as exc:
                errors.append(f"end: {type(exc).__name__}: {exc}")
                continue
            lat.append(time.perf_counter() - t0)
            if e.status_code != 200:
                errors.append(f"end {e.status_code}: {e.text[:200]}")
                continue
            costs += e.json()["cost_paise"]
            calls_done += 1
    with lock:
        stats["lat"] += lat
        stats["start_lat"] += start_lat
        stats["errors"] += errors
        stats["refused"] += refused
        stats["calls"] += calls_done
        stats["costs"][token] = stats["costs"].get(token, 0) + costs


def _open_loop(url: str, accounts: list[tuple[str, str]], rate: float, n: int, seed: int, stats: dict,
               lock: threading.Lock, threads: int = 50) -> None:
    """`n` billed calls (start, end) arriving at `rate` per second (Poisson arrivals, as a voice platform's
    calls come), whatever pace the answers keep: a start's latency counts from its arrival, so a server
    that falls behind shows as waiting, not as fewer requests (no coordinated omission). `threads` callers
    take the arrivals in order; the wallets take turns."""
    rng = random.Random(seed)
    arrivals, t = queue.Queue(), 0.0
    for i in range(n):
        t += rng.expovariate(rate)
        arrivals.put((i, t))
    t0 = time.perf_counter() + 0.5

    def caller():
        lat, errors, costs = [], [], {}
        with _client(url) as c:
            while True:
                try:
                    i, at = arrivals.get_nowait()
                except queue.Empty:
                    break
                name, token = accounts[i % len(accounts)]
                h = {"Authorization": f"Bearer {token}"}
                time.sleep(max(0.0, t0 + at - time.perf_counter()))
                body = {"to_number": f"+9198{rng.randrange(10**8):08d}", "kb_id": "kb_bench", "max_minutes": 1}
                try:
                    r = c.post("/api/call", json=body, headers=h)
                    lat.append(time.perf_counter() - (t0 + at))
                    r.raise_for_status()
                    e = c.post(f"/api/call/{r.json()['call_id']}/end", headers=h,
                               json={"duration_seconds": 1 + i % 75})
                    e.raise_for_status()
                except httpx.HTTPError as exc:
                    errors.append(f"open loop: {type(exc).__name__}: {exc}"[:200])
                    continue
                costs[token] = costs.get(token, 0) + e.json()["cost_paise"]
        with lock:
            stats["open_lat"] += lat
            stats["errors"] += errors
            for token, paise in costs.items():
                stats["costs"][token] = stats["costs"].get(token, 0) + paise

    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def _webhooks(url, sandbox, hook_token, stop, n_links, result):
    """Pay links in the sandbox; re-post each event body 3 more times ourselves, timing every answer."""
    from sandbox.razorpay_server import DEFAULT_WEBHOOK_SECRET
    lat, bad, paid, posted = [], [], 0, set()
    hook = url + "/api/payment/webhook"
    sb = sandbox.sandbox
    with _client(url, hook_token) as c, httpx.Client(timeout=30, trust_env=False) as raw:
        while paid < n_links:
            link = c.post("/api/payment/payment-link", json={"amount": LINK_RUPEES})
            if link.status_code != 200:
                bad.append(f"link {link.status_code}: {link.text[:200]}")
                break
            r = raw.post(f"{sandbox.url}/sandbox/links/{link.json()['payment_link_id']}/pay", json={})
            if r.status_code != 200:
                bad.append(f"pay {r.status_code}: {r.text[:200]}")
                break
            paid += 1
            sb.webhooks.wait_idle(30)
            for d in sb.webhooks.snapshot():
                if d["event_id"] in posted:
                    continue
                posted.add(d["event_id"])
                body = d["body"].encode()
                sig = hmac.new(DEFAULT_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
                for _ in range(3):
                    t0 = time.perf_counter()
                    w = raw.post(hook, content=body, headers={"Content-Type": "application/json",
                                                              "X-Razorpay-Signature": sig,
                                                              "X-Razorpay-Event-Id": d["event_id"]})
                    lat.append(time.perf_counter() - t0)
                    if w.status_code != 200:
                        bad.append(f"webhook {w.status_code}: {w.text[:200]}")
            if stop.wait(0.05) and paid >= 1:
                break
    sb.webhooks.wait_idle(30)
    deliveries = sb.webhooks.snapshot()
    bad += [f"sandbox delivery {d['event_id']} -> {d['http_status']} {d['error']}" for d in deliveries
            if d["http_status"] != 200]
    result.update(lat=lat, bad=bad, paid=paid, events=len(posted),
                  posts=len(lat) + len(deliveries))


def _load(tmp: str, clients: int, calls: int, wallets: int, webhook_links: int, workers: int, open_calls: int):
    """The server, the callers and the webhook thread at full load, then `open_calls` calls arriving at half the
    billed calls/s measured, on wallets of their own; returns (accounts, hook, stats, hook_result, elapsed)."""
    from sandbox.razorpay_server import run_in_thread
    sandbox = run_in_thread({"seed": 5}) if webhook_links else None
    server = Server(tmp, sandbox.url if sandbox else None, workers)
    try:
        if sandbox:
            httpx.post(sandbox.url + "/sandbox/config", json={"webhook_url": server.url + "/api/payment/webhook"},
                       trust_env=False).raise_for_status()
        accounts, _admin, hook = _setup(server.url, wallets, bool(webhook_links))
        stats = {"lat": [], "start_lat": [], "open_lat": [], "errors": [], "refused": 0, "calls": 0, "costs": {},
                 "half_rate": 0.0}
        lock, stop, hook_result = threading.Lock(), threading.Event(), {}
        threads = [threading.Thread(target=_caller, args=(server.url, accounts[i % len(accounts)][1], calls, i,
                                                          stats, lock)) for i in range(clients)]
        if hook:
            threads.append(threading.Thread(target=_webhooks, args=(server.url, sandbox, hook[1], stop,
                                                                    webhook_links, hook_result)))
        t0 = time.perf_counter()
        for t in reversed(threads):  # the webhook thread first
            t.start()
        for t in threads[:clients]:
            t.join()
        elapsed = time.perf_counter() - t0
        stop.set()
        for t in threads[clients:]:
            t.join()
        if open_calls and stats["calls"]:
            quiet, _, _ = _setup(server.url, wallets, False, prefix="steady")
            stats["half_rate"] = stats["calls"] / elapsed / 2
            _open_loop(server.url, quiet, stats["half_rate"], open_calls, 7, stats, lock, threads=clients)
            accounts = accounts + quiet
    finally:
        server.stop()
        if sandbox:
            sandbox.stop()
    return accounts, hook, stats, hook_result, elapsed


def _check(tmp: str, accounts, stats) -> tuple[object, list, list]:
    """On the same database file, after the server is gone: the audit and every wallet's balance."""
    db = dbmod.open_db(uri="", name=os.environ.get("MONGODB_DB", "wallet"), path=str(Path(tmp) / "wallet.sqlite"))
    bad_wallets = ledger.audit(db)
    mismatched = []
    for name, token in accounts:
        want = CREDIT_RUPEES * 100 - stats["costs"].get(token, 0)
        w = ledger.get_wallet(db, name)
        if w.balance != want or w.held != 0:
            mismatched.append(f"{name}: balance {w.balance} held {w.held}, expected {want} held 0")
    return db, bad_wallets, mismatched


def _webhook_report(db, hook, hook_result, out) -> tuple[int, dict]:
    """The webhook lines of the report: (errors, figures)."""
    hook_balance = ledger.get_wallet(db, hook[0]).balance
    hook_expected = hook_result.get("paid", 0) * LINK_RUPEES * 100
    wl = hook_result.get("lat", [])
    wmax = max(wl, default=0.0)
    credited_once = hook_balance == hook_expected
    slow = sum(1 for x in wl if x >= WEBHOOK_LIMIT_S)
    errors = len(hook_result.get("bad", [])) + (0 if credited_once else 1) + slow
    out(f"  webhooks under load: {hook_result.get('paid', 0)} links paid, {hook_result.get('events', 0)} events, "
        f"{hook_result.get('posts', 0)} deliveries (sandbox + 3 re-posts each); answer p50 "
        f"{_pct(wl, 50) * 1000:.1f} ms, max {wmax * 1000:.1f} ms (limit {WEBHOOK_LIMIT_S:.0f} s: "
        f"{'ok' if slow == 0 else f'{slow} too slow'}); credited once: "
        f"{'yes' if credited_once else 'NO'} (Rs. {hook_balance / 100:.2f} for Rs. {hook_expected / 100:.2f} paid)")
    for e in hook_result.get("bad", [])[:5]:
        out(f"    webhook error: {e}")
    return errors, {"webhook_max_ms": wmax * 1000, "webhook_credited_once": credited_once,
                    "webhook_errors": hook_result.get("bad", []), "webhook_paid": hook_result.get("paid", 0)}


def run(clients: int = 50, calls: int = 40, wallets: int = 10, *, webhook_links: int = 10,
        workers: int | None = None, inprocess_calls: int = 200, open_calls: int = 400, out=print) -> dict:
    """Run the load; returns the numbers the report prints (tests call this with small sizes)."""
    workers = workers or config.get().api_workers
    tmp = tempfile.mkdtemp(prefix="bench-api-")
    inproc, ledger_rate, writes = in_process(tmp, inprocess_calls)
    accounts, hook, stats, hook_result, elapsed = _load(tmp, clients, calls, wallets, webhook_links, workers,
                                                        open_calls)
    db, bad_wallets, mismatched = _check(tmp, accounts, stats)

    lat, s_lat = stats["lat"], stats["start_lat"]
    n = len(lat)
    rps = n / elapsed if elapsed else 0.0
    p50, p99 = _pct(lat, 50) * 1000, _pct(lat, 99) * 1000
    s50, s99 = _pct(s_lat, 50) * 1000, _pct(s_lat, 99) * 1000
    billed = stats["calls"] / elapsed if elapsed else 0.0
    ratio = billed / ledger_rate if ledger_rate else 0.0
    tail = s99 / s50 if s50 else 0.0
    errors = len(stats["errors"]) + len(bad_wallets) + len(mismatched)
    out(f"In process, same engine, one thread: {ledger_rate:.1f} billed calls/s (the ledger's hold + settle); "
        f"through services.calls (start + end) {inproc:.1f}/s")
    out(f"API load: {clients} clients x {calls} calls over {wallets} wallets, uvicorn {workers} "
        f"worker{'s' if workers != 1 else ''}, embedded engine")
    out(f"  requests: {n} in {elapsed:.1f} s = {rps:.1f} req/s; latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(lat, default=0) * 1000:.1f} ms")
    out(f"  call start: p50 {s50:.1f} ms, p99 {s99:.1f} ms (p99/p50 {tail:.2f}); billed {billed:.1f} calls/s = "
        f"{ratio:.2f} x in process")
    out(f"  calls billed: {stats['calls']}, refused 402 (wallet empty): {stats['refused']}, "
        f"other errors: {len(stats['errors'])}")
    for e in stats["errors"][:5]:
        out(f"    error: {e}")
    o_lat = stats["open_lat"]
    h50, h99 = _pct(o_lat, 50) * 1000, _pct(o_lat, 99) * 1000
    if o_lat:
        out(f"  at half that load (open loop: {len(o_lat)} calls arriving at {stats['half_rate']:.1f}/s, Poisson, "
            f"on {wallets} other wallets): call start p50 {h50:.1f} ms, p99 {h99:.1f} ms, from each call's arrival")
    out(f"  write transactions per billed call (start, one usage report that grows the hold, end; counted): "
        f"{writes['call']:.1f}; the ledger's bare hold + settle: {writes['ledger']:.1f}")
    out(f"  audit: {'clean' if not bad_wallets else bad_wallets[:3]}; balances = credits - reported costs: "
        f"{'yes' if not mismatched else mismatched[:3]}")
    wh = {}
    if hook:
        more, wh = _webhook_report(db, hook, hook_result, out)
        errors += more
    out(f"api_rps={rps:.1f} p99_ms={s99:.1f} errors={errors} api_vs_inprocess={ratio:.2f} p99_vs_p50={tail:.2f} "
        f"writes_per_call={writes['call']:g} p99_start_ms_at_half_load={h99:.1f}")
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "start_p50_ms": s50, "start_p99_ms": s99,
            "writes_per_call": writes["call"], "writes_per_ledger_call": writes["ledger"],
            "half_load_rate": stats["half_rate"], "half_load_p50_ms": h50, "half_load_p99_ms": h99,
            "half_load_calls": len(o_lat),
            "billed_per_s": billed, "inprocess_per_s": inproc, "ledger_per_s": ledger_rate,
            "api_vs_inprocess": ratio, "p99_vs_p50": tail, "workers": workers, "requests": n,
            "calls": stats["calls"], "refused": stats["refused"], "errors": errors,
            "error_samples": stats["errors"][:10], "audit": bad_wallets, "mismatched": mismatched,
            "data_dir": tmp, **wh}


def usage_run(batches: int = 10, size: int = 1000, clients: int = 1, workers: int | None = None,
              out=print) -> dict:
    """Usage events billed per second through POST /api/usage/batch (issue 29): `clients` threads, each on a
    wallet of its own, post `batches` batches of `size` SMS at 25 paise over real HTTP; afterwards the audit
    must be clean and every wallet down by exactly 25 paise per event. Target: >= 1,000 events/s."""
    workers = workers or config.get().api_workers
    tmp = tempfile.mkdtemp(prefix="bench-usage-")
    server = Server(tmp, None, workers)
    try:
        accounts, admin, _ = _setup(server.url, clients, False)
        extra = 25 * size * (batches + 1) // 100  # rupees: every event of the run fits
        seed = (CREDIT_RUPEES + extra) * 100
        with _client(server.url, admin) as c:
            c.put("/api/admin/services/sms", json={"display_name": "SMS", "unit": "message",
                                                   "price_paise": 25}).raise_for_status()
            for name, _ in accounts:
                c.post("/api/admin/credit", headers={"Idempotency-Key": f"usage-{name}"},
                       json={"user_id": name, "amount": extra, "category": "manual_credit",
                             "reason": "bench usage"}).raise_for_status()
        billed, errors, lock = [0], [], threading.Lock()

        def post(name, token, per):
            with _client(server.url, token) as c:
                for b in range(per):
                    ev = [{"service": "sms", "quantity": 1, "idempotency_key": f"{name}-{b}-{i}"} for i in range(size)]
                    r = c.post("/api/usage/batch", json={"events": ev})
                    with lock:
                        if r.status_code != 200:
                            errors.append(f"{r.status_code} {r.text[:200]}")
                        else:
                            billed[0] += r.json()["billed"]

        per = max(1, batches // clients)
        post("warm", accounts[0][1], 1)  # warm: the first batch pays for imports and caches
        threads = [threading.Thread(target=post, args=(n, t, per)) for n, t in accounts]
        warm = billed[0]
        cpu0, t0 = _tree_cpu(server.proc.pid), time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed, cpu = time.perf_counter() - t0, _tree_cpu(server.proc.pid) - cpu0
    finally:
        server.stop()
    db = dbmod.open_db(uri="", path=str(Path(tmp) / "wallet.sqlite"))
    bad = ledger.audit(db)
    spent = {n: seed - ledger.get_wallet(db, n).balance for n, _ in accounts}
    counted = {n: 25 * db.ledger.count_documents({"user_id": n, "category": "usage"}) for n, _ in accounts}
    rate = (billed[0] - warm) / elapsed if elapsed else 0.0
    per_cpu = (billed[0] - warm) / cpu if cpu else 0.0
    errors += [f"{n}: spent {spent[n]} != 25 x events {counted[n]}" for n in spent if spent[n] != counted[n]]
    out(f"Usage batches: {clients} clients x {per} batches of {size} SMS, uvicorn {workers} worker"
        f"{'s' if workers != 1 else ''}: {billed[0] - warm} events in {elapsed:.2f} s; audit "
        f"{'clean' if not bad else bad[:2]}; wallets down by exactly 25 paise per event: "
        f"{'yes' if not errors else 'no'}")
    out(f"  the API's processes used {cpu:.2f} CPU-s: {per_cpu:.0f} events per CPU-second (what one free core "
        f"bills; on a shared machine the wall-clock rate is that times the share of a core the server got)")
    out(f"usage_events_per_s={rate:.0f} usage_events_per_cpu_s={per_cpu:.0f} errors={len(errors) + len(bad)}")
    return {"events_per_s": rate, "events_per_cpu_s": per_cpu, "errors": errors + bad, "data_dir": tmp}


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` and its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                f = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(d.name)] = (int(f[1]), (int(f[11]) + int(f[12])) / tick)  # ppid, utime + stime
    tree = {pid}
    while True:
        more = {p for p, (pp, _) in stats.items() if pp in tree} - tree
        if not more:
            break
        tree |= more
    return sum(stats[p][1] for p in tree if p in stats)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--calls", type=int, default=40)
    p.add_argument("--wallets", type=int, default=10)
    p.add_argument("--webhook-links", type=int, default=10)
    p.add_argument("--workers", type=int, default=None, help="uvicorn workers (default API_WORKERS: the cores)")
    p.add_argument("--inprocess-calls", type=int, default=200)
    p.add_argument("--open-calls", type=int, default=400, help="calls of the open-loop run at half load (0: skip)")
    p.add_argument("--usage-batches", type=int, default=10, help="batches of 1,000 usage events (0: skip)")
    p.add_argument("--usage-clients", type=int, default=1, help="usage streams, each on a wallet of its own")
    p.add_argument("--usage-only", action="store_true", help="only the usage batches")
    a = p.parse_args(argv)
    errors = 0
    if a.usage_batches:
        errors += len(usage_run(a.usage_batches, clients=a.usage_clients, workers=a.workers)["errors"])
    if not a.usage_only:  # last: its summary is the bench's last line
        errors += run(a.clients, a.calls, a.wallets, webhook_links=a.webhook_links, workers=a.workers,
                      inprocess_calls=a.inprocess_calls, open_calls=a.open_calls)["errors"]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
