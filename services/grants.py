"""Free credit given to many customers at once, voided, and what became of it.

- **CSV grants**: `preview_csv` checks every line of an upload with THE checks of an admin credit
  (services.wallet.review_credit) and names the batch after its content; `apply` posts the lines that
  passed, each under its own key (`grant:<batch>:<line>`), so a line is credited once however often the
  batch is applied, and an upload of the same file is the same batch.
- **Void**: `void` takes the unspent remainder of one grant (a promotional or manual lot) out of the
  wallet as one `void` entry (services.ledger.expiry), audited with the admin's reason.
- **Breakage**: `breakage` reads the daily rollups' `grants` counters: per month and campaign, what was
  granted, spent, expired and voided (docs/ledger.md, "Lots").
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date

from services import auditlog, checks, clock, ledger, wallet
from services.errors import InvalidInput, NotFound, WalletError

COLUMNS = ("username", "amount", "expires_at", "campaign", "reason")
MAX_LINES = 5000
MAX_CHARS = 512 * 1024
MAX_MONTHS = 36


@dataclass(frozen=True)
class GrantLine:
    line: int                      # the line number in the file (the header is line 1)
    review: wallet.CreditReview


@dataclass(frozen=True)
class GrantBatch:
    key: str                       # names the batch after its content: the same upload is the same batch
    category: str
    lines: tuple[GrantLine, ...]

    @property
    def good(self) -> tuple[GrantLine, ...]:
        return tuple(g for g in self.lines if g.review.ok)

    @property
    def total(self) -> int:
        return sum(g.review.amount or 0 for g in self.good)


def preview_csv(db, text, *, category: str = "promo_credit", reason: str = "", expires_at=None,
                campaign: str = "") -> GrantBatch:
    """Every line of a CSV (`username,amount` and optionally `expires_at`, `campaign`, `reason`; blank cells
    take the form's values) checked as an admin credit would be. Writes nothing. InvalidInput for a file
    that is not such a CSV."""
    if category not in wallet.GRANT_CATEGORIES:
        raise InvalidInput("A list grants promotional or manual credit.")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("The file is empty.")
    if len(text) > MAX_CHARS:
        raise InvalidInput(f"The file is larger than {MAX_CHARS // 1024} KiB; split it.")
    try:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as exc:   # a NUL byte, a field past the reader's limit
        raise InvalidInput(f"The file is not readable as CSV: {exc}.") from None
    header = [h.strip().lower() for h in rows[0]]
    if "username" not in header or "amount" not in header or set(header) - set(COLUMNS):
        raise InvalidInput(f"The first line names the columns: username, amount and optionally "
                           f"{', '.join(COLUMNS[2:])}.")
    if len(rows) - 1 > MAX_LINES:
        raise InvalidInput(f"At most {MAX_LINES} lines per file.")
    defaults = {"expires_at": expires_at or "", "campaign": campaign or "", "reason": reason or ""}
    lines = []
    for i, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        cell = dict(zip(header, (c.strip() for c in row), strict=False))  # short rows: blank cells
        pick = {k: cell.get(k) or defaults[k] for k in defaults}
        lines.append(GrantLine(i, wallet.review_credit(db, user_id=cell.get("username", ""),
                                                       amount=cell.get("amount", ""), category=category,
                                                       reason=pick["reason"], expires_at=pick["expires_at"],
                                                       campaign=pick["campaign"])))
    if not lines:
        raise InvalidInput("The file has no lines to grant.")
    digest = hashlib.sha256("\x1f".join([category, text, str(expires_at or ""), campaign or "",
                                         reason or ""]).encode()).hexdigest()[:20]
    return GrantBatch(digest, category, tuple(lines))


def apply(db, batch: GrantBatch, *, admin: str) -> list[dict]:
    """Post every line that passed the preview, once per line (a repeat returns the first credit).
    Returns one result per line: {line, username, amount_paise, entry_id or error}."""
    out = []
    for g in batch.lines:
        r = g.review
        row = {"line": g.line, "username": r.user_id, "amount_paise": r.amount, "entry_id": None, "error": None}
        if not r.ok:
            row["error"] = next(iter(r.problems.values())).message
        else:
            try:
                row["entry_id"] = wallet.post_review(db, r, admin=admin, key=f"grant:{batch.key}:{g.line}")["_id"]
            except WalletError as exc:   # e.g. its expiry passed between the preview and now
                row["error"] = exc.message
        out.append(row)
    return out


def grants_of(db, user_id: str) -> tuple[ledger.LotView, ...]:
    """A customer's grants with something left (what an admin may void)."""
    return tuple(v for v in wallet.lots(db, user_id) if v.promotional)


def void(db, *, admin: str, user_id: str, lot: int, reason: str) -> dict:
    """Void the unspent remainder of one grant, with a reason (audited once per grant). Returns
    {lot, amount, held, entry}: `amount` is its remainder now, `held` what calls in progress hold of that
    (they may still spend it; what they release leaves when they end, as the `entry`)."""
    checks.text(reason.strip() if isinstance(reason, str) else reason, what="The reason", most=300, least=3)
    res = ledger.void_lot(db, user_id, lot)
    if res is None:
        raise NotFound("That grant has nothing left to void (spent, expired or voided already).")
    auditlog.record_once(db, f"void:{user_id}:{lot}", actor=admin, action="void_credit", target=user_id,
                         amount=res["amount"], reason=reason.strip(), lot=lot)
    return res


# ------------------------------------------------------------------------------------------ breakage

BREAKAGE_FIELDS = ("granted", "spent", "expired", "voided")


def breakage(db, first: date, last: date) -> list[dict]:
    """Per business month and campaign in [first, last]: paise of free credit granted, spent, expired and
    voided, recounted from every wallet's daily rollups (O(customers x days): staff pages read the staff
    views' day totals instead, services.reports.breakage; this is their check). Rows sorted by month, then
    campaign."""
    check_months(first, last)
    return breakage_of((day, vals.get("grants") or {}) for _uid, day, vals in
                       ledger.days_across(db, first.replace(day=1).isoformat(), last.isoformat(), {"grants": 1}))


def check_months(first: date, last: date) -> None:
    if not isinstance(first, date) or not isinstance(last, date) or first > last:
        raise InvalidInput("Pick a first and a last month, in order.")
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise InvalidInput(f"Pick at most {MAX_MONTHS} months.")


def breakage_of(day_grants) -> list[dict]:
    """The breakage rows of (ISO day, {campaign tag: {granted, spent, expired, voided}}) pairs."""
    rows: dict[tuple[str, str], dict] = {}
    for day, by_tag in day_grants:
        for tag, g in by_tag.items():
            r = rows.setdefault((day[:7], tag), {"month": day[:7], "campaign": campaign_name(tag),
                                                  **{f"{k}_paise": 0 for k in BREAKAGE_FIELDS}})
            for k in BREAKAGE_FIELDS:
                r[f"{k}_paise"] += int(g.get(k, 0))
    return [rows[k] for k in sorted(rows)]


def campaign_name(tag: str) -> str:
    return "(no campaign)" if tag == "_" else tag


def breakage_totals(rows: list[dict]) -> dict:
    """Each figure summed over the rows, and the breakage rate: what expired or was voided of what was
    granted (None before anything was granted)."""
    tot = {f"{k}_paise": sum(r[f"{k}_paise"] for r in rows) for k in BREAKAGE_FIELDS}
    gone = tot["expired_paise"] + tot["voided_paise"]
    tot["breakage_percent"] = round(100 * gone / tot["granted_paise"], 1) if tot["granted_paise"] else None
    return tot


def month_range(first: str, last: str | None = None) -> tuple[date, date]:
    """(first day of `first`, last day of `last`) from `YYYY-MM` strings (InvalidInput otherwise)."""
    try:
        a = date.fromisoformat(f"{first}-01")
        b = date.fromisoformat(f"{last or first}-01")
        nxt = date(b.year + (b.month == 12), b.month % 12 + 1, 1)
    except (TypeError, ValueError):   # ValueError also for the month after 9999-12
        raise InvalidInput("A month looks like 2026-12.") from None
    return a, date.fromordinal(nxt.toordinal() - 1)


def this_year() -> tuple[date, date]:
    """The last twelve business months, this one included."""
    today = clock.today()
    start = date(today.year - (today.month < 12), today.month % 12 + 1, 1)
    return start, today
