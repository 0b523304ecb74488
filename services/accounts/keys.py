"""API keys: how a voice platform acts on an account without anyone's password (docs/api.md, "API keys").

A key is `wk_live_<id>_<secret>` (`wk_test_` when payments are not live): the visible prefix
`wk_live_<id>` names it in lists and logs; the whole text is shown once, at creation, and stored only as
its SHA-256 (`api_keys/{id}`), so a request's key is one primary-key read and a leaked database leaks no
usable key. A key belongs to its account, not to the person who made it: it lives through that person's
password change or departure, is never counted by the sign-in throttle, and ends only when revoked or
expired. Revoking is a write of `revoked_at`; `resolve_cached` re-reads a key at least every
`tokens.CACHE_SECONDS`, so every API process refuses it within a second. Rotating is a new key with the
same scopes and caps, and the old one expiring after the overlap its owner chooses.

Budgets (`daily_cap_paise`, `monthly_cap_paise`, `max_concurrent_calls`) are the key's; the ledger checks
them in the hold's own compare-and-set (services.ledger.budgets).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from services import auditlog, checks, clock, config, ledger, tokens
from services.accounts.roles import SCOPES, Acting
from services.db import insert_new
from services.errors import AuthError, InvalidInput, NotFound
from services.money import format_rupees, parse_rupees, to_rupees

PREFIX = "wk_"
NAME_MAX = 60
MAX_OVERLAP = timedelta(days=7)
MAX_CONCURRENT = 1000
MAX_CAP = 1_00_00_000_00  # Rs. 1 crore
TOUCH_SECONDS = 60.0   # "last used" is written at most this often per key and process: never per request
UNKNOWN = "This API key is not valid."


@dataclass(frozen=True)
class Key:
    """An API key as its owners see it (never its secret)."""
    id: str
    account: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str = ""
    daily_cap_paise: int | None = None
    monthly_cap_paise: int | None = None
    max_concurrent_calls: int | None = None
    last_used_at: datetime | None = None
    last_used_from: str = ""
    rotated_from: str = ""
    spent_today_paise: int = 0
    spent_month_paise: int = 0
    held_paise: int = 0
    open_calls: int = 0

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > clock.now())

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= clock.now():
            return "expired"
        return "active"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def mode() -> str:
    """`live` when payments take real money, else `test`: a key says which kind of deployment made it."""
    return "live" if config.get().razorpay.mode == "live" else "test"


def looks_like_key(credential) -> bool:
    return isinstance(credential, str) and credential.startswith(PREFIX)


# ------------------------------------------------------------------------------------------ making

def check_name(name) -> str:
    return checks.text(name.strip() if isinstance(name, str) else name, what="Key name", most=NAME_MAX, least=1)


def check_scopes(scopes) -> tuple[str, ...]:
    if not isinstance(scopes, (list, tuple)) or not scopes or any(s not in SCOPES for s in scopes):
        raise InvalidInput(f"Scopes must be one or more of {', '.join(SCOPES)}.")
    return tuple(s for s in SCOPES if s in scopes)


def _cap(value, what: str) -> int | None:
    """A cap in rupees as people type it (services.money), at least Rs. 1; None or "" for none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_rupees(value, minimum=100, maximum=MAX_CAP, what=what)


def _expiry(expires_at) -> datetime | None:
    if expires_at is None:
        return None
    if not isinstance(expires_at, datetime):
        raise InvalidInput("Expiry must be a date and time.")
    t = clock.as_utc(expires_at)
    if t <= clock.now():
        raise InvalidInput("Expiry must be in the future.")
    if t > clock.now() + timedelta(days=3 * 366):
        raise InvalidInput("Expiry can be at most three years ahead.")
    return t


