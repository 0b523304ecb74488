"""What a user and an admin do with a wallet: read the balance, its lots (what is left of each credit and
when it expires) and the balance at a past date; grant audited credits (free credit with an expiry and a
campaign); choose the burn order; and the low-balance rule."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from services import auditlog, checks, clock, ledger, settings, users
from services.errors import InvalidAmount, InvalidInput, NotFound
from services.money import parse_rupees

ADMIN_CATEGORIES = ("manual_credit", "promo_credit", "refund")
GRANT_CATEGORIES = ("manual_credit", "promo_credit")   # free credit: may expire, may name a campaign
MAX_VALIDITY = timedelta(days=3660)


def is_low(available: int, threshold: int, role: str | None = "user") -> bool:
    """THE low-balance rule: a customer's spendable amount is below the threshold from settings. Staff
    wallets (admin, analyst) sit at zero by design and are never low; an id without a user counts as
    a customer."""
    return role not in users.STAFF_ROLES and available < threshold


@dataclass(frozen=True)
class Balance:
    user_id: str
    balance: int
    held: int
    available: int
    low_threshold: int
    role: str | None = "user"
    due: int = 0  # owed from a refund of money already spent: the next credits pay it first
    frozen: int = 0  # in lots past their expiry, leaving the wallet at the worker's next sweep

    @property
    def low(self) -> bool:
        """The low-balance warning (`is_low`)."""
        return is_low(self.available, self.low_threshold, self.role)


_LOOK_UP = object()


def balance(db, user_id: str, *, role=_LOOK_UP) -> Balance:
    """The wallet's numbers and the low-balance warning (`role`: the user's, when the caller has it)."""
    w = ledger.get_wallet(db, user_id)
    return Balance(user_id, w.balance, w.held, w.available, settings.get(db)["low_balance_paise"],
                   users.role_of(db, user_id) if role is _LOOK_UP else role, w.due, w.frozen)


def lots(db, user_id: str) -> tuple[ledger.LotView, ...]:
    """The wallet's live lots, in the order the business's burn rule spends them."""
    return ledger.in_spend_order(ledger.get_wallet(db, user_id).lots, ledger.burn_rule(db))


def balance_at(db, user_id: str, at: datetime) -> dict:
    """The balance after every entry at or before `at`, and the lots as they stood (from the ledger)."""
    if not isinstance(at, datetime):
        raise InvalidInput("Give a date and time, e.g. 2026-11-30T23:59:59+05:30.")
    if at.tzinfo is None:
        at = at.replace(tzinfo=clock.zone())   # a wall-clock time people type is in the business zone
    if at > clock.now() + timedelta(minutes=1):
        raise InvalidInput("That time has not come yet.")
    return ledger.balance_at(db, user_id, at)


def burn_rule(db) -> str:
    return ledger.burn_rule(db)


def burn_rule_label(db) -> str:
    return ledger.BURN_RULES[ledger.burn_rule(db)]


def set_burn_rule(db, rule: str, *, by: str) -> str:
    """Switch the order in which every later debit and hold draws on lots (audited). Returns the old one."""
    old = ledger.set_burn_rule(db, rule, by=by)
    if old != rule:
        auditlog.record(db, by, "burn_rule", "lots", f"{old} -> {rule}")
    return old


def paid_lot(db) -> dict | None:
    """The lot a recharge creates: none for paid money, unless the business sets a validity (the setting
    `paid_validity_days`): then it expires at 23:59 business time that many days after the recharge."""
    days = settings.get(db)["paid_validity_days"]
    return {"expires_at": parse_expiry(clock.today() + timedelta(days=days))} if days else None


def parse_expiry(value, *, now: datetime | None = None) -> datetime | None:
    """THE rule for when free credit expires, to the minute in the business zone: a date means 23:59 of
    that day; a date and time without a zone is the business zone's wall clock. None/"" for no expiry.
    Must lie ahead, at most ten years."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput("An expiry looks like 2027-01-15 or 2027-01-15T18:30 (business time) or "
                               "2027-01-15T18:30+05:30.") from None
    try:
        if isinstance(value, datetime):
            t = value if value.tzinfo is not None else value.replace(tzinfo=clock.zone())
        elif isinstance(value, date):
            t = clock.at_local(value, time(23, 59))
        else:
            raise InvalidInput("An expiry must be a date or a date and time.")
        t = clock.as_utc(t).replace(second=0, microsecond=0)
    except OverflowError:   # a time at the very edge of the calendar, shifted to UTC
        raise InvalidInput("That expiry is out of range.") from None
    now = now or clock.now()
    if t <= now:
        raise InvalidInput("That expiry is already past; pick a later minute.")
    if t - now > MAX_VALIDITY:
        raise InvalidInput("An expiry may lie at most ten years ahead.")
    return t


