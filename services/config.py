"""The one configuration of every process (dashboard, API, worker, `make run`): read here and only here.

Each value comes from the environment, else `.streamlit/secrets.toml` (upper-case name at the top level,
or its short name in a section: `[razorpay] key_id = ...`), else its default. `get()` is read on every
call, cheaply: the environment is a dict lookup and the TOML file is parsed again only when its mtime
changes, so operators (and tests) can change either at run time. services/ stays free of streamlit:
the file is read with tomllib, not st.secrets.
"""
from __future__ import annotations

import os
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The offline Razorpay sandbox's own keys (sandbox/razorpay_server.py uses the same defaults).
SANDBOX_KEYS = {"key_id": "rzp_test_sandbox", "key_secret": "sandbox_secret",
                "webhook_secret": "sandbox_webhook_secret"}


@dataclass(frozen=True)
class Razorpay:
    mode: str                 # live | test | sandbox | off
    key_id: str
    key_secret: str
    webhook_secrets: tuple[str, ...]   # current first; older ones still verify retries of older events
    base_url: str | None      # None: Razorpay itself
    timeout: int | None       # seconds for one SDK call; None: services.payments.gateway's default

    @property
    def webhook_secret(self) -> str:
        return self.webhook_secrets[0] if self.webhook_secrets else ""


@dataclass(frozen=True)
class Smtp:
    host: str                 # "" = no server configured: `make run` starts the local sink
    port: int
    tls: str                  # starttls | ssl | none
    user: str
    password: str
    sender: str
    sink_url: str             # the local sink's HTTP endpoint (what it received), "" if none
    sink_port: int            # the sink's SMTP port under `make run` (its HTTP port the next); 0: free ones


@dataclass(frozen=True)
class Config:
    data_dir: Path
    mongodb_uri: str
    mongodb_db: str
    razorpay: Razorpay
    public_url: str           # where Razorpay sends the payer back (the dashboard)
    cookie_key: str           # signs the dashboard's sign-in cookie ("" = not configured)
    admin_user: str
    admin_password: str
    demo_password: str        # fixed demo passwords (tests); "" = random ones
    claim_grace_seconds: int  # a ledger key claimed on another host is adopted after this long
    api_token_ttl_minutes: int
    api_threads: int
    api_workers: int          # uvicorn worker processes of the API (default: the machine's cores)
    sqlite_sync: str          # the embedded engine's SQLite synchronous mode: normal (default) | full
    worker_interval_seconds: float
    port: int
    api_port: int
    sandbox_port: int
    secrets_file: Path
    smtp: Smtp                # where alert e-mails go (services.alerts)
    webhook_private_ok: bool  # customer webhooks may point at loopback/private addresses (development)
    predebit_notice_hours: float  # auto-recharge: hours between the pre-debit notice and the debit (25)
    business_tz: str          # days, months and what people read (storage stays UTC): services.clock
    dsc_file: str = ""        # the business's DSC, a PKCS#12 file: every document PDF is signed with it
    dsc_password: str = ""    # its password (secrets.toml or the environment, never the settings)


# name -> (environment variable, default). The same upper-case name is looked up in secrets.toml.
_PLAIN = {
    "mongodb_uri": ("MONGODB_URI", ""),
    "mongodb_db": ("MONGODB_DB", "wallet"),
    "public_url": ("WALLET_PUBLIC_URL", ""),
    "cookie_key": ("WALLET_COOKIE_KEY", ""),
    "admin_user": ("WALLET_ADMIN_USER", ""),
    "admin_password": ("WALLET_ADMIN_PASSWORD", ""),
    "demo_password": ("WALLET_DEMO_PASSWORD", ""),
    "business_tz": ("WALLET_BUSINESS_TZ", "Asia/Kolkata"),
    "sqlite_sync": ("WALLET_SQLITE_SYNC", "normal"),
    "dsc_file": ("WALLET_DSC_FILE", ""),
    "dsc_password": ("WALLET_DSC_PASSWORD", ""),
}
_INTS = {  # name -> (variable, default, smallest allowed)
    "claim_grace_seconds": ("WALLET_CLAIM_GRACE_SECONDS", 300, 0),
    "api_token_ttl_minutes": ("API_TOKEN_TTL_MINUTES", 1440, 1),
    "api_threads": ("API_THREADS", 8, 1),
    "api_workers": ("API_WORKERS", os.cpu_count() or 1, 1),
    "port": ("PORT", 8501, 1),
    "api_port": ("API_PORT", 8800, 1),
    "sandbox_port": ("SANDBOX_PORT", 8900, 1),
}

# secrets.toml names that differ from the variable: the documented top-level `cookie_key = "..."`.
_TOML_ALIASES = {"WALLET_COOKIE_KEY": "COOKIE_KEY"}

_toml_lock = threading.Lock()
_toml_cache: dict = {}


def secrets_file() -> Path:
    return Path(os.environ.get("WALLET_SECRETS_FILE") or ROOT / ".streamlit" / "secrets.toml")


def _toml(path: Path) -> dict:
    """secrets.toml flattened to UPPER_NAME -> text ([razorpay] key_id becomes RAZORPAY_KEY_ID)."""
    try:
        stamp = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return {}
    with _toml_lock:
        if _toml_cache.get("stamp") != stamp:
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                data = {}
            flat: dict[str, str] = {}
            for k, v in data.items():
                if isinstance(v, dict):
                    for k2, v2 in v.items():
                        if isinstance(v2, (str, int)) and not isinstance(v2, bool):
                            flat.setdefault(f"{k}_{k2}".upper(), str(v2).strip())
                elif isinstance(v, (str, int)) and not isinstance(v, bool):
                    flat[k.upper()] = str(v).strip()
            _toml_cache.update(stamp=stamp, values=flat)
        return _toml_cache["values"]


