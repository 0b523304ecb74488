"""API bearer tokens and THE sign-in throttle (the API and the dashboard both sign in through `sign_in`).

A token is 32 random bytes (url-safe text) handed out once; only its SHA-256 is stored, as the `_id` of a
`tokens` document, so a leaked database does not leak usable tokens and lookup is a primary-key read.
Tokens expire after `config.get().api_token_ttl_minutes` (API_TOKEN_TTL_MINUTES, default 1440), and end
with their user's session epoch (services.users: a password change or reset, a role change, a disabled
account).

The throttle cannot be used to keep someone out (docs/api.md, "Sign-in throttle"):
- per (username, client address): FREE_FAILURES wrong passwords, then each next attempt from that address
  waits 2, 4, 8 ... seconds after the last failure, capped at MAX_DELAY; a success from the address clears it.
- per username, across addresses: past MAX_FAILED_LOGINS failures in FAILED_LOGIN_WINDOW the username is
  "guarded" until the window ends: an address it has never signed in from waits GUARD_DELAY before each
  attempt (its first one too). An address it signed in from before is not slowed by the guard, and a
  dashboard session restored from its cookie does not sign in at all: the owner gets in, at worst after
  GUARD_DELAY from a new address, whatever others send.
Refused attempts check no password and count nothing. Counts live in the database (`login_attempts`), so
every API process and the dashboard share them.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import datetime, timedelta

from services import auditlog, clock, config, users
from services.errors import AuthError, InvalidInput, RateLimited

COLLECTIONS = {"tokens": [[("username", 1)], [("expires_at", 1)]], "login_attempts": [[("username", 1)]]}
FREE_FAILURES = 3
MAX_DELAY = timedelta(minutes=15)
PAIR_MEMORY = timedelta(hours=24)  # an address's failures are forgotten a day after its last one
MAX_FAILED_LOGINS = 10             # per username across addresses, in a window: then the guard
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
GUARD_DELAY = timedelta(seconds=30)
NO_ADDRESS = "local"  # Streamlit reports no address for localhost


def ttl() -> timedelta:
    return timedelta(minutes=config.get().api_token_ttl_minutes)  # config keeps it >= 1


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -------------------------------------------------------------------------------------------- tokens

def issue(db, username: str, *, lifetime: timedelta | None = None) -> str:
    """A new token for an existing, enabled user. The token text is returned once and never stored."""
    epoch = users.session_start(db, username)
    token = secrets.token_urlsafe(32)
    t = clock.now()
    if secrets.randbelow(100) == 0:  # expired tokens are dropped on use; this sweeps the never-used ones
        purge_expired(db)
    db.tokens.insert_many([{"_id": _hash(token), "username": username, "created_at": t, "epoch": epoch,
                            "expires_at": t + (lifetime if lifetime is not None else ttl())}])
    return token


def resolve(db, token) -> dict:
    """The user a token belongs to (users.public shape). Raises AuthError if unknown, expired, orphaned,
    disabled, or issued before the user's sessions were ended."""
    return _resolve(db, token)[0]


def _resolve(db, token) -> tuple[dict, int]:
    """`resolve`, with the session epoch the token was issued at."""
    if not isinstance(token, str) or not 20 <= len(token) <= 200:
        raise AuthError("Sign in: a valid bearer token is required.")
    key = _hash(token)
    doc = db.tokens.find_one({"_id": key})
    if doc is None:
        raise AuthError("Sign in: this token is not valid.")
    if clock.as_utc(doc["expires_at"]) <= clock.now():
        db.tokens.delete_one({"_id": key})
        raise AuthError("Your session has expired: sign in again.")
    try:
        return users.signed_in(db, doc["username"], _epoch(doc)), _epoch(doc)
    except AuthError:  # the user was removed, disabled or their sessions ended: the token dies
        db.tokens.delete_one({"_id": key})
        raise


def _epoch(doc: dict) -> int:
    return int(doc.get("epoch", 0))


