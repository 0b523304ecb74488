"""Rules on what people store: passwords (services.passwords), free text (checks.text), CSV cells
(reports.csv_safe), and the modes of the files in the data folder (services.db)."""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from services import accounts, campaigns, checks, config, csvout, db as dbmod, files, ledger, passwords, schema, wallet
from services.errors import InvalidInput
from tests.support.api import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
HIDDEN = {"NUL": "\x00", "BEL": "\x07", "ESC": "\x1b", "DEL": "\x7f", "C1 NEL": "\x85",
          "RLO U+202E": "\u202e", "LRE U+202A": "\u202a", "PDF U+202C": "\u202c", "LRI U+2066": "\u2066",
          "PDI U+2069": "\u2069"}


# -------------------------------------------------------------------------------------- passwords

def test_the_common_list_is_large_and_holds_the_usual_suspects():
    common = passwords.common()
    assert len(common) >= 10_000
    assert {"password", "12345678", "qwerty123", "iloveyou", "password1"} <= common


@pytest.mark.parametrize("pw,problem", [
    ("        ", "only spaces"), ("\t \t \t \t ", "only spaces"),
    ("password", "most common"), ("PassWord1", "most common"), ("12345678", "most common"),
    ("asha-2024!", "contain the username"), ("xxASHAxx", "contain the username"),
    ("short", "at least 8"), ("é" * 40, "72 bytes"),
])
def test_a_bad_password_is_refused_with_its_reason(pw, problem):
    found = passwords.problems(pw, "asha")
    assert any(problem in p for p in found), found


def test_a_good_password_passes():
    assert passwords.problems("correct horse battery", "asha") == []
    assert passwords.problems(PASSWORD, "asha") == []


def test_sign_up_over_http_names_every_problem_at_once(client, edb):
    r = client.post("/api/auth/signup", json={"username": "A!", "password": "        ",
                                              "name": "Bad\x07Name", "email": "nope"})
    assert r.status_code == 400, r.text
    msg = r.json()["error"]["message"]
    for part in ("Username must be", "U+0007 BEL", "valid email", "only spaces"):
        assert part in msg, (part, msg)
    assert edb.users.count_documents({}) == 0
    r = client.post("/api/auth/signup", json={"username": "ravi", "password": "ravi-rocks-99",
                                              "name": "Ravi", "email": "ravi@example.com"})
    assert r.status_code == 400 and "contain the username" in r.json()["error"]["message"]


def test_demo_passwords_meet_the_rules(edb):
    made = accounts.seed_demo(edb)
    assert len(made) == 3 and all(passwords.problems(pw, u) == [] for u, pw, _ in made)


# -------------------------------------------------------------------------------------- free text

@pytest.mark.parametrize("what", list(HIDDEN))
def test_text_refuses_control_and_direction_characters(what):
    with pytest.raises(InvalidInput) as exc:
        checks.text(f"Asha{HIDDEN[what]}Rao", what="Name", most=80)
    assert exc.value.message.startswith("Name contains") and "U+" in exc.value.message


def test_text_allows_line_breaks_only_where_asked():
    assert checks.text("line one\nline two\ttab", what="Reason", most=300, lines=True)
    with pytest.raises(InvalidInput, match="LINE FEED"):
        checks.text("line one\nline two", what="Name", most=80)
    assert checks.text("Ünïcödé नमस्ते مرحبا 😀", what="Name", most=80)  # real scripts pass, RTL included


@pytest.mark.parametrize("what", ["RLO U+202E", "NUL", "BEL"])
def test_every_stored_text_refuses_them(edb, what):
    bad = f"Promo{HIDDEN[what]}txt"
    accounts.create_user(edb, "boss", PASSWORD, "Boss", "boss@example.com", "admin")
    accounts.create_user(edb, "asha", PASSWORD, "Asha", "asha@example.com")
    before = ledger.get_wallet(edb, "asha").balance
    refusals = [
        lambda: accounts.create_user(edb, "ravi", PASSWORD, bad, "ravi@example.com"),
        lambda: wallet.admin_credit(edb, admin="boss", user_id="asha", amount=5, category="promo_credit",
                                    reason=bad, key="k1"),
        lambda: campaigns.create_campaign(edb, "asha", ["+919876543210"], "kb1", 1, name=bad),
        lambda: ledger.post(edb, "asha", key="k2", type="credit", category="manual_credit", amount=100, note=bad),
    ]
    for refuse in refusals:
        with pytest.raises(InvalidInput, match="U\\+"):
            refuse()
    assert ledger.get_wallet(edb, "asha").balance == before and edb.users.count_documents({}) == 2
    assert edb.campaigns.count_documents({}) == 0
    # a reason may keep its line breaks
    wallet.admin_credit(edb, admin="boss", user_id="asha", amount=5, category="promo_credit",
                        reason="Dropped call\nrefunded", key="k3")


