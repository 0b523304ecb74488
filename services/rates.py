"""Rate plans and the tariff a customer's call gets: which plan, which rate, from when.

A plan is named terms: a per-minute rate, billing increments, a minimum billable duration and a fee for
unanswered or failed attempts (services.pricing owns what they cost). The built-in plan `standard` is
the original price: the global call rate (settings `call_rate_paise`), billed per second, no minimum, no
fee. Admins define other plans (`settings/plans`) and assign them per customer (`settings/user:{id}`,
name `plan`); a customer's own call rate, if an admin set one, replaces the rate of their plan. Every
change takes effect at a time the admin chooses (services.settings keeps the timelines and the audit),
so `upcoming` can tell a customer what changes ahead, and a call keeps the tariff in force when it started.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import partial

from services import clock, settings, users
from services.errors import InvalidInput, NotFound
from services.money import format_rupees, parse_rupees
from services.pricing import MAX_ATTEMPT_FEE_PAISE, MAX_RATE_PAISE, Tariff

STANDARD = "standard"
_PLAN_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_TERMS = ("rate_paise", "initial_seconds", "subsequent_seconds", "min_billable_seconds", "attempt_fee_paise")


# ---------------------------------------------------------------------------------------- tariffs

def tariff_for(db, user_id: str, at: datetime | None = None) -> Tariff:
    """The tariff of this user's call started at `at` (default now)."""
    return _tariff(_docs(db, user_id), at or clock.now())


def upcoming(db, user_id: str, *, limit: int = 5) -> list[dict]:
    """Changes of this user's tariff ahead: [{effective_at, tariff, description}], soonest first (a
    change that leaves the price as it is, is not listed)."""
    docs = _docs(db, user_id)
    g, u, p = docs
    now = clock.now()
    times = {e["at"] for e in settings.ahead(g, "call_rate_paise", now)}
    times |= {e["at"] for name in ("call_rate_paise", "plan") for e in settings.ahead(u, name, now)}
    times |= {e["at"] for name in (p.get("sched") or {}) for e in settings.ahead(p, name, now)}
    out, prev = [], _tariff(docs, now)
    for t in sorted(times):
        cur = _tariff(docs, t)
        if cur != prev:
            out.append({"effective_at": t, "tariff": cur, "description": describe(cur)})
        prev = cur
    return out[:limit]


def describe(t: Tariff) -> str:
    """`Rs. 10.00 per minute, billed per second` and the plan's other terms, for a customer."""
    steps = {(1, 1): "billed per second", (60, 60): "billed per started minute"}.get(
        (t.initial_seconds, t.subsequent_seconds))
    if steps is None:
        steps = (f"billed per {t.initial_seconds} s" if t.initial_seconds == t.subsequent_seconds else
                 f"first {t.initial_seconds} s, then per {t.subsequent_seconds} s")
    parts = [f"{format_rupees(t.rate_paise)} per minute", steps]
    if t.min_billable_seconds:
        parts.append(f"at least {t.min_billable_seconds} s per answered call")
    parts.append(f"{format_rupees(t.attempt_fee_paise)} per unanswered or failed attempt"
                 if t.attempt_fee_paise else "unanswered calls free")
    return ", ".join(parts)


def _docs(db, user_id: str) -> tuple[dict, dict, dict]:
    return settings.scope_doc(db, "global"), settings.scope_doc(db, f"user:{user_id}"), \
        settings.scope_doc(db, "plans")


def _tariff(docs: tuple[dict, dict, dict], t: datetime) -> Tariff:
    g, u, p = docs
    name = settings.value_at(u, "plan", t) or STANDARD
    terms = settings.value_at(p, name, t) if name != STANDARD else None
    if terms is None:  # the standard plan (or one that is not in force yet): the global rate, per second
        name, terms = STANDARD, {"rate_paise": None}
    own = settings.value_at(u, "call_rate_paise", t)
    rate = own or terms.get("rate_paise") or settings.value_at(g, "call_rate_paise", t,
                                                                settings.DEFAULTS["call_rate_paise"])
    rest = {k: int(terms[k]) for k in _TERMS[1:] if terms.get(k) is not None}
    return Tariff(rate_paise=int(rate), plan=name, **rest)


# ------------------------------------------------------------------------------------------ plans

def define_plan(db, name: str, *, rate, initial_seconds: int = 1, subsequent_seconds: int = 1,
                min_billable_seconds: int = 0, attempt_fee=0, by: str, at: datetime | None = None) -> dict:
    """Create or change a plan from `at` (default now). `rate` and `attempt_fee` are rupees (`"12.50"`).
    Returns the audit record. Calls already started keep the terms they started with."""
    name = check_plan_name(name)
    if name == STANDARD:
        raise InvalidInput("The standard plan is the global call rate, billed per second: change the global "
                           "rate instead.")
    rate_paise = parse_rupees(rate, maximum=MAX_RATE_PAISE, what="Plan rate")
    fee = parse_rupees(attempt_fee, maximum=MAX_ATTEMPT_FEE_PAISE, allow_zero=True, what="Attempt fee")
    t = Tariff(rate_paise, initial_seconds, subsequent_seconds, min_billable_seconds, fee, name)  # checks all
    terms = {k: getattr(t, k) for k in _TERMS}
    return settings.schedule(db, "plans", name, terms, by=by, at=at)


