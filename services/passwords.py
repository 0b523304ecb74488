"""Passwords: the rules a new password must meet, and bcrypt hashing and checking.

A password is refused when it is shorter than 8 characters or longer than bcrypt's 72 bytes, only
whitespace, contains the username (case-insensitive), or is one of the 30,000 most common passwords
(services/wordlists/common_passwords.txt, from the zxcvbn package's frequency list). `problems` names every
rule a password breaks, so a form can show them all at once.

Checking a password against no user (an unknown username) costs one bcrypt comparison with a dummy
hash, so a wrong username and a wrong password take the same time and do not tell which it was.
"""
from __future__ import annotations

import functools
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
    out = []
    if len(password) < MIN_LENGTH or len(password.encode()) > MAX_BYTES:
        out.append(f"Password must be at least {MIN_LENGTH} characters (at most {MAX_BYTES} bytes).")
    if password and not password.strip():
        out.append("Password cannot be only spaces.")
    name = username.strip().lower() if isinstance(username, str) else ""
    if name and name in password.lower():
        out.append("Password must not contain the username.")
    if password.lower() in common():
        out.append("Password is one of the most common passwords, which are guessed first: choose another.")
    return out


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=ROUNDS)).decode()


def matches(password, stored_hash: str | None) -> bool:
    """True if `password` is the one behind `stored_hash`. With no hash (no such user) it compares
    against a dummy hash all the same, and answers False."""
    pw = password.encode()[:MAX_BYTES] if isinstance(password, str) else b""
    ok = bcrypt.checkpw(pw, (stored_hash or _dummy_hash()).encode())
    return ok and stored_hash is not None and isinstance(password, str)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("no user has this password: it only spends the time a real check takes")