# ------------------------------------------------------------------------------------------- CSV

@pytest.mark.parametrize("cell", ["＝1+1", "＋91", "－5", "＠SUM(A1)", "﹦1+1"])
def test_full_width_formula_signs_are_neutralised(cell):
    assert csvout.csv_safe(cell) == "'" + cell


# ------------------------------------------------------------------------------------------ files

def _modes(folder: Path) -> dict[str, str]:
    return {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in folder.iterdir()}


def test_the_data_folder_and_every_file_in_it_are_private(tmp_path, monkeypatch):
    """After real writes: the folder 0700; wallet.sqlite, its -wal and -shm, the cookie key, the demo
    logins and the sandbox state 0600, under the usual umask 022."""
    data = tmp_path / "data"
    monkeypatch.setenv("WALLET_DATA_DIR", str(data))
    monkeypatch.setenv("WALLET_SECRETS_FILE", os.devnull)
    monkeypatch.delenv("WALLET_COOKIE_KEY", raising=False)
    monkeypatch.delenv("MONGODB_URI", raising=False)
    old = os.umask(0o022)
    try:
        sys.path.insert(0, str(ROOT / "scripts"))
        import run as runscript
        cfg = config.get()
        files.private_dir(cfg.data_dir)
        runscript._cookie_key(cfg)
        db = dbmod.open_db(path=str(data / "wallet.sqlite"))
        schema.ensure_schema(db)
        made = accounts.seed_demo(db)
        files.write_private(runscript.demo_credentials_file(cfg), "".join(f"{u} {p}\n" for u, p, _ in made))
        for i in range(30):
            ledger.post(db, "demo", key=f"k{i}", type="credit", category="manual_credit", amount=100)
        from sandbox.razorpay_server.app import create_app
        sb = create_app(state_path=str(data / "sandbox_state.json")).state.sandbox
        sb.create_order({"amount": 10000, "currency": "INR"})
        modes = _modes(data)
        dbmod.client_of(db).close()
    finally:
        os.umask(old)
        sys.path.remove(str(ROOT / "scripts"))
    assert oct(stat.S_IMODE(data.stat().st_mode)) == "0o700"
    assert {"wallet.sqlite", "wallet.sqlite-wal", "wallet.sqlite-shm", "cookie_key", "demo_credentials.txt",
            "sandbox_state.json"} <= set(modes), modes
    assert set(modes.values()) == {"0o600"}, modes


def test_files_made_before_the_rule_are_fixed_at_open(tmp_path):
    path = tmp_path / "old" / "wallet.sqlite"
    path.parent.mkdir(mode=0o755)
    db = dbmod.open_db(uri="", name="x", path=str(path))
    ledger.post(db, "u1", key="a", type="credit", category="manual_credit", amount=1)
    dbmod.client_of(db).close()
    for p in path.parent.iterdir():
        p.chmod(0o644)
    db = dbmod.open_db(uri="", name="x", path=str(path))
    ledger.post(db, "u1", key="b", type="credit", category="manual_credit", amount=1)
    assert set(_modes(path.parent).values()) == {"0o600"}, _modes(path.parent)
    dbmod.client_of(db).close()


def test_a_shared_sticky_folder_is_left_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    files.private_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    mine = files.private_dir(tmp_path / "mine" / "data")
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700


def test_a_weak_first_admin_password_is_refused_naming_the_setting(edb, monkeypatch):
    monkeypatch.setenv("WALLET_ADMIN_USER", "root")
    monkeypatch.setenv("WALLET_ADMIN_PASSWORD", "password")
    with pytest.raises(InvalidInput, match="WALLET_ADMIN_PASSWORD refused: Password is one of the most common"):
        accounts.ensure_first_admin(edb)
    assert edb.users.count_documents({}) == 0
