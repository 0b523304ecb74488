"""The start-up migration of issue 27 (services.accounts.migrate): a copy of a database made by main before
accounts (PRE_ACCOUNTS, run from a `git archive` of it) starts on this code; every person owns an account
of their own with the same balance and history; and a `kill -9` in the middle of the migration followed by
a restart ends exactly the same way as an uninterrupted start.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from services import db as dbmod, ledger
from services.accounts import teams
from tests.support.served import free_port, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
PRE_ACCOUNTS = "da78e2d"  # main just before accounts: its database is what customers have
CUSTOMERS, MORE = 30, 40
PW = "correct-horse-27"


def _env(data: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAZORPAY_", "MONGODB_", "SMTP_", "WALLET_"))}
    env.update(WALLET_DATA_DIR=str(data), WALLET_SECRETS_FILE=os.devnull, PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="module")
def old_db(tmp_path_factory) -> Path:
    """The data folder of a database made by PRE_ACCOUNTS's code."""
    if shutil.which("git") is None or subprocess.run(["git", "cat-file", "-e", PRE_ACCOUNTS], cwd=ROOT,
                                                                check=False).returncode:
        pytest.skip(f"needs git and commit {PRE_ACCOUNTS}")
    tmp = tmp_path_factory.mktemp("premigration")
    src, data = tmp / "src", tmp / "data"
    src.mkdir()
    archive = subprocess.run(["git", "archive", PRE_ACCOUNTS, "services"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    assert (src / "services" / "accounts.py").is_file()  # the old module, not this code's package
    seed = ROOT / "tests" / "migration" / "seed_before_accounts.py"
    env = _env(data) | {"PYTHONPATH": str(src)}
    subprocess.run([sys.executable, str(seed), str(CUSTOMERS), str(MORE)], cwd=src, env=env, check=True,
                   timeout=1800)
    return data


def _copy(data: Path, to: Path) -> Path:
    shutil.copytree(data, to)
    return to


def _open(data: Path):
    return dbmod.open_db(uri="", name="wallet", path=str(data / "wallet.sqlite"))


def _before(data: Path) -> dict:
    """What each person had: balance, held, open holds, entries (the ledger's documents as stored), calls."""
    db = _open(data)
    try:
        people = [u["_id"] for u in db.users.find({}, {"_id": 1})]
        out = {}
        for p in people:
            w = ledger.get_wallet(db, p)
            out[p] = (w.balance, w.held, w.entries, w.due, sorted((h, x.amount) for h, x in w.holds.items()),
                      sorted(map(repr, db.ledger.find({"user_id": p}))),
                      sorted((c["_id"], c["status"], c.get("cost_paise"), c.get("billed_seconds"))
                             for c in db.calls.find({"user_id": p})))
        return out
    finally:
        dbmod.client_of(db).close()


def _accounts(data: Path) -> dict:
    """The accounts as they ended: id -> (name, {member: role}); and whether the migration's mark is there."""
    db = _open(data)
    try:
        out = {d["_id"]: (d["name"], {m: v["role"] for m, v in d["members"].items()}) for d in db.accounts.find({})}
        return {"accounts": out, "marked": db.accounts_meta.find_one({"_id": "backfill"}) is not None}
    finally:
        dbmod.client_of(db).close()


def _start(data: Path) -> None:
    """This code's start on the data folder: the API (api/serve.py), until it answers; then a migrated
    customer signs in and finds themselves the owner of their account, with their balance."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "api.serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1", "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=_env(data))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, limit=600)
        with httpx.Client(base_url=url, trust_env=False, timeout=60) as c:
            tok = c.post("/api/auth/login", json={"username": "cust007", "password": PW}).json()["token"]
            h = {"Authorization": f"Bearer {tok}"}
            assert c.get("/api/account", headers=h).json() == {"id": "cust007", "name": "Customer 7",
                                                                "role": "owner", "scopes": []}
            assert c.get("/api/wallet/balance", headers=h).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


# What every process does first (services.schema.get_db), in a child that SIGKILLs itself when it is about to
# make account number `at` (argv[1]): mid-way for certain, however busy the machine (a kill from outside
# at a random moment needed 1,200 accounts to land before the end).
_DIE_AT = """
import os, signal, sys
from services.accounts import teams
at, made, create = int(sys.argv[1]), [0], teams.create
def dying(*a, **k):
    made[0] += 1
    if made[0] == at:
        os.kill(os.getpid(), signal.SIGKILL)
    return create(*a, **k)
teams.create = dying
from services import schema
schema.get_db()
"""


def _killed_mid_migration(data: Path, at: int) -> None:
    """Start the migration and have it killed (-9) as it is about to make its `at`-th account."""
    proc = subprocess.run([sys.executable, "-c", _DIE_AT, str(at)], cwd=ROOT, env=_env(data), timeout=600,
                          check=False)
    assert proc.returncode == -signal.SIGKILL, proc.returncode


@pytest.mark.slow
def test_a_database_from_before_accounts_starts_and_every_person_owns_their_account(old_db, tmp_path):
    before = _before(old_db)
    assert len(before) == CUSTOMERS + MORE + 2 and _accounts(old_db)["accounts"] == {}
    straight = _copy(old_db, tmp_path / "straight")
    _start(straight)
    done = _accounts(straight)
    assert done["marked"]
    assert done["accounts"] == {p: (done["accounts"][p][0], {p: "owner"}) for p in before}
    assert done["accounts"]["cust007"][0] == "Customer 7"
    after = _before(straight)
    assert after == before  # same balance, holds, history and calls for everyone
    db = _open(straight)
    try:
        assert ledger.audit(db) == []
        assert all(teams.memberships(db, p) == [{"id": p, "name": done["accounts"][p][0], "role": "owner"}]
                   for p in ("cust000", "cust029", "bulk0000", "root", "ana"))
    finally:
        dbmod.client_of(db).close()

    # kill -9 during the migration, then a restart: the same end.
    killed = _copy(old_db, tmp_path / "killed")
    at = random.randrange(2, len(before))
    _killed_mid_migration(killed, at)
    half = _accounts(killed)
    assert not half["marked"] and len(half["accounts"]) == at - 1, (at, len(half["accounts"]))
    _start(killed)
    assert _accounts(killed) == done
    assert _before(killed) == before