def create(db, acting: Acting, name, scopes, *, expires_at=None, daily_cap=None, monthly_cap=None,
           max_concurrent_calls=None, address: str | None = None, rotated_from: str = "") -> tuple[Key, str]:
    """A new key of `acting.account` (made by a person who may manage keys), caps in rupees. Returns the
    key and its secret, which is never shown again. Bad input raises InvalidInput and writes nothing."""
    acting.require("keys:write")
    name, scopes, expires = check_name(name), check_scopes(scopes), _expiry(expires_at)
    daily, monthly = _cap(daily_cap, "Daily cap"), _cap(monthly_cap, "Monthly cap")
    if daily is not None and monthly is not None and monthly < daily:
        raise InvalidInput("The monthly cap cannot be below the daily cap.")
    most = None if max_concurrent_calls is None else checks.whole_number(
        max_concurrent_calls, 1, MAX_CONCURRENT, what="Simultaneous calls")
    while True:
        kid = secrets.token_hex(6)
        secret = f"{PREFIX}{mode()}_{kid}_{secrets.token_urlsafe(32)}"
        t = clock.now()
        doc = {"_id": kid, "account": acting.account, "name": name, "prefix": secret[:len(PREFIX) + 5 + 12],
               "scopes": list(scopes), "secret_hash": _hash(secret), "created_by": acting.actor, "created_at": t,
               "expires_at": expires, "revoked_at": None, "daily_cap_paise": daily, "monthly_cap_paise": monthly,
               "max_concurrent_calls": most, "rotated_from": rotated_from}
        if insert_new(db.api_keys, doc):
            break
    caps = "; ".join(x for x in (f"daily cap {format_rupees(daily)}" if daily else "",
                                 f"monthly cap {format_rupees(monthly)}" if monthly else "",
                                 f"{most} calls at once" if most else "") if x)
    auditlog.record(db, acting.actor, "key_created", doc["prefix"], f"{name}: {', '.join(scopes)}" +
                    (f"; {caps}" if caps else "") + (f"; replaces {rotated_from}" if rotated_from else ""),
                    account=acting.account, address=address)
    return view(doc), secret


def rotate(db, acting: Acting, key_id: str, overlap_minutes, *, address: str | None = None) -> tuple[Key, str, Key]:
    """A new key with the old one's name, scopes and caps; the old one keeps working for `overlap_minutes`
    (0: it ends now), so the platform can switch without a refused call. Returns (new, its secret, old)."""
    acting.require("keys:write")
    minutes = checks.whole_number(overlap_minutes, 0, int(MAX_OVERLAP.total_seconds() // 60),
                                  what="Overlap", unit="of minutes")
    old = _own(db, acting.account, key_id)
    if not view(old).active:
        raise InvalidInput("This key is revoked or expired already: create a new one instead.")
    paise = {c: to_rupees(old[f"{c}_paise"]) if old.get(f"{c}_paise") else None for c in ("daily_cap", "monthly_cap")}
    new, secret = create(db, acting, old["name"], old["scopes"], expires_at=old.get("expires_at"), **paise,
                         max_concurrent_calls=old.get("max_concurrent_calls"), address=address,
                         rotated_from=old["prefix"])
    ends = clock.now() + timedelta(minutes=minutes)
    cur = clock.as_utc(old.get("expires_at"))
    if cur is None or ends < cur:
        db.api_keys.update_one({"_id": key_id}, {"$set": {"expires_at": ends, "rotated_to": new.id}})
    _forget(key_id)
    auditlog.record(db, acting.actor, "key_rotated", old["prefix"], f"replaced by {new.prefix}; works until "
                    f"{clock.fmt(ends)} {clock.abbr()} ({minutes} min overlap)", account=acting.account,
                    address=address)
    return new, secret, view(_own(db, acting.account, key_id))


def revoke(db, acting: Acting, key_id: str, *, address: str | None = None) -> Key:
    """End a key now (every API process refuses it within a second). Revoking again changes nothing."""
    acting.require("keys:write")
    doc = _own(db, acting.account, key_id)
    if doc.get("revoked_at") is None:
        t = clock.now()
        db.api_keys.update_one({"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": t,
                                                                            "revoked_by": acting.actor}})
        auditlog.record(db, acting.actor, "key_revoked", doc["prefix"], doc["name"], account=acting.account,
                        address=address)
    _forget(key_id)
    return view(_own(db, acting.account, key_id))


# ----------------------------------------------------------------------------------------- reading

def list_keys(db, account_id: str) -> list[Key]:
    """Every key of an account with its spend today and this month (newest first)."""
    spend = ledger.spend_of(db, account_id)
    out = [view(d, spend.get(d["_id"])) for d in db.api_keys.find({"account": account_id})]
    return sorted(out, key=lambda k: k.created_at, reverse=True)


def names_of(db, account_id: str | None = None) -> dict[str, str]:
    """key id -> "name (prefix)" of an account's keys (None: every account's), for reports and exports."""
    flt = {"account": account_id} if account_id else {}
    return {d["_id"]: f"{d['name']} ({d['prefix']})" for d in db.api_keys.find(flt, {"name": 1, "prefix": 1})}


def with_caps(db) -> list[Key]:
    """Active keys with a daily or monthly cap, across accounts (the cap alerts' worker pass)."""
    rows = db.api_keys.find({"revoked_at": None}, {"secret_hash": 0})
    return [view(d) for d in rows if (d.get("daily_cap_paise") or d.get("monthly_cap_paise"))]


def _own(db, account_id: str, key_id) -> dict:
    doc = db.api_keys.find_one({"_id": key_id}) if isinstance(key_id, str) and len(key_id) <= 40 else None
    if doc is None or doc["account"] != account_id:
        raise NotFound(f"No API key {key_id!r} in this account.")
    return doc


