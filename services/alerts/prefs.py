"""What a customer wants to hear about, and where: `alert_prefs/{user}`.

- up to three balance thresholds of their own (on top of the platform's, settings `low_balance_paise`);
- the runway alert: "about N days left", off at 0, default 2 days;
- e-mail addresses (none set: the account's own address), up to five, e.g. finance and ops;
- a webhook URL and its signing secret (made when the URL is first set, rotated on request).
A customer without a document has the defaults. Every change checks all of its input first and writes
nothing on bad input.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from services import checks, clock, config, settings, users
from services.alerts import addresses
from services.errors import InvalidInput, NotFound
from services.money import parse_rupees

MAX_THRESHOLDS = 3
MAX_EMAILS = 5
DEFAULT_RUNWAY_DAYS = 2
MAX_RUNWAY_DAYS = 60
MAX_URL = 500


@dataclass(frozen=True)
class Prefs:
    user_id: str
    thresholds: tuple[int, ...] = ()       # the customer's own, paise, highest first
    runway_days: int = DEFAULT_RUNWAY_DAYS  # 0: no runway alert
    emails: tuple[str, ...] = ()           # where alert e-mails go (the account's address by default)
    emails_set: bool = False               # False: `emails` is the account's address, not a choice
    webhook_url: str = ""
    webhook_secret: str = ""


def of(doc: dict | None, user_id: str, account_email: str = "") -> Prefs:
    """The preferences stored in `doc` (None: the defaults)."""
    doc = doc or {}
    chosen = doc.get("emails") is not None
    emails = doc["emails"] if chosen else [account_email] if account_email else []
    return Prefs(user_id, tuple(int(t) for t in doc.get("thresholds") or ()),
                 int(doc.get("runway_days", DEFAULT_RUNWAY_DAYS)), tuple(emails), chosen,
                 doc.get("webhook_url") or "", doc.get("webhook_secret") or "")


def get(db, user_id: str) -> Prefs:
    user = users.get(db, user_id)
    return of(db.alert_prefs.find_one({"_id": user_id}), user_id, user["email"])


def of_wallet(db, user_id: str) -> Prefs:
    """`get` for a wallet that may have no user behind it (then the defaults, and no address)."""
    try:
        email = users.get(db, user_id)["email"]
    except NotFound:
        email = ""
    return of(db.alert_prefs.find_one({"_id": user_id}), user_id, email)


def thresholds_of(db, p: Prefs) -> tuple[int, ...]:
    """Every balance threshold of the wallet, highest first: the platform's and the customer's."""
    return tuple(sorted({settings.get(db)["low_balance_paise"], *p.thresholds} - {0}, reverse=True))


def update(db, user_id: str, *, thresholds=None, runway_days=None, emails=None, webhook_url=None) -> Prefs:
    """Change what is given (None leaves a field as it is). `thresholds`: up to three amounts in rupees;
    `emails`: addresses (an empty list: no e-mail); `webhook_url`: "" removes the webhook."""
    users.get(db, user_id)  # NotFound before anything is checked or written
    sets: dict = {}
    if thresholds is not None:
        sets["thresholds"] = check_thresholds(db, thresholds)
    if runway_days is not None:
        sets["runway_days"] = checks.whole_number(runway_days, 0, MAX_RUNWAY_DAYS, what="Runway alert days")
    if emails is not None:
        sets["emails"] = check_emails(emails)
    if webhook_url is not None:
        sets["webhook_url"] = check_url(webhook_url)
        current = db.alert_prefs.find_one({"_id": user_id}, {"webhook_secret": 1}) or {}
        if sets["webhook_url"] and not current.get("webhook_secret"):
            sets["webhook_secret"] = new_secret()
    if sets:
        db.alert_prefs.update_one({"_id": user_id}, {"$set": dict(sets, updated_at=clock.now())}, upsert=True)
    return get(db, user_id)


def rotate_secret(db, user_id: str) -> Prefs:
    """A new webhook signing secret; deliveries from now on are signed with it."""
    if not get(db, user_id).webhook_url:
        raise InvalidInput("Set a webhook URL first.")
    db.alert_prefs.update_one({"_id": user_id}, {"$set": {"webhook_secret": new_secret(),
                                                          "updated_at": clock.now()}})
    return get(db, user_id)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def check_thresholds(db, amounts) -> list[int]:
    if not isinstance(amounts, (list, tuple)):
        raise InvalidInput("Thresholds must be a list of amounts in rupees.")
    if len(amounts) > 2 * MAX_THRESHOLDS:  # bounds the work before parsing
        raise InvalidInput(f"Set at most {MAX_THRESHOLDS} thresholds of your own.")
    cap = settings.get(db)["max_amount_paise"]
    paise = {parse_rupees(a, maximum=cap, what="Threshold") for a in amounts}
    if len(paise) > MAX_THRESHOLDS:
        raise InvalidInput(f"Set at most {MAX_THRESHOLDS} thresholds of your own.")
    return sorted(paise, reverse=True)


def check_emails(emails) -> list[str]:
    if not isinstance(emails, (list, tuple)):
        raise InvalidInput("E-mail addresses must be a list.")
    out: list[str] = []
    for given in emails:
        e = given.strip().lower() if isinstance(given, str) else given
        if not isinstance(e, str) or not users._EMAIL.match(e):  # the account e-mail rule, not a second one
            raise InvalidInput(f"{str(e)[:80]!r} is not an e-mail address.")
        if e not in out:
            out.append(e)
    if len(out) > MAX_EMAILS:
        raise InvalidInput(f"Give at most {MAX_EMAILS} e-mail addresses.")
    return out


def check_url(url) -> str:
    """"" (no webhook) or an http(s) URL with a host; a literal address must be one a webhook may reach
    (services.alerts.addresses). Where a name points is checked at each delivery
    (services.alerts.webhooks): it may resolve elsewhere later."""
    url = checks.text(url, what="Webhook URL", most=MAX_URL).strip()
    if url == "":
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is no number)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username and \
            not parts.password
    except ValueError:  # a port that is no number, a bracket left open
        ok = False
    if not ok:
        raise InvalidInput("Webhook URL must be an http:// or https:// address with a host (and no password).")
    ip = addresses.literal(parts.hostname)
    if ip is not None and not addresses.allowed(ip) and not config.get().webhook_private_ok:
        raise InvalidInput(addresses.REFUSED)
    return url
