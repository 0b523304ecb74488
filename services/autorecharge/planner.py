"""When to top up: the forecast, the crossing a charge belongs to, and the caps.

A debit is announced a notice period ahead (WALLET_PREDEBIT_NOTICE_HOURS, 25 by default) and made after
it, so the wallet must decide early: a charge is planned when the balance is forecast to reach the
threshold within the notice plus a margin (half the notice) -- the horizon. The forecast is the larger
of two expectations of spend over the horizon: the last horizon's own spend (a campaign running now)
and the steady rate of the runway forecast (spending.runway_basis: the last 7 days, cut to the wallet's
age). Integer paise and milliseconds throughout.

One crossing, one charge (and at most one retry): a crossing is named by the mandate, its era (a resume
starts a new one) and the wallet's last credit entry (`basis_n`). A top-up credited, or a recharge made
by hand, is a new credit: the next fall is a new crossing. Until then the charge id of this crossing is
taken, so nothing fires twice for it, whatever the crashes and races.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services import clock, config, ledger, spending
from services.autorecharge import charges, mandates, notices
from services.ledger import feed

RUNWAY_WINDOW_DAYS = 7


def notice() -> timedelta:
    return timedelta(hours=config.get().predebit_notice_hours)


def horizon() -> timedelta:
    return notice() * 3 / 2


@dataclass(frozen=True)
class Forecast:
    available: int           # paise spendable now (balance less holds)
    expected: int            # paise expected to be spent within the horizon
    horizon: timedelta

    def reaches(self, threshold: int) -> bool:
        return self.available - self.expected <= threshold


def forecast(db, user_id: str, now: datetime | None = None) -> Forecast:
    now = now or clock.now()
    h = horizon()
    h_ms = max(1, int(h.total_seconds() * 1000))
    page, _ = ledger.entries(db, user_id, type="debit", start=now - h, limit=1000)
    recent = sum(int(e["amount"]) for e in page if spending.is_usage(e["category"]))  # a refund is not spending
    spent, days = spending.runway_basis(db, user_id, window_days=RUNWAY_WINDOW_DAYS)
    steady = -(-spent * h_ms // (days * 86_400_000)) if spent > 0 and days else 0
    return Forecast(ledger.get_wallet(db, user_id).available, max(recent, steady), h)


def seconds_until_planned(m: dict, f: Forecast) -> int | None:
    """Roughly when the next charge will be planned at the forecast's pace (0: now; None: no spend)."""
    if f.reaches(m["threshold_paise"]):
        return 0
    if f.expected <= 0:
        return None
    room = f.available - f.expected - m["threshold_paise"]
    return room * int(f.horizon.total_seconds()) // f.expected


def crossing_basis(db, m: dict) -> int:
    """The wallet's last credit entry as of now (from `basis_n`, reading only the entries since `seen_n`)."""
    uid, seen, basis = m["user_id"], int(m.get("seen_n", 0)), int(m.get("basis_n", 0))
    top = ledger.get_wallet(db, uid).entries
    if top <= seen:
        return basis
    new = feed.entries_after(db, uid, seen, top)
    for e in new:
        if e["type"] == ledger.CREDIT:
            basis = int(e["n"])
    if new:
        mandates.coll(db).update_one({"_id": m["_id"], "no": m["no"], "seen_n": seen},
                                     {"$set": {"seen_n": int(new[-1]["n"]), "basis_n": basis}})
    return basis


# ------------------------------------------------------------------------------------- what to look at

CURSOR = "planner"  # autorecharge_meta/planner: when the last planning pass began (services.ledger.feed)


def candidates(db, now: datetime) -> list[dict]:
    """The live mandates whose decision may have changed since the last pass: their wallet changed (the
    ledger's feed: a debit, a credit, a hold), the mandate itself changed (activated, resumed, settings, a
    charge concluded), or a cap that refused has reopened. Nothing else can turn a "no" into a "yes": with
    the wallet unchanged, both expectations of the forecast only fall as time passes. So a pass costs the
    wallets that moved, whatever the number of mandates; the first pass reads every active one."""
    since = (db.autorecharge_meta.find_one({"_id": CURSOR}) or {}).get("since")
    lo = feed.start(since)
    if lo is None:
        return mandates.in_states(db, (mandates.ACTIVE,))
    found = {m["_id"]: m for m in mandates.changed_since(db, lo) + mandates.plan_again(db, now)}
    for c in ledger.changed(db, since):
        if c.user_id not in found:
            m = mandates.get(db, c.user_id)
            if m is not None:
                found[m["_id"]] = m
    return [m for m in found.values() if m["state"] in mandates.LIVE]


def passed(db, started: datetime) -> None:
    """The pass that began at `started` has looked at every candidate."""
    db.autorecharge_meta.update_one({"_id": CURSOR}, {"$set": {"since": started}}, upsert=True)


def plan(db, m: dict, now: datetime | None = None) -> dict | None:
    """Plan this crossing's charge for an active mandate with nothing in flight, if the forecast says the
    threshold is near and the caps allow it. Returns the new charge, or None."""
    if m["state"] != mandates.ACTIVE or m.get("token_status") != "confirmed" or m.get("in_flight"):
        return None
    now = now or clock.now()
    cid = charges.charge_id(m, crossing_basis(db, m), 1)
    if m.get("charged_crossing") == charges.crossing_of(cid):
        return None  # this crossing had its charge (and its retry, if any)
    if not forecast(db, m["user_id"], now).reaches(m["threshold_paise"]) or not caps_allow(db, m, now):
        return None
    if not mandates.set_in_flight(db, m, cid, was=None, crossing=charges.crossing_of(cid)):
        return None
    return charges.create(db, m, cid, attempt=1)


# ------------------------------------------------------------------------------------------ caps

# The caps' months and days are the business zone's (services.clock), as on the customer's statements.

def month_start(now: datetime) -> datetime:
    d = clock.date_of(now)
    return clock.month_span(d.year, d.month)[0]


def day_start(now: datetime) -> datetime:
    return clock.start_of_day(clock.date_of(now))


def caps_allow(db, m: dict, now: datetime) -> bool:
    """Room under the monthly (and daily) cap for one more top-up; the customer is told once per month
    (day) when there is none, and the planner looks again when that month (day) is over."""
    amount, uid = int(m["amount_paise"]), m["user_id"]
    month_used = charges.committed(db, uid, since=month_start(now))
    if month_used + amount > int(m["monthly_cap_paise"]):
        notices.cap_reached(db, m, "month", clock.day_of(now)[:7], month_used)
        mandates.set_plan_again(db, m, _next_month(now))
        return False
    daily = m.get("daily_cap_paise")
    if daily is not None:
        day_used = charges.committed(db, uid, since=day_start(now))
        if day_used + amount > int(daily):
            notices.cap_reached(db, m, "day", clock.day_of(now), day_used)
            mandates.set_plan_again(db, m, day_start(now) + timedelta(days=1))
            return False
    if m.get("plan_again_at") is not None:
        mandates.set_plan_again(db, m, None)
    return True


def _next_month(now: datetime) -> datetime:
    d = clock.date_of(now)
    return clock.month_span(d.year + d.month // 12, d.month % 12 + 1)[0]
