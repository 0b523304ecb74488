"""The audit log: every administrator action the system records, as one list people can read and filter
(who, when, what, why), and its CSV.

Each action is recorded where it happens; this module reads them all back the same way:
- `audit_log`: manual, promotional and refund credits (services.wallet), and any other action written
  there (`actor`, `action`, `target`, `at`, optional `amount`, `reason`, `detail`);
- `settings_history`: settings, call rates, plans, customers' terms and business details, with the
  value before and after and when it takes effect; withdrawn changes;
- `refund_requests`: self-serve refunds an administrator approved or rejected;
- `documents`: credit notes;
- `users`: password resets by an administrator;
- the members and API keys of customer accounts (services.accounts: who, when, from which address).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services import accounts, auditlog, clock, csvout, documents, names, pricing, rates, settings, users
from services.payments import refund_requests
from services.errors import InvalidInput
from services.money import format_rupees

KINDS = {"credit": "Credits", "setting": "Settings, rates and plans", "refund": "Refund decisions",
         "credit_note": "Credit notes", "password": "Password resets", "team": "Members and API keys",
         "other": "Other"}
ACTIONS = {"manual_credit": "Manual credit", "promo_credit": "Promotional credit", "refund": "Refund credit",
           "void_credit": "Voided the rest of a grant"}
COLUMNS = ("at", "actor", "kind", "action", "target", "what", "why", "ref")
_SCHEDULED = timedelta(minutes=1)  # a change taking effect later than this after it was made was scheduled


@dataclass(frozen=True)
class Query:
    start: datetime | None = None
    end: datetime | None = None
    actor: str | None = None
    kind: str | None = None
    text: str = ""  # found in the target, what or why (any case)


def query(*, start=None, end=None, actor=None, kind=None, text="") -> Query:
    """Checked filters (InvalidInput for a bad one)."""
    for t in (start, end):
        if t is not None and not isinstance(t, datetime):
            raise InvalidInput("Dates must be dates.")
    if start is not None and end is not None and start >= end:
        raise InvalidInput("The start date is after the end date.")
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"Kind must be one of {', '.join(KINDS)}.")
    if not isinstance(text, str) or len(text) > 100:
        raise InvalidInput("Search with at most 100 characters.")
    return Query(clock.as_utc(start), clock.as_utc(end), actor or None, kind, text.strip().lower())


def entries(db, q: Query = Query()) -> list[dict]:
    """Every recorded action matching `q`, newest first: dicts with COLUMNS (`at` a UTC datetime)."""
    rows = [r for source in (_credits, _settings, _refunds, _credit_notes, _passwords) for r in source(db, q)]
    rows = [r for r in rows if _matches(r, q)]
    rows.sort(key=lambda r: (r["at"], r["ref"]), reverse=True)
    return rows


def actors(rows: list[dict]) -> list[str]:
    return sorted({r["actor"] for r in rows if r["actor"]})


def _matches(r: dict, q: Query) -> bool:
    if r["at"] is None or (q.start and r["at"] < q.start) or (q.end and r["at"] >= q.end):
        return False
    if (q.actor and r["actor"] != q.actor) or (q.kind and r["kind"] != q.kind):
        return False
    return not q.text or any(q.text in str(r[k]).lower() for k in ("target", "what", "why", "action"))


def _row(at, actor, kind, action, target, what, why, ref) -> dict:
    return {"at": clock.as_utc(at), "actor": actor or "", "kind": kind, "action": action, "target": target or "",
            "what": what or "", "why": why or "", "ref": str(ref)}


# ------------------------------------------------------------------------------------------ sources

def _credits(db, q: Query):
    if q.kind not in (None, "credit", "other", "team"):
        return
    for d in auditlog.between(db, q.start, q.end):
        if d.get("action") in accounts.trail.ACTIONS:
            yield _team_row(d)
            continue
        kind = "credit" if d.get("action") in ACTIONS else "other"
        what = format_rupees(int(d["amount"])) if d.get("amount") is not None else d.get("detail", "")
        yield _row(d.get("at"), d.get("actor"), kind, names.label(ACTIONS, d.get("action")), d.get("target"), what,
                   d.get("reason"), d["_id"])


def _team_row(d: dict) -> dict:
    """A member or API key change in a customer account: the account, and where it came from."""
    where = f" (from {d['address']})" if d.get("address") else " (from the dashboard)"
    return _row(d.get("at"), d.get("actor"), "team", accounts.trail.ACTIONS[d["action"]],
                f"{d.get('account', '')}: {d.get('target', '')}", (d.get("detail") or "") + where, "", d["_id"])


def _settings(db, q: Query):
    if q.kind not in (None, "setting"):
        return
    for h in settings.changes_between(db, q.start, q.end):
        s = setting_row(h)
        yield _row(h["at"], h.get("by"), "setting", s["action"], s["scope"],
                   f"{s['setting']}: {s['old']} → {s['new']}" + s["from"], "", h["_id"])


def _refunds(db, q: Query):
    if q.kind not in (None, "refund"):
        return
    for r in refund_requests.decided(db):
        rejected = r.get("status") == "rejected"
        yield _row(r.get("decided_at") or r.get("updated_at"), r["decided_by"], "refund",
                   "Rejected a refund" if rejected else "Approved a refund", r.get("user_id"),
                   format_rupees(int(r.get("amount_paise") or 0)), r.get("reason") if rejected else "", r["_id"])


def _credit_notes(db, q: Query):
    if q.kind not in (None, "credit_note"):
        return
    for d in documents.credit_notes(db):
        total = int((d.get("amounts") or {}).get("total", 0))
        yield _row(d.get("issued_at"), d.get("by"), "credit_note", "Issued a credit note", d.get("user_id"),
                   f"{d['_id']} reverses {d.get('refers_to', '')} ({format_rupees(total)})", d.get("reason"), d["_id"])


def _passwords(db, q: Query):
    if q.kind not in (None, "password"):
        return
    for username, by, at in users.password_resets(db):
        yield _row(at, by, "password", "Reset a password", username, "A new password was set", "", f"pw:{username}")


# ------------------------------------------------------------------------------ a settings change

def setting_row(h: dict) -> dict:
    """A settings-history record as people read it: action, scope, setting, old, new, `from` (when a
    change was scheduled ahead)."""
    scope, name = h["scope"], h["name"]
    if scope == "plans":
        setting, where = f"Plan {name}", "All customers on it"
    else:
        setting = names.label(names.SETTING, name)
        where = {"global": "All customers", "business": "Business details"}.get(scope, scope.removeprefix("user:"))
    at, eff = clock.as_utc(h["at"]), clock.as_utc(h.get("effective_at")) or clock.as_utc(h["at"])
    later = eff - at > _SCHEDULED
    action = "Withdrew a scheduled change" if h.get("cancels") else (
        "Scheduled a change" if later else "Changed a setting")
    return {"action": action, "scope": where, "setting": setting, "old": describe_value(name, h.get("old")),
            "new": describe_value(name, h.get("new")),
            "from": f" (from {clock.fmt(eff, '%H:%M on %d %b %Y')} {clock.abbr()})" if later else ""}


def describe_value(name: str, v) -> str:
    """A setting's value in words: rupees for paise, a plan's terms, yes/no, a percentage."""
    if v is None:
        return "standard" if name == "plan" else "—"
    if isinstance(v, dict):
        return rates.describe(pricing.Tariff(**v))
    if name.endswith("_paise"):
        return format_rupees(int(v))
    if name == "gst_rate_bp":
        return f"{int(v) / 100:g}%"
    if name == "refund_approval_required":
        return "yes" if int(v) else "no"
    return str(v) if v != "" else "(empty)"


# ------------------------------------------------------------------------------------------- CSV

def csv_lines(rows: list[dict]):
    """The rows as CSV lines (times with the business zone's offset; formula-safe cells)."""
    yield from csvout.csv_rows(rows, columns=COLUMNS,
                                cells=lambda r: [clock.iso(r["at"]), r["actor"], KINDS.get(r["kind"], r["kind"]),
                                                 r["action"], r["target"], r["what"], r["why"], r["ref"]])
