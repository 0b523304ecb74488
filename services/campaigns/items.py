"""Campaign items and progress: item i of campaign C is the call `cmp_{C}_{i}`; its state is derived
from that call document, and the progress counters are a tally of the item states."""
from __future__ import annotations

from services import calls
from services.money import format_rupees

# Item states (derived from the item's call).
PENDING, DONE, NEEDS_RECHARGE, SPEND_CAP, FAILED = "pending", "completed", "needs_recharge", "spend_cap", "failed"
# Campaign statuses (besides NEEDS_RECHARGE and SPEND_CAP, which a stopped run shares with its items;
# THROTTLED: the customer's other calls held every simultaneous-call slot too long, its items wait).
READY, RUNNING, COMPLETED, THROTTLED = "ready", "running", "completed", "too_many_calls"


def item_call_id(campaign_id: str, i: int | str) -> str:
    return f"cmp_{campaign_id}_{i}"


def call_state(doc: dict | None) -> dict:
    """An item's state from its call document (None: never started)."""
    if doc is None:
        return {"state": PENDING}
    st = doc["status"]
    if st == calls.COMPLETED and doc.get("reason") == "not_placed":
        return {"state": FAILED, "reason": doc.get("message")}
    if st == calls.COMPLETED:
        return {"state": DONE, "cost_paise": int(doc["cost_paise"]), "billed_seconds": int(doc["billed_seconds"]),
                "cut_off": bool(doc.get("cut_off")), "outcome": doc.get("outcome") or calls.ANSWERED}
    if st == calls.REFUSED and doc.get("reason") == "too_many_calls":
        return {"state": PENDING}  # not placed yet: a run retries it
    if st == calls.REFUSED:
        return {"state": SPEND_CAP if doc.get("reason") == "spend_cap" else NEEDS_RECHARGE}
    if st == calls.EXPIRED:
        return {"state": FAILED, "reason": doc.get("message")}
    return {"state": PENDING, "call_status": st}  # failed/starting/active/ending: the next run finishes it


def item_states(db, campaign_id: str, total: int) -> dict[int, dict]:
    states = {i: {"state": PENDING} for i in range(total)}
    prefix = item_call_id(campaign_id, "")
    for d in calls.of_campaign(db, campaign_id):
        i = int(d["_id"][len(prefix):])
        if 0 <= i < total:
            states[i] = call_state(d)
    return states


def empty_progress(total: int) -> dict:
    return {"total": total, "placed": 0, "completed": 0, "unanswered": 0, "cut_off": 0, "needs_recharge": 0,
            "spend_cap": 0, "failed": 0, "pending": total, "cost_paise": 0, "billed_seconds": 0}


def count(p: dict, s: dict, sign: int) -> None:
    """Add (sign=1) or remove (sign=-1) one item's contribution to the progress counters."""
    state = s["state"]
    if state == DONE:
        p["completed"] += sign
        p["placed"] += sign
        p["cut_off"] += sign if s.get("cut_off") else 0
        p["unanswered"] += sign if s.get("outcome", calls.ANSWERED) != calls.ANSWERED else 0
        p["cost_paise"] += sign * s["cost_paise"]
        p["billed_seconds"] += sign * s["billed_seconds"]
    elif state in (FAILED, NEEDS_RECHARGE, SPEND_CAP):
        p[state] += sign
    else:
        p["pending"] += sign


def tally(states: dict[int, dict], total: int) -> dict:
    p = empty_progress(total)
    p["pending"] = 0
    for s in states.values():
        count(p, s, 1)
    return p


_MESSAGES = {
    COMPLETED: "Campaign finished: {completed:,} calls completed",
    NEEDS_RECHARGE: "Balance ran out: {completed:,} calls completed, {needs_recharge:,} need a recharge; "
                    "recharge and resume to place them",
    SPEND_CAP: "Daily spend limit reached: {completed:,} calls completed, {spend_cap:,} wait; resume tomorrow "
               "or ask an admin to raise the limit",
    THROTTLED: "Paused: your other calls used all your simultaneous-call slots; {completed:,} calls completed, "
               "{pending:,} wait; resume when they end",
}


def summary_of(camp: dict, prog: dict, status: str) -> dict:
    """The summary a run or a page shows: the counters, `done`, the status and a sentence."""
    out = {"campaign_id": camp["_id"], "status": status, **prog, "done": prog["completed"] + prog["failed"]}
    msg = _MESSAGES.get(status, "{completed:,} of {total:,} calls completed so far").format(**prog)
    if prog.get("unanswered"):
        msg += f" ({prog['unanswered']:,} not answered)"
    if prog["cut_off"]:
        msg += f" ({prog['cut_off']:,} cut off at their maximum length or when the money ran out)"
    out["message"] = msg + f"; {format_rupees(prog['cost_paise'])} spent."
    return out
