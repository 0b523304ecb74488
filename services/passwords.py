"""Passwords: the rules a new password must meet, and bcrypt hashing and checking.

A password is refused when it has fewer than 8 visible characters (control and format characters,
Unicode Cc and Cf, and whitespace do not count: eight NULs or zero-width spaces are no password) or is
longer than bcrypt's 72 bytes, contains NUL (bcrypt repeats the key with NUL between the repeats, so
"" matched eight NULs), contains the username (case-insensitive), or is one of the 30,000 most common passwords
(services/wordlists/common_passwords.txt, from the zxcvbn package's frequency list). `problems` names every
rule a password breaks, so a form can show them all at once.

Checking a password against no user (an unknown username) costs one bcrypt comparison with a dummy
hash, so a wrong username and a wrong password take the same time and do not tell which it was. A
password that could not have been set (too few visible characters, NUL) is refused before any
comparison, also against hashes stored before this rule.
"""
from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

import bcrypt

MIN_LENGTH = 8
MAX_BYTES = 72  # bcrypt ignores what follows
ROUNDS = 10     # every stored hash has this cost, and so has the dummy one
COMMON_FILE = Path(__file__).resolve().parent / "wordlists" / "common_passwords.txt"


@functools.cache
def common() -> frozenset[str]:
    """The common passwords, lowercase (read once per process)."""
    with COMMON_FILE.open(encoding="utf-8") as f:
        return frozenset(line.rstrip("\n") for line in f if line.strip() and not line.startswith("#"))


def problems(password, username: str = "") -> list[str]:
    """Every rule `password` breaks, as sentences for the person choosing it (empty: acceptable)."""
    if not isinstance(password, str):
        return ["Password must be text."]
    out = _unsettable(password)
    if len(password.encode()) > MAX_BYTES:
        out.append(f"Password must be at most {MAX_BYTES} bytes.")
    name = username.strip().lower() if isinstance(username, str) else ""
    if name and name in password.lower():
        out.append("Password must not contain the username.")
    if password.lower() in common():
        out.append("Password is one of the most common passwords, which are guessed first: choose another.")
    return out


def _unsettable(password: str) -> list[str]:
    """THE invisibility rule, for setting and for signing in: at least MIN_LENGTH characters that are
    not control, format (Unicode Cc, Cf) or whitespace, and no NUL."""
    out = []
    visible = sum(1 for ch in password if not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf"))
    if password and not password.strip():
        out.append("Password cannot be only spaces.")
    elif visible < MIN_LENGTH:
        out.append(f"Password must be at least {MIN_LENGTH} characters; invisible characters and spaces "
                   "do not count.")
    if "\x00" in password:
        out.append("Password cannot contain the NUL character (U+0000).")
    return out


def could_be_set(password) -> bool:
    """False for a password the rules refuse whoever the user: never worth comparing."""
    return isinstance(password, str) and not _unsettable(password)


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=ROUNDS)).decode()


def matches(password, stored_hash: str | None) -> bool:
    """True if `password` is the one behind `stored_hash`. With no hash (no such user) it compares
    against a dummy hash all the same, and answers False. A password that could not have been set
    answers False uncompared (eight NULs and "" hash alike)."""
    if not could_be_set(password):
        return False
    pw = password.encode()[:MAX_BYTES] if isinstance(password, str) else b""
    ok = bcrypt.checkpw(pw, (stored_hash or _dummy_hash()).encode())
    return ok and stored_hash is not None and isinstance(password, str)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("no user has this password: it only spends the time a real check takes")
