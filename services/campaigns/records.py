"""Campaign documents: the estimate, creation, and reading them back with their items.

`campaigns/{id}` carries the settings, the progress counters (rewritten after every call, for a page
to poll) and the runner's lease; the numbers sit in `campaign_numbers/{id}:{k}` chunks of 1,000.
"""
from __future__ import annotations

import hashlib
import uuid

from services import calls, clock, ids, ledger, rates, settings
from services.campaigns.items import (NEEDS_RECHARGE, PENDING, READY, RUNNING, SPEND_CAP,
                                      call_state, empty_progress, item_call_id, item_states, summary_of,
                                      tally)
from services.campaigns.numbers import MAX_NUMBERS
from services.checks import text, whole_number
from services.db import insert_new
from services.errors import Conflict, InvalidInput, NotFound
from services.money import format_rupees
from services.pricing import Tariff, call_price

MAX_CONCURRENCY = 20
NUMBERS_CHUNK = 1000


# ---------------------------------------------------------------------------------------- estimate

def estimate(db, user_id: str, n_calls: int, minutes_per_call: int, *, tariff: Tariff | None = None) -> dict:
    """What the campaign costs against the available balance: "you can afford N of M calls".

    A call needs at least settings min_call_balance_paise available to start and holds its full expected
    cost, so N counts the calls that can each start and run their full length, one after another. The
    price is the user's tariff in force now (or `tariff`). Returns dict(calls, affordable, rate_paise,
    plan, tariff (its document), terms, cost_per_call_paise, total_paise, available_paise,
    shortfall_paise, daily_cap_paise, message).
    """
    ids.check_user_id(user_id)
    whole_number(n_calls, 1, MAX_NUMBERS, what="The number of calls")
    check_minutes(minutes_per_call)
    tariff = tariff or rates.tariff_for(db, user_id)
    per_call = call_price(minutes_per_call * 60, tariff)
    need = max(settings.get(db)["min_call_balance_paise"], per_call, 1)
    w = ledger.get_wallet(db, user_id)
    affordable = 0 if w.available < need else min(n_calls, (w.available - need) // per_call + 1)
    cap = settings.user_overrides(db, user_id).get("daily_cap_paise")
    if cap is not None:  # open holds count as spent, as they do when a call starts
        affordable = min(affordable, max(0, cap - w.today_debits - w.held) // per_call)
    total = per_call * n_calls
    shortfall = max(0, total - w.available + (need - per_call))
    msg = f"You can afford {affordable:,} of {n_calls:,} calls ({format_rupees(per_call)} each, " \
          f"{format_rupees(total)} in all; {format_rupees(w.available)} available)."
    if affordable < n_calls and shortfall:
        msg += f" Recharge {format_rupees(shortfall)} to cover them all."
    if cap is not None:
        msg += f" Your daily spend limit is {format_rupees(cap)}."
    return {"calls": n_calls, "affordable": affordable, "rate_paise": tariff.rate_paise, "plan": tariff.plan,
            "tariff": tariff.to_doc(), "terms": rates.describe(tariff), "cost_per_call_paise": per_call,
            "total_paise": total, "available_paise": w.available, "shortfall_paise": shortfall,
            "daily_cap_paise": cap, "message": msg}


def rate_change(db, user_id: str, campaign_id: str) -> dict | None:
    """None while the tariff the campaign was estimated at is the one in force; else what changed and a
    new estimate for the calls still to place: dict(old, new (tariff documents), old_terms, new_terms,
    estimate, message). The campaign does not run until the customer confirms it (`confirm_rate`)."""
    camp = own(db, user_id, campaign_id)
    agreed, now = agreed_tariff(camp), rates.tariff_for(db, user_id)
    if agreed is None or agreed == now:
        return None
    prog = public(camp)["progress"]
    left = max(1, int(camp["total"]) - prog["completed"] - prog["failed"])
    est = estimate(db, user_id, left, int(camp["minutes_per_call"]), tariff=now)
    msg = (f"The call rate changed since this campaign was estimated: it was {rates.describe(agreed)}; it is "
           f"now {rates.describe(now)}. {est['message']} Confirm the new estimate to resume.")
    return {"old": agreed.to_doc(), "new": now.to_doc(), "old_terms": rates.describe(agreed),
            "new_terms": rates.describe(now), "estimate": est, "message": msg}


def confirm_rate(db, user_id: str, campaign_id: str, tariff: dict) -> dict:
    """The customer accepts `tariff` (the `new` that rate_change showed) for the rest of the campaign.
    Conflict if the tariff in force is no longer the one shown (it changed again: show the new one)."""
    camp = own(db, user_id, campaign_id)
    now = rates.tariff_for(db, user_id)
    if not isinstance(tariff, dict) or now.to_doc() != tariff:
        raise Conflict("The call rate changed again; please review the new estimate.")
    db.campaigns.update_one({"_id": camp["_id"]}, {"$set": {"tariff": now.to_doc(), "estimated_at": clock.now()}})
    return public(db.campaigns.find_one({"_id": camp["_id"]}))


def recharge_to_finish(db, user_id: str, campaign_id: str) -> int:
    """Paise a recharge must add for the campaign's calls still to place, at its agreed tariff (0: the
    balance covers them)."""
    doc = own(db, user_id, campaign_id)
    camp = public(doc)
    left = camp["total"] - camp["done"]
    if left <= 0:
        return 0
    return estimate(db, user_id, left, camp["minutes_per_call"], tariff=agreed_tariff(doc))["shortfall_paise"]


def agreed_tariff(camp: dict) -> Tariff | None:
    """The tariff the customer agreed to for this campaign (None: created before campaigns kept one)."""
    return Tariff.from_doc(camp["tariff"]) if camp.get("tariff") else None


def check_minutes(minutes, what: str = "Minutes per call") -> int:
    return whole_number(minutes, 1, calls.MAX_CALL_MINUTES, what=what)


def check_concurrency(conc) -> int:
    return whole_number(conc, 1, MAX_CONCURRENCY, what="Calls at once")


# ---------------------------------------------------------------------------------------- create

def create_campaign(db, user_id: str, numbers, kb_id: str, minutes_per_call: int, *,
                    max_minutes: int | None = None, concurrency: int = 1, name: str = "",
                    key: str | None = None) -> dict:
    """A campaign ready to run. `numbers` come from parse_numbers/parse_csv (re-checked here).

    Each call may run up to `max_minutes` (default: minutes_per_call) and is cut off there. Its calls
    are priced at the tariff of its estimate (returned as `estimate`) until the customer confirms a new
    one (`rate_change`). With `key` the creation is idempotent (a double submit returns the first).
    """
    ids.check_user_id(user_id)
    clean = _clean_numbers(numbers)
    calls.check_kb_id(kb_id)
    max_minutes = _check_lengths(minutes_per_call, max_minutes)
    check_concurrency(concurrency)
    name = text(name.strip() if isinstance(name, str) else "", what="Campaign name", most=100)
    cid = _campaign_id(user_id, key)
    cur = db.campaigns.find_one({"_id": cid})
    if cur is not None:
        return _existing(cur, user_id)
    _store_numbers(db, cid, clean)
    t = clock.now()
    est = estimate(db, user_id, len(clean), minutes_per_call)
    doc = {"_id": cid, "user_id": user_id, "name": name or f"Campaign {t:%d %b %H:%M}", "kb_id": kb_id,
           "minutes_per_call": minutes_per_call, "max_minutes": max_minutes, "concurrency": concurrency,
           "total": len(clean), "status": READY, "created_at": t, "updated_at": t,
           "progress": empty_progress(len(clean)), "runner_id": None, "runner_until": None,
           "tariff": est["tariff"], "estimated_at": t}  # its calls keep this price (rate_change)
    # The campaign exists once this is in: its numbers are complete.
    if not insert_new(db.campaigns, doc):
        return _existing(db.campaigns.find_one({"_id": cid}), user_id)
    out = public(doc)
    out["estimate"] = est
    return out


def _clean_numbers(numbers) -> list[str]:
    if not isinstance(numbers, (list, tuple)) or not numbers:
        raise InvalidInput("A campaign needs at least one phone number.")
    if len(numbers) > MAX_NUMBERS:
        raise InvalidInput(f"A campaign takes at most {MAX_NUMBERS:,} numbers.")
    clean = [calls.normalize_number(n) for n in numbers]
    if len(set(clean)) != len(clean):
        raise InvalidInput("The list has duplicate numbers; parse it with parse_numbers/parse_csv first.")
    return clean


def _check_lengths(minutes_per_call, max_minutes) -> int:
    """The maximum minutes per call (default: the expected minutes), checked against the expected."""
    check_minutes(minutes_per_call)
    if max_minutes is None:
        return minutes_per_call
    check_minutes(max_minutes, "Maximum minutes per call")
    if max_minutes < minutes_per_call:
        raise InvalidInput("Maximum minutes per call cannot be less than the expected minutes per call.")
    return max_minutes


def _campaign_id(user_id: str, key) -> str:
    if key is None:
        return uuid.uuid4().hex[:20]
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise InvalidInput("Idempotency key must be 1-200 characters.")
    return hashlib.sha256(f"{user_id}\x00{key}".encode()).hexdigest()[:20]


def _store_numbers(db, cid: str, clean: list[str]) -> None:
    # The numbers first, in chunks of their own: progress is written to the campaign document after
    # every call, and rewriting 10,000 numbers each time would cost ~40x more per write.
    for k in range(0, len(clean), NUMBERS_CHUNK):
        db.campaign_numbers.update_one({"_id": f"{cid}:{k // NUMBERS_CHUNK}"},
                                       {"$set": {"campaign_id": cid, "numbers": clean[k:k + NUMBERS_CHUNK]}},
                                       upsert=True)


def _existing(cur: dict | None, user_id: str) -> dict:
    if cur is None or cur["user_id"] != user_id:
        raise Conflict("This idempotency key was already used.")
    return public(cur)


# --------------------------------------------------------------------------------------- reading

def summary(db, user_id: str, campaign_id: str) -> dict:
    """Counts recomputed from the item calls (exact even after a crash): placed, completed, cut_off,
    needs_recharge, spend_cap, failed, pending, cost_paise, billed_seconds, status, message."""
    camp = own(db, user_id, campaign_id)
    states = item_states(db, campaign_id, int(camp["total"]))
    st = status(camp)
    if st in (NEEDS_RECHARGE, SPEND_CAP):
        for s in states.values():  # not placed when the run stopped
            if s["state"] == PENDING and "call_status" not in s:
                s["state"] = st
    return summary_of(camp, tally(states, int(camp["total"])), st)


def get_campaign(db, user_id: str, campaign_id: str) -> dict:
    """The campaign with its last recorded progress (status "interrupted" when its runner vanished)."""
    return public(own(db, user_id, campaign_id))


def list_campaigns(db, user_id: str, limit: int = 50) -> list[dict]:
    ids.check_user_id(user_id)
    docs = [public(d) for d in db.campaigns.find({"user_id": user_id})]
    docs.sort(key=lambda d: d["created_at"], reverse=True)  # a user's campaigns: few; sort in Python
    return docs[:limit]


def campaign_items(db, user_id: str, campaign_id: str, *, offset: int = 0, limit: int = 100) -> list[dict]:
    """Per-number state for a page: index, to_number, state, call status, cost, seconds, cut off."""
    camp = own(db, user_id, campaign_id, with_numbers=True)
    whole_number(limit, 1, 1000, what="Items per page")
    whole_number(offset, 0, what="The offset")
    ids = [item_call_id(campaign_id, i) for i in range(offset, min(offset + limit, int(camp["total"])))]
    docs = calls.stored_many(db, ids)
    st = status(camp)
    out = []
    for i, cid in enumerate(ids, start=offset):
        d = docs.get(cid)
        s = call_state(d)
        if d is None and st in (NEEDS_RECHARGE, SPEND_CAP):
            s = {"state": st}
        out.append({"index": i, "to_number": camp["numbers"][i], "call_id": cid, "state": s["state"],
                    "call_status": d["status"] if d else None, "cost_paise": s.get("cost_paise"),
                    "billed_seconds": s.get("billed_seconds"), "cut_off": s.get("cut_off", False)})
    return out


def status(camp: dict) -> str:
    """The stored status, or "interrupted" for a run whose runner's lease has lapsed."""
    until = clock.as_utc(camp.get("runner_until"))
    if camp["status"] == RUNNING and (camp.get("runner_id") is None or until is None or until < clock.now()):
        return "interrupted"
    return camp["status"]


def own(db, user_id: str, campaign_id: str, with_numbers: bool = False) -> dict:
    """The user's campaign document (NotFound for another user's), with its numbers if asked."""
    ids.check_user_id(user_id)
    if not isinstance(campaign_id, str) or not campaign_id.isalnum() or len(campaign_id) > 40:
        raise InvalidInput("Malformed campaign id.")
    doc = db.campaigns.find_one({"_id": campaign_id})
    if doc is None or doc.get("user_id") != user_id:
        raise NotFound(f"No campaign {campaign_id}.")
    if with_numbers:
        doc["numbers"] = _numbers(db, campaign_id, int(doc["total"]))
    return doc


def _numbers(db, campaign_id: str, total: int) -> list[str]:
    ids = [f"{campaign_id}:{k}" for k in range(-(-total // NUMBERS_CHUNK))]
    chunks = {c["_id"]: c["numbers"] for c in db.campaign_numbers.find({"_id": {"$in": ids}})}
    return [n for cid in ids for n in chunks[cid]]


def public(doc: dict) -> dict:
    prog = {k: int(v) for k, v in (doc.get("progress") or empty_progress(int(doc["total"]))).items()}
    return {"campaign_id": doc["_id"], "user_id": doc["user_id"], "name": doc.get("name", ""),
            "kb_id": doc["kb_id"], "minutes_per_call": int(doc["minutes_per_call"]),
            "max_minutes": int(doc["max_minutes"]), "concurrency": int(doc.get("concurrency", 1)),
            "total": int(doc["total"]), "status": status(doc), "progress": prog, **prog,
            "done": prog["completed"] + prog["failed"], "tariff": doc.get("tariff"),
            "created_at": clock.as_utc(doc["created_at"]), "updated_at": clock.as_utc(doc.get("updated_at"))}
