"""What a user and an admin do with a wallet: read the balance, grant audited credits; and the
low-balance rule."""
from __future__ import annotations

from dataclasses import dataclass

from services import checks, clock, ledger, settings, users
from services.errors import InvalidInput, NotFound
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


def balance(db, user_id: str) -> Balance:
    w = ledger.get_wallet(db, user_id)
    return Balance(user_id, w.balance, w.held, w.available, settings.get(db)["low_balance_paise"],
                   users.role_of(db, user_id), w.due)


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


def admin_credit(db, *, admin: str, user_id: str, amount, category: str, reason: str, key: str) -> dict:
    """A manual, promotional or refund credit from rupees, with a reason; audited, once per key."""
    if category not in ADMIN_CATEGORIES:
        raise InvalidInput(f"Category must be one of {', '.join(ADMIN_CATEGORIES)}.")
    reason = reason.strip() if isinstance(reason, str) else ""
    if not 3 <= len(reason) <= 300:
        raise InvalidInput("A reason of 3 to 300 characters is required.")
    checks.text(reason, what="The reason", most=300, lines=True)  # no control or direction characters
    if users.role_of(db, user_id) is None:
        raise NotFound(f"No user {user_id!r}.")
    paise = parse_rupees(amount, maximum=settings.get(db)["max_amount_paise"])
    entry = ledger.post(db, user_id, key=f"admin:{key}", type=ledger.CREDIT, category=category,
                        amount=paise, source=f"admin:{admin}", note=reason,
                        meta={"admin": admin, "reason": reason})
    # The ledger entry already names the admin and the reason; this log makes admin actions listable.
    db.audit_log.update_one({"_id": entry["_id"]},
                            {"$setOnInsert": {"at": clock.now(), "actor": admin, "action": category,
                                              "target": user_id, "amount": paise, "reason": reason}},
                            upsert=True)
    return entry
