"""Call documents: their states, the checks on what comes in, reading them back, and the grant rule.

`calls/{call id}` carries what the call is (number, knowledge base, the tariff fixed at the start, its
hold's id) and, once it has ended, the outcome, the billed seconds and the cost. While it is on the line
its grant lives in its hold (the ledger keeps `state` = {target, usage} and `step` with the money, in the
same compare-and-set): the document stays "starting" and `live` reads what it stands at from the wallet.
Calls stored "active" (from before) keep their grant on the document until their hold has a state.
"""
from __future__ import annotations

import re
from datetime import timedelta

from services import clock, ids, ledger, settings
from services.checks import whole_number
from services.db import insert_new
from services.errors import InvalidInput, NotFound
from services.pricing import ANSWERED, OUTCOMES, Tariff, affordable_seconds, call_price

STARTING, ACTIVE, ENDING, COMPLETED = "starting", "active", "ending", "completed"
REFUSED, FAILED, EXPIRING, EXPIRED = "refused", "failed", "expiring", "expired"
MAX_CALL_MINUTES = settings.MAX_CALL_MINUTES
MAX_DURATION_SECONDS = 24 * 3600  # a reported duration beyond a day is a bug upstream, not a call

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_KB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
_NUMBER_NOISE = re.compile(r"[\s\-().]")
# An Indian mobile number starts with 6-9; before it, nothing, the trunk 0, or the country code without "+".
_INDIAN_MOBILE = re.compile(r"^(?:0|91)?([6-9][0-9]{9})$")


# ------------------------------------------------------------------------------------ validation

def normalize_number(raw) -> str:
    """THE phone-number rule: an E.164 number (`+919876543210`); spaces, dashes, dots and brackets are
    ignored. An Indian mobile number written the way people here write it, 10 digits (`9876543210`),
    with the trunk 0 (`09876543210`) or with 91 but no + (`919876543210`), is taken as +91."""
    if not isinstance(raw, str):
        raise InvalidInput("Phone number must be text like +919876543210.")
    n = _NUMBER_NOISE.sub("", raw.strip())
    indian = _INDIAN_MOBILE.match(n)
    if indian:
        n = "+91" + indian.group(1)
    if not _E164.match(n):
        shown = raw.strip()[:40]
        if n.isdigit():
            raise InvalidInput(f"{shown!r} needs a + and the country code, like +919876543210 (a 10-digit "
                               "Indian mobile number works as it is).")
        raise InvalidInput(f"{shown!r} is not a phone number in E.164 form, like +919876543210.")
    return n


def check_kb_id(kb_id) -> str:
    if not isinstance(kb_id, str) or not _KB_ID.match(kb_id):
        raise InvalidInput("Knowledge base id must be 1-64 letters, digits, '_' or '-'.")
    return kb_id


def check_max_minutes(max_minutes) -> int | None:
    if max_minutes is None:
        return None
    return whole_number(max_minutes, 1, MAX_CALL_MINUTES, what="Maximum call length", unit="of minutes")


def check_duration(seconds, what: str = "Call duration") -> int:
    return whole_number(seconds, 0, MAX_DURATION_SECONDS, what=what, unit="of seconds")


def check_outcome(outcome) -> str:
    if outcome not in OUTCOMES:
        raise InvalidInput(f"Call outcome must be one of {', '.join(OUTCOMES)}.")
    return outcome


# ----------------------------------------------------------------------------------- the grant rule

def tariff_of(doc: dict) -> Tariff:
    """The tariff fixed when the call started (calls from before tariffs: their per-minute rate)."""
    return Tariff.from_doc(doc["tariff"]) if doc.get("tariff") else Tariff(int(doc["rate_paise"]))


def max_seconds(doc: dict) -> int:
    return int(doc["max_minutes"]) * 60


def slice_seconds(doc: dict) -> int:
    """The call's slice (calls from before rolling authorisation held their whole length at once)."""
    return int(doc.get("slice_seconds") or max_seconds(doc))


def authorized(doc: dict) -> int:
    """The seconds the call's hold pays for now."""
    a = doc.get("authorized_seconds")
    return int(a if a is not None else doc.get("max_duration_seconds") or 0)


def grant(tariff: Tariff, held: int, target: int) -> tuple[int, int | None]:
    """(authorized seconds, end_at) for a hold of `held` paise asked to cover `target` seconds: all of
    it (no end_at), or, when the money runs out first, the last second it pays for (that is end_at)."""
    if held >= call_price(target, tariff):
        return target, None
    s = affordable_seconds(held, tariff, most=target)
    return s, s


def grant_fields(doc: dict, held: int, target: int) -> dict:
    a, end_at = grant(tariff_of(doc), held, target)
    return {"held_paise": held, "authorized_seconds": a, "end_at_seconds": end_at,
            "max_duration_seconds": end_at if end_at is not None else max_seconds(doc)}


def hold_id(doc: dict) -> str:
    return doc.get("hold_id") or doc["_id"]


# ------------------------------------------------------------------------------- the call as it stands