def _lookup(name: str, toml: dict) -> str:
    val = (os.environ.get(name) or "").strip()
    return val or toml.get(name, "") or toml.get(_TOML_ALIASES.get(name, ""), "")


def _int(text: str, default: int, low: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        return default
    return max(low, value)


def _hours(text: str, default: float) -> float:
    # Hours, fractions allowed: tests shorten the 25-hour notice to seconds (0.0005 h = 1.8 s).
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    return value if 0 <= value <= 24 * 60 else default


def _secret_list(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _sandbox(url: str, timeout: int | None) -> Razorpay:
    # Real keys in secrets.toml must never be sent to a local fake: only the environment counts here.
    env = {k: (os.environ.get(f"RAZORPAY_{k.upper()}") or "").strip() or v for k, v in SANDBOX_KEYS.items()}
    return Razorpay("sandbox", env["key_id"], env["key_secret"], _secret_list(env["webhook_secret"]), url, timeout)


def _razorpay(toml: dict) -> Razorpay:
    def get(short: str) -> str:
        return _lookup(f"RAZORPAY_{short.upper()}", toml)

    timeout = _int(get("timeout"), 0, 0) or None
    if get("sandbox_url"):
        return _sandbox(get("sandbox_url").rstrip("/"), timeout)
    key_id, key_secret, secrets = get("key_id"), get("key_secret"), _secret_list(get("webhook_secret"))
    if not (key_id and key_secret):
        return Razorpay("off", "", "", secrets, None, timeout)
    return Razorpay("live" if key_id.startswith("rzp_live_") else "test", key_id, key_secret, secrets,
                    get("base_url").rstrip("/") or None, timeout)


def _smtp(toml: dict) -> Smtp:
    def get(short: str) -> str:
        return _lookup(f"SMTP_{short.upper()}", toml)

    tls = get("tls").lower() or "starttls"
    host = get("host")
    return Smtp(host=host, port=_int(get("port"), 465 if tls == "ssl" else 587, 1),
                tls=tls if tls in ("starttls", "ssl", "none") else "starttls", user=get("user"),
                password=get("password"), sender=get("sender") or "Wallet alerts <alerts@localhost>",
                sink_url=get("sink_url").rstrip("/"), sink_port=_int(get("sink_port"), 0, 0))


def get() -> Config:
    """The configuration as it stands now."""
    path = secrets_file()
    toml = _toml(path)
    # Any: each is spread into the Config fields of its name, of the type the table gives it
    plain: dict[str, Any] = {name: _lookup(var, toml) or default for name, (var, default) in _PLAIN.items()}
    ints: dict[str, Any] = {name: _int(_lookup(var, toml), default, low) for name, (var, default, low) in _INTS.items()}
    try:
        interval = float(_lookup("WORKER_INTERVAL_SECONDS", toml) or 30)
    except ValueError:
        interval = 30.0
    data_dir = Path(_lookup("WALLET_DATA_DIR", toml) or ROOT / "data")
    notice = _hours(_lookup("WALLET_PREDEBIT_NOTICE_HOURS", toml), 25.0)
    if plain["sqlite_sync"].lower() not in ("normal", "full"):
        plain["sqlite_sync"] = "normal"
    plain["sqlite_sync"] = plain["sqlite_sync"].lower()
    if not plain["public_url"]:
        plain["public_url"] = f"http://127.0.0.1:{ints['port']}"
    return Config(data_dir=data_dir, razorpay=_razorpay(toml), worker_interval_seconds=max(0.05, interval),
                  secrets_file=path, smtp=_smtp(toml),
                  webhook_private_ok=_lookup("WALLET_WEBHOOK_PRIVATE_OK", toml).lower() in ("1", "true", "yes"),
                  predebit_notice_hours=notice, **plain, **ints)


LIVE_MIN_NOTICE_HOURS = 24.0  # RBI's e-mandate rule: the pre-debit notice reaches the customer 24 h ahead


def problems(cfg: Config | None = None) -> list[str]:
    """What makes this configuration unfit to start (`make run` and the worker refuse it, saying why).
    Test and sandbox keys may shorten the pre-debit notice (tests use seconds); live keys may not."""
    cfg = cfg or get()
    out = []
    if cfg.razorpay.mode == "live" and cfg.predebit_notice_hours < LIVE_MIN_NOTICE_HOURS:
        out.append(f"WALLET_PREDEBIT_NOTICE_HOURS is {cfg.predebit_notice_hours:g}, but with live Razorpay keys "
                   f"the pre-debit notice must be at least {LIVE_MIN_NOTICE_HOURS:g} hours (RBI's rule for "
                   "recurring debits). Remove the setting (25 hours) or raise it.")
    return out


def names() -> list[str]:
    """Every variable this module reads (for docs and the newcomer test's clean environment)."""
    out = [var for var, _ in _PLAIN.values()] + [var for var, _, _ in _INTS.values()]
    out += ["WALLET_DATA_DIR", "WALLET_SECRETS_FILE", "WORKER_INTERVAL_SECONDS", "WALLET_WEBHOOK_PRIVATE_OK",
            "WALLET_PREDEBIT_NOTICE_HOURS"]
    out += [f"RAZORPAY_{k}" for k in ("KEY_ID", "KEY_SECRET", "WEBHOOK_SECRET", "SANDBOX_URL", "BASE_URL",
                                      "TIMEOUT")]
    out += [f"SMTP_{k}" for k in ("HOST", "PORT", "TLS", "USER", "PASSWORD", "SENDER", "SINK_URL", "SINK_PORT")]
    return out