# The API resolves a token on every request; `resolve_cached` trusts the token -> username answer for
# CACHE_SECONDS in its process, so a token revoked elsewhere (another API worker, the dashboard) stops
# working within that; a revocation in this process drops the entry at once. The user is still read
# on every request (with the session epoch the token was issued at): a role change, a disabled account,
# a password reset or a removed user counts on the next one.
CACHE_SECONDS = 0.5
_CACHE_MOST = 10_000
_cache_lock = threading.Lock()
_cache: dict[tuple[int, str], tuple[float, datetime, dict, object]] = {}


def resolve_cached(db, token) -> dict:
    """`resolve`, remembered briefly (see CACHE_SECONDS). A thin wrapper: the rules stay in `resolve`."""
    if not isinstance(token, str):
        return resolve(db, token)
    key = (id(db), _hash(token))
    mono, now = time.monotonic(), clock.now()
    with _cache_lock:
        hit = _cache.get(key)
    # Both clocks must agree the entry is fresh: tests (and operators) move services.clock.
    if hit is not None and hit[3] is db and mono - hit[0] < CACHE_SECONDS and \
            timedelta(0) <= now - hit[1] < timedelta(seconds=CACHE_SECONDS):
        try:
            return users.signed_in(db, hit[2]["username"], hit[2]["epoch"])
        except AuthError:
            _forget(lambda k, v: k == key)  # ended meanwhile: `resolve` says so and deletes the token
    user, epoch = _resolve(db, token)
    with _cache_lock:
        if len(_cache) >= _CACHE_MOST:
            _cache.clear()
        _cache[key] = (mono, now, {"username": user["username"], "epoch": epoch}, db)
    return user


def _forget(match) -> None:
    with _cache_lock:
        for k in [k for k, v in _cache.items() if match(k, v)]:
            _cache.pop(k, None)


def revoke(db, token) -> bool:
    """End one token (logout). True if it existed."""
    if not isinstance(token, str):
        return False
    key = _hash(token)
    _forget(lambda k, v: k[1] == key)
    return db.tokens.delete_one({"_id": key}).deleted_count == 1


def revoke_all(db, username: str) -> int:
    """End every token of a user (password change or reset, role change, disabled account)."""
    _forget(lambda k, v: v[2].get("username") == username)
    return db.tokens.delete_many({"username": username}).deleted_count


def purge_expired(db) -> int:
    return db.tokens.delete_many({"expires_at": {"$lte": clock.now()}}).deleted_count


# ------------------------------------------------------------------------------------------- sign-in

def login(db, username, password, *, client: str | None = None) -> str:
    """`sign_in`, then a token for the user."""
    return issue(db, sign_in(db, username, password, client=client)["username"])


def sign_in(db, username, password, *, client: str | None = None) -> dict:
    """Check a password from `client` (an IP address; None: local) under the throttle. The user
    (users.public shape) or: RateLimited (wait; nothing was checked), AuthError (wrong username or
    password: counted), Forbidden (a disabled account, with the right password)."""
    try:
        name = users.normalize_username(username)
    except InvalidInput:
        name = None  # checked all the same (same time as a wrong password), counted nowhere
    address = client or NO_ADDRESS
    if name:
        _check(db, name, address, clock.now())
    try:
        user = users.authenticate(db, name or "", password)
    except AuthError:
        if name:
            _record_failure(db, name, address)
        raise
    assert name is not None  # authenticate refused the empty username
    db.login_attempts.delete_one({"_id": _pair_id(name, address)})
    users.remember_address(db, name, address)
    return user


def _pair_id(name: str, address: str) -> str:
    return f"a|{name}|{address}"


def _user_id(name: str) -> str:
    return f"u|{name}"


def pair_delay(failures: int) -> timedelta:
    """How long after its last failure an address waits, having failed `failures` times."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - FREE_FAILURES + 1, 20)), MAX_DELAY)


def _pair_wait(pair: dict | None, now: datetime) -> timedelta:
    if pair is None or pair.get("last_at") is None:
        return timedelta(0)
    return clock.as_utc(pair["last_at"]) + pair_delay(int(pair.get("failures", 0))) - now


def _guarded_until(doc: dict | None, now: datetime) -> datetime | None:
    """The end of a username's guard, if it is guarded now."""
    if doc is None or int(doc.get("failures", 0)) < MAX_FAILED_LOGINS:
        return None
    end = clock.as_utc(doc["window_start"]) + FAILED_LOGIN_WINDOW
    return end if end > now else None