def list_plans(db) -> list[dict]:
    """Every plan in force now, standard first: [{name, tariff, description, ahead}] (`ahead`: its
    changes still to take effect)."""
    g, p = settings.scope_doc(db, "global"), settings.scope_doc(db, "plans")
    now = clock.now()
    std = _tariff((g, {}, p), now)
    out = [{"name": STANDARD, "tariff": std, "description": describe(std),
            "ahead": settings.ahead(g, "call_rate_paise", now)}]
    for name in sorted(p.get("sched") or {}):
        terms = settings.value_at(p, name, now)
        if terms is None:  # defined for a later time only
            continue
        t = Tariff(plan=name, **{k: int(terms[k]) for k in _TERMS})
        out.append({"name": name, "tariff": t, "description": describe(t), "ahead": settings.ahead(p, name, now)})
    return out


def assign_plan(db, user_id: str, plan: str | None, *, by: str, at: datetime | None = None) -> dict:
    """Put a customer on `plan` from `at` (default now); None or "standard" puts them back on standard."""
    check_user(db, user_id)
    name = STANDARD if plan is None else check_plan_name(plan)
    when = settings.check_when(at)
    if name != STANDARD and settings.value_at(settings.scope_doc(db, "plans"), name, when) is None:
        raise NotFound(f"No plan {name!r} in force then; define it first.")
    return settings.schedule(db, f"user:{user_id}", "plan", None if name == STANDARD else name, by=by,
                             at=when, default=STANDARD)


def check_plan_name(name) -> str:
    if not isinstance(name, str) or not _PLAN_NAME.match(name.strip().lower()):
        raise InvalidInput("A plan name is 1-40 lowercase letters, digits, '_' or '-', starting with a letter.")
    return name.strip().lower()


# -------------------------------------------------------------------------------- customer terms

def as_dict(t: Tariff) -> dict:
    """A tariff for pages and the API: its terms and a sentence."""
    return {"plan": t.plan, "rate_paise": t.rate_paise, "initial_increment_seconds": t.initial_seconds,
            "subsequent_increment_seconds": t.subsequent_seconds, "min_billable_seconds": t.min_billable_seconds,
            "attempt_fee_paise": t.attempt_fee_paise, "description": describe(t)}


def customer_terms(db, user_id: str) -> dict:
    """What a customer is shown: their tariff now, their limits (daily spend cap, simultaneous calls)
    and the tariff changes ahead (`upcoming`, each with `effective_at`)."""
    out = as_dict(tariff_for(db, user_id)) | settings.limits_for(db, user_id)
    out["upcoming"] = [as_dict(u["tariff"]) | {"effective_at": u["effective_at"]} for u in upcoming(db, user_id)]
    return out


_CUSTOMER_FIELDS = ("plan", "rate", "daily_cap", "max_concurrent_calls")


def set_customer_terms(db, user_id: str, changes: dict, *, by: str, at: datetime | None = None) -> list[dict]:
    """Change several of a customer's terms from `at` (default now): `plan` (None: standard), `rate`
    and `daily_cap` in rupees and `max_concurrent_calls` (None removes the customer's own value). All
    are checked before any is written. Returns the audit records."""
    check_user(db, user_id)
    unknown = set(changes) - set(_CUSTOMER_FIELDS)
    if unknown or not changes:
        raise InvalidInput(f"Change one or more of {', '.join(_CUSTOMER_FIELDS)}.")
    when = settings.check_when(at)
    writes: list[Callable[[], dict]] = []  # run once everything is known to be valid
    if "plan" in changes:
        plan = STANDARD if changes["plan"] in (None, STANDARD) else check_plan_name(changes["plan"])
        if plan != STANDARD and settings.value_at(settings.scope_doc(db, "plans"), plan, when) is None:
            raise NotFound(f"No plan {plan!r} in force then; define it first.")
        writes.append(lambda: assign_plan(db, user_id, plan, by=by, at=when))
    for key, name, what in (("rate", "call_rate_paise", "Call rate"), ("daily_cap", "daily_cap_paise",
                                                                      "Daily spend limit")):
        if key in changes:
            v = None if changes[key] is None else parse_rupees(changes[key], what=what, maximum=10**12)
            settings.check_user_value(name, v)
            writes.append(partial(set_user_value, db, user_id, name, v, by=by, at=when))
    if "max_concurrent_calls" in changes:
        v = changes["max_concurrent_calls"]
        settings.check_user_value("max_concurrent_calls", v)
        writes.append(partial(set_user_value, db, user_id, "max_concurrent_calls", v, by=by, at=when))
    return [w() for w in writes]


# ------------------------------------------------------------------------- a customer's own terms

def set_call_rate(db, rupees_per_minute, *, by: str, user_id: str | None = None,
                  at: datetime | None = None) -> dict:
    """Set the per-minute call rate from rupees (`"15"`, `0.5`), globally or for one user, from `at`.

    `rupees_per_minute=None` with a user_id removes that user's own rate.
    """
    if user_id is not None and rupees_per_minute is None:
        return set_user_value(db, user_id, "call_rate_paise", None, by=by, at=at)
    paise = parse_rupees(rupees_per_minute, maximum=settings.CALL_RATE_MAX_PAISE, what="Call rate")
    if user_id is None:
        return settings.set_value(db, "call_rate_paise", paise, by=by, at=at)
    return set_user_value(db, user_id, "call_rate_paise", paise, by=by, at=at)


def set_user_value(db, user_id: str, name: str, value: int | None, *, by: str,
                   at: datetime | None = None) -> dict:
    """A per-user override (call rate, daily spend cap, simultaneous calls) from `at`; None removes it."""
    settings.check_user_value(name, value)
    check_user(db, user_id)
    return settings.schedule(db, f"user:{user_id}", name, value, by=by, at=at)


def check_user(db, user_id) -> None:
    """NotFound unless `user_id` is someone's: a customer's own terms are for a customer who exists."""
    if not isinstance(user_id, str) or not users.exists(db, user_id):
        raise NotFound(f"No user {user_id!r}.")
