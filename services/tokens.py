"""API bearer tokens and the failed-login throttle.

A token is 32 random bytes (url-safe text) handed out once; only its SHA-256 is stored, as the `_id` of a
`tokens` document, so a leaked database does not leak usable tokens and lookup is a primary-key read.
Tokens expire after `config.get().api_token_ttl_minutes` (API_TOKEN_TTL_MINUTES, default 1440). Failed logins are counted per username in a
fixed window, in the database, so every API process shares the count.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import timedelta

from services import clock, config, users
from services.errors import AuthError, InvalidInput, NotFound, RateLimited

# A payments product must not let anyone guess passwords at speed: 5 failures lock a username for the
# rest of a 15-minute window (a right password does not help during the lock).
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
LOCKOUT_MINUTES = int(FAILED_LOGIN_WINDOW.total_seconds() // 60)


def ttl() -> timedelta:
    return timedelta(minutes=config.get().api_token_ttl_minutes)  # config keeps it >= 1


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(db, username: str, *, lifetime: timedelta | None = None) -> str:
    """A new token for an existing user. The token text is returned once and never stored."""
    user = users.get(db, username)
    token = secrets.token_urlsafe(32)
    t = clock.now()
    if secrets.randbelow(100) == 0:  # expired tokens are dropped on use; this sweeps the never-used ones
        purge_expired(db)
    db.tokens.insert_many([{"_id": _hash(token), "username": user["username"], "created_at": t,
                            "expires_at": t + (lifetime if lifetime is not None else ttl())}])
    return token


def resolve(db, token) -> dict:
    """The user a token belongs to (users.public shape). Raises AuthError if unknown, expired or orphaned."""
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
        return users.get(db, doc["username"])
    except NotFound:  # the user was removed: the token dies with them
        db.tokens.delete_one({"_id": key})
        raise AuthError("Sign in: this token is not valid.")


# The API resolves a token on every request; `resolve_cached` trusts the token -> username answer for
# CACHE_SECONDS in its process, so a token revoked elsewhere (another API worker, the dashboard) stops
# working within that; a revocation in this process drops the entry at once. The user is still read
# on every request: a role change or a removed user counts on the next one.
CACHE_SECONDS = 0.5
_CACHE_MOST = 10_000
_cache_lock = threading.Lock()
_cache: dict[tuple[int, str], tuple[float, object, dict, object]] = {}


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
            return users.get(db, hit[2]["username"])
        except NotFound:
            _forget(lambda k, v: k == key)  # removed meanwhile: `resolve` says so and ends the token
    user = resolve(db, token)
    with _cache_lock:
        if len(_cache) >= _CACHE_MOST:
            _cache.clear()
        _cache[key] = (mono, now, dict(user), db)
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
    """End every token of a user (password change, account lock)."""
    _forget(lambda k, v: v[2].get("username") == username)
    return db.tokens.delete_many({"username": username}).deleted_count


def purge_expired(db) -> int:
    return db.tokens.delete_many({"expires_at": {"$lte": clock.now()}}).deleted_count


def login(db, username, password) -> str:
    """Check a password and issue a token, refusing (RateLimited) after too many recent failures."""
    try:
        name = users.normalize_username(username)
    except InvalidInput:
        raise AuthError("Wrong username or password.")
    _check_throttle(db, name)
    try:
        users.authenticate(db, name, password)
    except AuthError:
        record_failed_login(db, name)
        raise
    clear_failed_logins(db, name)
    return issue(db, name)


def failed_login_counts(db) -> dict[str, int]:
    """Usernames with failures in their current window, and how many (the dashboard's sign-in form
    counts with these, so the API and the dashboard lock alike)."""
    now = clock.now()
    return {d["_id"]: int(d.get("count", 0)) for d in db.login_attempts.find({})
            if now - clock.as_utc(d["window_start"]) < FAILED_LOGIN_WINDOW}


def clear_failed_logins(db, name: str) -> None:
    db.login_attempts.delete_one({"_id": name})


def _check_throttle(db, name: str) -> None:
    doc = db.login_attempts.find_one({"_id": name})
    if doc is None:
        return
    start = clock.as_utc(doc["window_start"])
    if clock.now() - start < FAILED_LOGIN_WINDOW and int(doc.get("count", 0)) >= MAX_FAILED_LOGINS:
        wait = FAILED_LOGIN_WINDOW - (clock.now() - start)
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        exc = RateLimited(f"Too many failed sign-ins for this username. Try again in {minutes} minutes.")
        exc.retry_after = max(1, int(wait.total_seconds()) + 1)
        raise exc


def record_failed_login(db, name: str) -> None:
    t = clock.now()
    doc = db.login_attempts.find_one({"_id": name})
    if doc is None or t - clock.as_utc(doc["window_start"]) >= FAILED_LOGIN_WINDOW:
        # A fresh window; two racing resets can lose one count, which only errs towards the user.
        db.login_attempts.update_one({"_id": name}, {"$set": {"window_start": t, "count": 1}}, upsert=True)
    else:
        db.login_attempts.update_one({"_id": name}, {"$inc": {"count": 1}})