def amounts_due(db) -> list[ledger.Due]:
    """Wallets that owe an amount due (refunds of money already spent), largest first: for admins."""
    return ledger.amounts_due(db)


def collect_dues(db) -> int:
    """The worker's step: an amount due is paid from money that became available since (a call's hold
    released after the refund came). Returns paise collected."""
    total = 0
    for d in ledger.amounts_due(db):
        if d.balance > d.held:
            entry = ledger.pay_due(db, d.user_id)
            total += int(entry["amount"]) if entry else 0
    return total


@dataclass(frozen=True)
class CreditReview:
    """An admin credit as it would be posted, every value checked; what is known so far while some are not
    (`problems`: field -> typed error, for user_id, amount, category, reason)."""
    user_id: str
    name: str | None
    balance: int | None
    amount: int | None
    category: str
    reason: str
    problems: dict = field(default_factory=dict)
    expires_at: datetime | None = None
    campaign: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def review_credit(db, *, user_id, amount, category: str, reason, expires_at=None, campaign="") -> CreditReview:
    """THE checks of an admin credit, all at once (a form shows them as they are typed; `admin_credit`
    raises the first). The user's name and balance are filled in as soon as the user is known. Free
    credit (promotional, manual) may carry an expiry (`parse_expiry`) and a campaign name."""
    problems: dict = {}
    if category not in ADMIN_CATEGORIES:
        problems["category"] = InvalidInput(f"Category must be one of {', '.join(ADMIN_CATEGORIES)}.")
    expiry, campaign = _grant_terms(category, expires_at, campaign, problems)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not 3 <= len(reason) <= 300:
        problems["reason"] = InvalidInput("A reason of 3 to 300 characters is required.")
    else:
        try:
            checks.text(reason, what="The reason", most=300, lines=True)  # no control or direction characters
        except InvalidInput as exc:
            problems["reason"] = exc
    uid = user_id.strip().lower() if isinstance(user_id, str) else ""
    name = balance_now = paise = None
    try:
        if not uid:
            raise InvalidInput("Enter the customer's username.")
        name = users.get(db, uid)["name"]
        balance_now = ledger.get_wallet(db, uid).balance
    except (InvalidInput, NotFound) as exc:
        problems["user_id"] = exc
    try:
        paise = parse_rupees(amount, maximum=settings.get(db)["max_amount_paise"])
    except InvalidAmount as exc:
        problems["amount"] = exc
    return CreditReview(uid, name, balance_now, paise, category, reason, problems, expiry, campaign)


def _grant_terms(category, expires_at, campaign, problems: dict) -> tuple[datetime | None, str]:
    expiry = None
    campaign = campaign.strip().lower() if isinstance(campaign, str) else campaign
    if (expires_at not in (None, "") or campaign) and category not in GRANT_CATEGORIES:
        problems["expires_at"] = InvalidInput("Only promotional or manual credit may expire or name a campaign.")
        return None, ""
    try:
        expiry = parse_expiry(expires_at)
    except InvalidInput as exc:
        problems["expires_at"] = exc
    try:
        ledger.check_campaign(campaign or "")
    except InvalidInput as exc:
        problems["campaign"] = exc
        campaign = ""
    return expiry, campaign or ""


def admin_credit(db, *, admin: str, user_id: str, amount, category: str, reason: str, key: str,
                 expires_at=None, campaign: str = "") -> dict:
    """A manual, promotional or refund credit from rupees, with a reason (free credit optionally with an
    expiry and a campaign); audited, once per key."""
    review = review_credit(db, user_id=user_id, amount=amount, category=category, reason=reason,
                           expires_at=expires_at, campaign=campaign)
    if not review.ok:
        raise next(iter(review.problems.values()))
    return post_review(db, review, admin=admin, key=key)


def post_review(db, review: CreditReview, *, admin: str, key: str) -> dict:
    """Post a checked credit (`review.ok`) once per key, audited."""
    assert review.amount is not None  # ok: every value is known
    lot = {"expires_at": review.expires_at, "campaign": review.campaign} if review.category in GRANT_CATEGORIES \
        else None
    entry = ledger.post(db, review.user_id, key=f"admin:{key}", type=ledger.CREDIT, category=review.category,
                        amount=review.amount, source=f"admin:{admin}", note=review.reason,
                        meta={"admin": admin, "reason": review.reason}, lot=lot)
    # The ledger entry already names the admin and the reason; this log makes admin actions listable.
    extra = {"expires_at": review.expires_at, "campaign": review.campaign} if lot else {}
    auditlog.record_once(db, entry["_id"], actor=admin, action=review.category, target=review.user_id,
                         amount=review.amount, reason=review.reason, **extra)
    return entry