def view(doc: dict, spend: ledger.KeySpend | None = None) -> Key:
    s = spend or ledger.KeySpend(doc["_id"])
    return Key(doc["_id"], doc["account"], doc["name"], doc["prefix"], tuple(doc.get("scopes") or ()),
               doc.get("created_by", ""), clock.as_utc(doc["created_at"]), clock.as_utc(doc.get("expires_at")),
               clock.as_utc(doc.get("revoked_at")), doc.get("revoked_by") or "", doc.get("daily_cap_paise"),
               doc.get("monthly_cap_paise"), doc.get("max_concurrent_calls"), clock.as_utc(doc.get("last_used_at")),
               doc.get("last_used_from") or "", doc.get("rotated_from") or "", s.spent_day, s.spent_month, s.held,
               s.open)


def budget_of(key: Key) -> ledger.Budget:
    """The key's limits for the ledger; a key without caps still tags its holds, so its spend is counted."""
    return ledger.Budget(key.id, key.daily_cap_paise, key.monthly_cap_paise, key.max_concurrent_calls,
                         label=f"{key.name} ({key.prefix})")


# --------------------------------------------------------------------------------- a request's key

_cache_lock = threading.Lock()
_cache: dict[tuple[int, str], tuple[float, object, dict]] = {}
_touched: dict[str, float] = {}


def resolve(db, secret) -> Key:
    """The key a request presents, if it is valid now; AuthError otherwise (unknown, wrong, revoked,
    expired). Never counted by the sign-in throttle: a key is not a password."""
    return view(_check(_read(db, secret, cached=False), secret))


def resolve_cached(db, secret, *, address: str | None = None) -> Key:
    """`resolve`, reading the key's document at most every tokens.CACHE_SECONDS in this process, and
    noting its last use (at most every TOUCH_SECONDS)."""
    doc = _check(_read(db, secret, cached=True), secret)
    _touch(db, doc["_id"], address)
    return view(doc)


def acting_for(key: Key) -> Acting:
    return Acting(key.account, "key", key=key.id, scopes=key.scopes, key_name=f"{key.name} ({key.prefix})")


def budget_for(db, key_id: str | None) -> ledger.Budget | None:
    """The caps of a key by id (a call started with it, extended later), from the same short cache."""
    if not key_id:
        return None
    doc = _by_id(db, key_id, cached=True)
    return budget_of(view(doc)) if doc else None


def _parts(secret) -> str:
    if not isinstance(secret, str) or not 30 <= len(secret) <= 200 or not secret.startswith(PREFIX):
        raise AuthError(UNKNOWN)
    bits = secret.split("_", 3)
    if len(bits) != 4 or bits[1] not in ("live", "test") or len(bits[2]) != 12:
        raise AuthError(UNKNOWN)
    return bits[2]


def _read(db, secret, *, cached: bool) -> dict:
    doc = _by_id(db, _parts(secret), cached=cached)
    if doc is None:
        raise AuthError(UNKNOWN)
    return doc


def _by_id(db, key_id: str, *, cached: bool) -> dict | None:
    k, mono = (id(db), key_id), time.monotonic()
    if cached:
        with _cache_lock:
            hit = _cache.get(k)
        if hit is not None and hit[1] is db and mono - hit[0] < tokens.CACHE_SECONDS:
            return hit[2]
    doc = db.api_keys.find_one({"_id": key_id})
    if doc is not None:
        with _cache_lock:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[k] = (mono, db, doc)
    return doc


def _check(doc: dict, secret: str) -> dict:
    if not hmac.compare_digest(doc["secret_hash"], _hash(secret)):
        raise AuthError(UNKNOWN)
    if doc.get("revoked_at") is not None:
        raise AuthError("This API key was revoked.")
    exp = clock.as_utc(doc.get("expires_at"))
    if exp is not None and exp <= clock.now():
        raise AuthError("This API key has expired.")
    return doc


def _touch(db, key_id: str, address: str | None) -> None:
    mono = time.monotonic()
    with _cache_lock:
        if mono - _touched.get(key_id, -TOUCH_SECONDS) < TOUCH_SECONDS:
            return
        if len(_touched) > 10_000:
            _touched.clear()  # bounded; a forgotten key is only noted once more
        _touched[key_id] = mono
    db.api_keys.update_one({"_id": key_id}, {"$set": {"last_used_at": clock.now(), "last_used_from": address or ""}})


def _forget(key_id: str) -> None:
    with _cache_lock:
        for k in [k for k in _cache if k[1] == key_id]:
            _cache.pop(k, None)