def _check(db, name: str, address: str, now: datetime) -> None:
    pair = db.login_attempts.find_one({"_id": _pair_id(name, address)})
    wait = _pair_wait(pair, now)
    if wait > timedelta(0):
        raise _limited(wait, "Too many wrong passwords for this username from your address")
    if _guarded_until(db.login_attempts.find_one({"_id": _user_id(name)}), now) is None or \
            users.known_address(db, name, address):
        return
    if pair is None:  # a new address under the guard waits once before its first attempt
        db.login_attempts.update_one({"_id": _pair_id(name, address)}, {"$setOnInsert": {
            "username": name, "address": address, "failures": 0, "last_at": now}}, upsert=True)
        wait = GUARD_DELAY
    else:
        wait = clock.as_utc(pair["last_at"]) + GUARD_DELAY - now
    if wait > timedelta(0):
        raise _limited(wait, "This username has had many wrong passwords from elsewhere, so sign-ins from "
                             "new addresses are slowed down")


def _limited(wait: timedelta, why: str) -> RateLimited:
    seconds = max(1, int(wait.total_seconds() + 0.999))
    exc = RateLimited(f"{why}: wait {_duration(seconds)} and try again.")
    exc.retry_after = seconds
    return exc


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{(seconds + 59) // 60} minutes"


def _record_failure(db, name: str, address: str) -> None:
    now = clock.now()
    pair = db.login_attempts.find_one({"_id": _pair_id(name, address)})
    if pair is not None and now - clock.as_utc(pair["last_at"]) >= PAIR_MEMORY:
        pair = None
    db.login_attempts.update_one({"_id": _pair_id(name, address)}, {"$set": {
        "username": name, "address": address, "last_at": now,
        "failures": (int(pair.get("failures", 0)) if pair else 0) + 1}}, upsert=True)
    user = db.login_attempts.find_one({"_id": _user_id(name)})
    if user is None or now - clock.as_utc(user["window_start"]) >= FAILED_LOGIN_WINDOW:
        # A fresh window; two racing resets can lose one count, which only errs towards the user.
        db.login_attempts.update_one({"_id": _user_id(name)}, {"$set": {
            "username": name, "window_start": now, "failures": 1}}, upsert=True)
    else:
        db.login_attempts.update_one({"_id": _user_id(name)}, {"$inc": {"failures": 1}})
    if secrets.randbelow(50) == 0:
        _forget_old(db, now)


def _forget_old(db, now: datetime) -> None:
    db.login_attempts.delete_many({"last_at": {"$lt": now - PAIR_MEMORY}})
    db.login_attempts.delete_many({"window_start": {"$lt": now - FAILED_LOGIN_WINDOW}})


# ----------------------------------------------------------------------------------- what admins see

def locked(db) -> list[dict]:
    """Usernames sign-ins are being held back for now: guarded ones, and those with an address that
    must wait. Each: username, failures (this window), guarded_until (or None), addresses (address,
    failures, wait_seconds), most recent first."""
    now = clock.now()
    out: dict[str, dict] = {}
    docs = list(db.login_attempts.find({}))
    for d in docs:
        if d["_id"].startswith("u|") and _guarded_until(d, now):
            out[d["username"]] = {"username": d["username"], "failures": int(d.get("failures", 0)),
                                  "guarded_until": _guarded_until(d, now), "addresses": []}
    for d in docs:
        wait = _pair_wait(d, now) if d["_id"].startswith("a|") else timedelta(0)
        if wait > timedelta(0):
            row = out.setdefault(d["username"], {"username": d["username"], "failures": 0,
                                                 "guarded_until": None, "addresses": []})
            row["addresses"].append({"address": d["address"], "failures": int(d.get("failures", 0)),
                                     "wait_seconds": max(1, int(wait.total_seconds() + 0.999))})
    return sorted(out.values(), key=lambda r: r["username"])


def unlock(db, username: str, *, by: str) -> int:
    """Clear every sign-in count of a username (an admin's decision). How many records went."""
    name = users.normalize_username(username)
    gone = db.login_attempts.delete_many({"username": name}).deleted_count
    auditlog.record(db, by, "unlock", name)
    return gone