def live(db, doc: dict, wallet: ledger.WalletView | None = None) -> dict:
    """The call as it stands. An open call ("starting" stored) is resolved against its wallet: ACTIVE
    with the grant its hold keeps while the hold is open; ENDING once the hold was resolved (settled or
    released) but the call not yet completed, `closed` = the settle entry's id ('' if nothing was
    debited); STARTING while no hold was taken. Other calls are returned as stored."""
    if doc["status"] not in (STARTING, ACTIVE):
        return doc
    w = wallet if wallet is not None else ledger.get_wallet(db, doc["user_id"])
    h = w.holds.get(hold_id(doc))
    if h is None:
        eid = w.resolved(hold_id(doc))
        return dict(doc, status=ENDING, closed=eid) if eid is not None and doc["status"] == STARTING else doc
    out = dict(doc, status=ACTIVE, usage_seconds=max(int(doc.get("usage_seconds") or 0), int(h.state.get("usage", 0))))
    if "target" in h.state:  # calls stored "active" before their first step keep the grant they were told
        out.update(steps=h.step, **grant_fields(doc, h.amount, int(h.state["target"])))
    out.setdefault("active_at", h.created_at)
    return out


class Resolver:
    """`live` for many calls: one wallet read per user."""

    def __init__(self, db):
        self.db, self._wallets = db, {}

    def __call__(self, doc: dict) -> dict:
        if doc["status"] not in (STARTING, ACTIVE):
            return doc
        uid = doc["user_id"]
        if uid not in self._wallets:
            self._wallets[uid] = ledger.get_wallet(self.db, uid)
        return live(self.db, doc, self._wallets[uid])


# ---------------------------------------------------------------------------------------- reading

def get_call(db, user_id: str, call_id: str) -> dict:
    """One of the user's calls (NotFound for an unknown id or another user's call)."""
    ids.check_user_id(user_id)
    ids.check_call_id(call_id)
    return public(live(db, own(db, user_id, call_id)))


def list_calls(db, user_id: str, limit: int = 50) -> list[dict]:
    """The user's most recent calls (refused attempts included), newest first.

    Walks back in time in widening windows: a sorted query costs as much as the whole collection on
    the embedded engine; a window costs only what it reads.
    """
    ids.check_user_id(user_id)
    whole_number(limit, 1, 1000, what="Page size")
    top = clock.now() + timedelta(seconds=1)
    span = timedelta(hours=1)
    found: list[dict] = []
    while len(found) < limit:
        low = top - span
        found.extend(db.calls.find({"user_id": user_id, "started_at": {"$gte": low, "$lt": top}}))
        if db.calls.find_one({"user_id": user_id, "started_at": {"$lt": low}}, {"_id": 1}) is None:
            break
        top, span = low, span * 4
    resolve = Resolver(db)
    found = [public(resolve(d)) for d in found]
    found.sort(key=lambda d: (d["started_at"], d["call_id"]), reverse=True)
    return found[:limit]


def own(db, user_id: str, call_id: str) -> dict:
    doc = db.calls.find_one({"_id": call_id})
    if doc is None or doc.get("user_id") != user_id:  # another user's call is simply not there
        raise NotFound(f"No call {call_id}.")
    return doc


_INTS = ("held_paise", "max_duration_seconds", "authorized_seconds", "end_at_seconds", "usage_seconds",
         "requested_seconds", "billed_seconds", "cost_paise", "balance_paise")


def public(doc: dict) -> dict:
    out = {"call_id": doc["_id"], "user_id": doc["user_id"], "to_number": doc["to_number"], "kb_id": doc["kb_id"],
           "category": doc.get("category", "call"), "campaign_id": doc.get("campaign_id"),
           "status": doc["status"], "rate_paise": int(doc["rate_paise"]), "max_minutes": int(doc["max_minutes"]),
           "plan": tariff_of(doc).plan, "outcome": doc.get("outcome"),
           "started_at": clock.as_utc(doc.get("started_at")), "ended_at": clock.as_utc(doc.get("ended_at")),
           "reason": doc.get("reason"), "message": doc.get("message"), "key_id": doc.get("key_id")}
    for k in _INTS:
        out[k] = int(doc[k]) if doc.get(k) is not None else None
    out["cut_off"] = bool(doc.get("cut_off", False))
    return out


def grant_result(doc: dict) -> dict:
    """What a start or an update answers: the call's authorisation as it stands."""
    end_at = doc.get("end_at_seconds")
    return {"call_id": doc["_id"], "status": doc["status"], "rate_paise": int(doc["rate_paise"]),
            "plan": tariff_of(doc).plan, "held_paise": int(doc.get("held_paise") or 0),
            "authorized_seconds": authorized(doc), "end_at_seconds": int(end_at) if end_at is not None else None,
            "max_duration_seconds": int(doc.get("max_duration_seconds") or 0),
            "usage_seconds": int(doc.get("usage_seconds") or 0)}


def end_result(doc: dict) -> dict:
    return {"call_id": doc["_id"], "billed_seconds": int(doc["billed_seconds"]),
            "cost_paise": int(doc["cost_paise"]), "status": doc["status"],
            "balance_paise": int(doc["balance_paise"]), "cut_off": bool(doc["cut_off"]),
            "outcome": doc.get("outcome") or ANSWERED}


def insert(db, doc: dict) -> bool:
    return insert_new(db.calls, doc)


def stored(db, call_id: str) -> dict | None:
    """A call document as stored (whoever's it is), or None."""
    return db.calls.find_one({"_id": call_id})


def stored_many(db, call_ids: list[str]) -> dict[str, dict]:
    """The call documents among `call_ids` that exist, by id."""
    return {d["_id"]: d for d in db.calls.find({"_id": {"$in": call_ids}})} if call_ids else {}


def of_campaign(db, campaign_id: str) -> list[dict]:
    """Every call a campaign placed."""
    return list(db.calls.find({"campaign_id": campaign_id}))
