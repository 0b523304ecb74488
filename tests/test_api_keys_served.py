"""Issue 27's must-show runs against the API as it is served (`api/serve.py`, two worker processes, each its
own socket) on an embedded database this test also opens:

- a day of calls placed by the voice platform with an API key, while the owner changes their password and
  a developer rotates the key with a 10-minute overlap: no call is refused for auth, and once the old key
  is revoked every worker refuses it (401) within a second;
- 50 racing call starts on one key with a Rs. 100 daily cap and a Rs. 1,000 wallet: the key's holds and
  spend never pass Rs. 100, the wallet never passes its balance, the audit is clean; past the cap 402
  `spend_cap_reached` names the key's limit, past its simultaneous calls 429 `too_many_calls` does; the
  key's cap alerts (80 % and 100 %) are written once per crossing.
"""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from services import alerts, db as dbmod, ledger
from services.alerts import keycaps
from tests.support.served import children, free_port, wait_healthy, worker_of

ROOT = Path(__file__).resolve().parent.parent
PW = "correct-horse-27"
ADMIN = "root"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keys-served")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAZORPAY_", "MONGODB_", "SMTP_"))}
    env.update(WALLET_DATA_DIR=str(tmp), WALLET_SECRETS_FILE=os.devnull, PYTHONUNBUFFERED="1",
               WALLET_ADMIN_USER=ADMIN, WALLET_ADMIN_PASSWORD=PW)
    cmd = [sys.executable, "-m", "api.serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
           "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env)
    url = f"http://127.0.0.1:{port}"
    mp = pytest.MonkeyPatch()
    try:
        wait_healthy(url, proc)
        deadline = time.monotonic() + 120
        while len(children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        for k, v in env.items():
            if k.startswith("WALLET_"):
                mp.setenv(k, v)
        db = dbmod.open_db(uri="", path=str(tmp / "wallet.sqlite"))
        yield {"url": url, "port": port, "proc": proc, "db": db}
    finally:
        mp.undo()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


# ------------------------------------------------------------------------------------------ helpers

def _api(url: str):
    return httpx.Client(base_url=url, trust_env=False, timeout=60)


def _bearer(token: str, account: str | None = None) -> dict:
    h = {"Authorization": f"Bearer {token}"}
    if account:
        h["X-Account"] = account
    return h


def _ok(r: httpx.Response, status: int = 200) -> dict:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json()


def _login(c, username: str, password: str = PW) -> str:
    return _ok(c.post("/api/auth/login", json={"username": username, "password": password}))["token"]


def _team(c, db, owner: str, developer: str, rupees: int) -> tuple[str, str]:
    """An owner who signed up, a wallet the admin credited, a developer invited by e-mail who accepted.
    Returns (owner's token, developer's token)."""
    tok = {}
    for name in (owner, developer):
        tok[name] = _ok(c.post("/api/auth/signup", json={"username": name, "password": PW, "name": name.title(),
                                                         "email": f"{name}@example.com"}), 201)["token"]
    admin = _login(c, ADMIN)
    _ok(c.post("/api/admin/credit", headers=_bearer(admin), json={"user_id": owner, "amount": rupees,
                                                                 "category": "promo_credit", "reason": "issue 27"}))
    inv = _ok(c.post("/api/account/invitations", headers=_bearer(tok[owner]),
                     json={"email": f"{developer}@example.com", "role": "developer"}), 201)
    mail = db.alerts.find_one({"user_id": owner, "event_type": "account.invitation"})  # the e-mail in the outbox
    token = mail["action_url"].split("invite=", 1)[1]
    assert token.startswith(inv["id"] + ".") and inv["id"] in mail["_id"]
    _ok(c.post("/api/invitations/accept", headers=_bearer(tok[developer]), json={"token": token}))
    again = c.post("/api/invitations/accept", headers=_bearer(tok[developer]), json={"token": token})
    assert again.status_code == 409  # single use
    return tok[owner], tok[developer]


def _per_worker(served) -> dict[int, http.client.HTTPConnection]:
    """One kept-alive connection to each API worker."""
    workers = children(served["proc"].pid)
    found: dict[int, http.client.HTTPConnection] = {}
    for _ in range(64):
        conn = http.client.HTTPConnection("127.0.0.1", served["port"], timeout=30)
        conn.request("GET", "/api/health")
        conn.getresponse().read()
        pid = worker_of(conn.sock, served["port"], workers)
        if pid is not None and pid not in found:
            found[pid] = conn
        else:
            conn.close()
        if len(found) == len(workers):
            break
    assert len(found) == len(workers) == 2, (found, workers)
    return found


def _status(conn: http.client.HTTPConnection, key: str) -> int:
    conn.request("GET", "/api/account", headers=_bearer(key))
    r = conn.getresponse()
    r.read()
    return r.status


# ------------------------------------------------------------------------------------ the day of calls

class Platform:
    """The voice platform: threads placing calls (start, updates, end) with whatever key it was given
    last; every answer other than 200 is kept."""

    def __init__(self, url: str, key: str):
        self.url, self.key, self.lock = url, key, threading.Lock()
        self.refused: list[tuple[str, int, str]] = []
        self.calls = 0
        self.by_key: dict[str, int] = {}
        self.stop = threading.Event()

    def use(self, key: str) -> None:
        with self.lock:
            self.key = key

    def _post(self, c, path: str, body: dict) -> dict | None:
        with self.lock:
            key = self.key
        r = c.post(path, json=body, headers=_bearer(key))
        if r.status_code != 200:
            with self.lock:
                self.refused.append((path, r.status_code, r.text[:200]))
            return None
        with self.lock:
            self.by_key[key[:20]] = self.by_key.get(key[:20], 0) + 1
        return r.json()

    def run(self, n: int) -> None:
        with _api(self.url) as c:
            for i in range(n):
                if self.stop.is_set():
                    return
                call = self._post(c, "/api/call", {"to_number": f"+9198765{i:05d}", "kb_id": "kb_day",
                                                   "max_minutes": 15})
                if call is None:
                    continue
                cid = call["call_id"]
                self._post(c, f"/api/call/{cid}/update", {"usage_seconds": 290})
                self._post(c, f"/api/call/{cid}/end", {"duration_seconds": 30 + i % 400})
                with self.lock:
                    self.calls += 1


@pytest.mark.slow
def test_a_day_of_calls_through_a_password_change_and_a_rotation(served):
    url, db = served["url"], served["db"]
    with _api(url) as c:
        owner, dev = _team(c, db, "daycorp", "devi", 10_000)
        key = _ok(c.post("/api/keys", headers=_bearer(dev, "daycorp"),
                         json={"name": "voice-prod", "scopes": ["calls"]}), 201)
        assert key["secret"].startswith("wk_test_" + key["id"]) and key["prefix"] == "wk_test_" + key["id"]
        assert db.api_keys.find_one({"_id": key["id"]})["secret_hash"] != key["secret"]  # stored as a hash
        platform = Platform(url, key["secret"])
        threads = [threading.Thread(target=platform.run, args=(12,)) for _ in range(3)]
        for t in threads:
            t.start()
        while platform.calls < 6:
            time.sleep(0.1)
        # The owner changes their password: their sessions end, the platform's key does not.
        new_owner = _ok(c.post("/api/auth/password", headers=_bearer(owner),
                               json={"current_password": PW, "new_password": "a-brand-new-secret-27"}))["token"]
        assert c.get("/api/account", headers=_bearer(owner)).status_code == 401
        while platform.calls < 14:
            time.sleep(0.1)
        # The developer rotates with a 10-minute overlap; the platform switches at its next call.
        rotated = _ok(c.post(f"/api/keys/{key['id']}/rotate", headers=_bearer(dev, "daycorp"),
                             json={"overlap_minutes": 10}))
        assert rotated["old"]["state"] == "active" and rotated["old"]["expires_at"]
        time.sleep(1.0)  # calls keep going on the old key meanwhile: it is still inside its overlap
        platform.use(rotated["new"]["secret"])
        while platform.calls < 24:
            time.sleep(0.1)
        conns = _per_worker(served)
        assert all(_status(conn, key["secret"]) == 200 for conn in conns.values())  # each worker knows it
        # The developer ends the overlap early: revoked, every worker refuses the old key within a second.
        _ok(c.delete(f"/api/keys/{key['id']}", headers=_bearer(dev, "daycorp")))
        revoked_at = time.monotonic()
        seen: dict[int, list[tuple[float, int]]] = {pid: [] for pid in conns}
        while time.monotonic() - revoked_at < 2.0:
            for pid, conn in conns.items():
                sent = time.monotonic() - revoked_at
                seen[pid].append((sent, _status(conn, key["secret"])))
            time.sleep(0.05)
        for t in threads:
            t.join(600)
        with _api(url) as c2:
            rows = _ok(c2.get("/api/keys", headers=_bearer(new_owner)))["keys"]
            trail = _ok(c2.get("/api/account/audit", headers=_bearer(new_owner)))["entries"]
    print("seconds from the revocation to each worker's first 401:",
          {pid: round(next(sent for sent, s in polls if s == 401), 3) for pid, polls in seen.items()})
    for pid, polls in seen.items():
        assert all(s == 401 for sent, s in polls if sent >= 1.0), (pid, polls)  # a second after: refused
        assert polls[-1][1] == 401 and all(s in (200, 401) for _, s in polls), (pid, polls)
    assert platform.refused == [], platform.refused  # no call refused for auth (nor for anything else)
    assert platform.calls == 36 and len(platform.by_key) == 2  # both keys carried calls
    states = {k["prefix"]: k["state"] for k in rows}
    assert states == {key["prefix"]: "revoked", rotated["new"]["prefix"]: "active"}
    assert all(k["last_used_at"] and k["last_used_from"] == "127.0.0.1" for k in rows)
    actions = [(e["action"], e["actor"], e["address"]) for e in trail]
    assert ("Revoked an API key", "devi", "127.0.0.1") in actions and ("Rotated an API key", "devi", "127.0.0.1") \
        in actions and ("Created an API key", "devi", "127.0.0.1") in actions
    w = ledger.get_wallet(db, "daycorp")
    assert w.held == 0 and w.balance < 1_000_000 and ledger.audit(db) == []


# ------------------------------------------------------------------------------------ racing starts

def _race(url: str, key: str, n: int, max_minutes: int) -> list[httpx.Response]:
    gate = threading.Barrier(n)
    out: list[httpx.Response] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        with _api(url) as c:
            gate.wait()
            r = c.post("/api/call", headers=_bearer(key),
                       json={"to_number": f"+9199{i:08d}", "kb_id": "kb_race", "max_minutes": max_minutes})
        with lock:
            out.append(r)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    return out


@pytest.mark.slow
def test_fifty_racing_starts_on_one_key_stay_under_its_cap(served):
    url, db = served["url"], served["db"]
    with _api(url) as c:
        owner, dev = _team(c, db, "racecorp", "ravi", 1_000)
        key = _ok(c.post("/api/keys", headers=_bearer(dev, "racecorp"),
                         json={"name": "dialer", "scopes": ["calls"], "daily_cap": 100}), 201)
        got = _race(url, key["secret"], 50, 3)  # each call holds up to 3 minutes: Rs. 30
        ok = [r.json() for r in got if r.status_code == 200]
        capped = [r.json()["error"] for r in got if r.status_code == 402]
        assert len(ok) + len(capped) == 50, [r.text for r in got if r.status_code not in (200, 402)]
        assert sum(x["held_paise"] for x in ok) == 10_000  # Rs. 30 + 30 + 30 + the last Rs. 10: the cap
        assert all(e["code"] == "spend_cap_reached" and "dialer" in e["message"] and "Rs. 100.00" in e["message"]
                   for e in capped), capped
        spend = ledger.spend_of(db, "racecorp")[key["id"]]
        assert spend.held == 10_000 and ledger.get_wallet(db, "racecorp").held == 10_000
        for x in ok:  # every call talks to the end of what it was granted
            _ok(c.post(f"/api/call/{x['call_id']}/end", headers=_bearer(key["secret"]),
                       json={"duration_seconds": x["authorized_seconds"]}))
        more = c.post("/api/call", headers=_bearer(key["secret"]), json={"to_number": "+919900000001",
                                                                          "kb_id": "kb_race"})
        assert more.status_code == 402 and "daily cap of Rs. 100.00" in more.json()["error"]["message"]
        listed = {k["id"]: k for k in _ok(c.get("/api/keys", headers=_bearer(owner)))["keys"]}
        # At most 3 calls at once on a second key of the same account: 429 names the key's limit.
        three = _ok(c.post("/api/keys", headers=_bearer(owner), json={"name": "trio", "scopes": ["calls"],
                                                                      "max_concurrent_calls": 3}), 201)
        got3 = _race(url, three["secret"], 10, 1)
    spend = ledger.spend_of(db, "racecorp")[key["id"]]
    assert spend.spent_day == 10_000 and spend.held == 0 and listed[key["id"]]["spent_today_paise"] == 10_000
    w = ledger.get_wallet(db, "racecorp")  # Rs. 1,000 less the dialer's Rs. 100; the trio's 3 calls hold Rs. 10 each
    assert (w.balance, w.held, ledger.spend_of(db, "racecorp")[three["id"]].held) == (90_000, 3_000, 3_000)
    assert sorted(r.status_code for r in got3) == [200] * 3 + [429] * 7
    too_many = [r for r in got3 if r.status_code == 429]
    assert all(r.json()["error"]["code"] == "too_many_calls" and "trio" in r.json()["error"]["message"] and
               "3 at once" in r.json()["error"]["message"] and r.headers["retry-after"] for r in too_many)
    assert ledger.audit(db) == []
    # The cap alerts: 80 % and 100 % of the daily cap (and of nothing else), once each, to the account's
    # own alert channels.
    assert keycaps.derive(db) == 2 and keycaps.derive(db) == 0
    notes = [a for a in alerts.of_user(db, "racecorp", 50) if a["event_type"] == "wallet.key_cap"]
    assert sorted(a["headline"] for a in notes) == sorted([
        f"API key dialer ({key['prefix']}) has used 80% of its daily cap",
        f"API key dialer ({key['prefix']}) reached its daily cap of Rs. 100.00"])
    assert all(a["email_to"] == ["racecorp@example.com"] for a in notes)
