"""What a user and an admin do with a wallet: read the balance, grant audited credits; and the
low-balance rule."""
from __future__ import annotations

from dataclasses import dataclass, field

from services import auditlog, checks, ledger, settings, users
from services.errors import InvalidAmount, InvalidInput, NotFound
from services.money import parse_rupees

ADMIN_CATEGORIES = ("manual_credit", "promo_credit", "refund")


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

    @property
    def low(self) -> bool:
        """The low-balance warning (`is_low`)."""
        return is_low(self.available, self.low_threshold, self.role)


_LOOK_UP = object()


def balance(db, user_id: str, *, role=_LOOK_UP) -> Balance:
    """The wallet's numbers and the low-balance warning (`role`: the user's, when the caller has it)."""
    w = ledger.get_wallet(db, user_id)
    return Balance(user_id, w.balance, w.held, w.available, settings.get(db)["low_balance_paise"],
                   users.role_of(db, user_id) if role is _LOOK_UP else role, w.due)


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

    @property
    def ok(self) -> bool:
        return not self.problems


def review_credit(db, *, user_id, amount, category: str, reason) -> CreditReview:
    """THE checks of an admin credit, all at once (a form shows them as they are typed; `admin_credit`
    raises the first). The user's name and balance are filled in as soon as the user is known."""
    problems: dict = {}
    if category not in ADMIN_CATEGORIES:
        problems["category"] = InvalidInput(f"Category must be one of {', '.join(ADMIN_CATEGORIES)}.")
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
    return CreditReview(uid, name, balance_now, paise, category, reason, problems)


def admin_credit(db, *, admin: str, user_id: str, amount, category: str, reason: str, key: str) -> dict:
    """A manual, promotional or refund credit from rupees, with a reason; audited, once per key."""
    review = review_credit(db, user_id=user_id, amount=amount, category=category, reason=reason)
    if not review.ok:
        raise next(iter(review.problems.values()))
    assert review.amount is not None  # ok: every value is known
    entry = ledger.post(db, review.user_id, key=f"admin:{key}", type=ledger.CREDIT, category=category,
                        amount=review.amount, source=f"admin:{admin}", note=review.reason,
                        meta={"admin": admin, "reason": review.reason})
    # The ledger entry already names the admin and the reason; this log makes admin actions listable.
    auditlog.record_once(db, entry["_id"], actor=admin, action=category, target=review.user_id,
                         amount=review.amount, reason=review.reason)
    return entry
