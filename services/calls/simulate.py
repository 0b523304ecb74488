"""A call driven end to end through a voice backend: start, place, usage updates, end."""
from __future__ import annotations

from services import telephony, usage
from services.calls.authorize import update_call
from services.calls.billing import end_call, not_placed
from services.calls.records import check_duration, check_outcome, normalize_number
from services.calls.start import start_call
from services.errors import InsufficientBalance, NotFound, SpendCapReached
from services.pricing import ANSWERED

SMS = "sms"  # the catalogue's service a follow-up text is billed as (`make run` defines it)


class Session:
    """The platform's side of one call's authorisation (a telephony.Authorization): `update(usage)`
    asks for the next slice; `limit` is the last second the call may run now."""

    def __init__(self, db, user_id: str, grant: dict):
        self.db, self.user_id, self.call_id, self.grant = db, user_id, grant["call_id"], grant
        self.updates = 0

    @property
    def limit(self) -> int:
        # max_duration_seconds: the call's maximum length, or the second the money ends it
        return min(self.grant["authorized_seconds"], self.grant["max_duration_seconds"])

    @property
    def final(self) -> bool:
        return self.grant.get("end_at_seconds") is not None or \
            self.grant["authorized_seconds"] >= self.grant["max_duration_seconds"]

    def update(self, usage_seconds: int) -> None:
        self.grant = update_call(self.db, self.user_id, self.call_id, usage_seconds)
        self.updates += 1


def converse(db, user_id: str, grant: dict, backend: telephony.VoiceBackend, to_number: str, kb_id: str, *,
             raise_unplaced: bool = True) -> dict:
    """Place an active call and end it with what the backend reports. A call the backend cannot place
    (an error, a nonsense duration or outcome) is ended free and the error raised (or, without
    `raise_unplaced`, that free end returned)."""
    cid = grant["call_id"]
    session = Session(db, user_id, grant)
    try:
        handle = backend.place(to_number, kb_id, grant["max_duration_seconds"], call_id=cid)
        talked = check_duration(handle.wait(session))
        outcome = check_outcome(getattr(handle, "outcome", ANSWERED))
    except Exception as exc:
        res = not_placed(db, user_id, cid, exc)
        if raise_unplaced:
            raise
        return dict(res, reported_seconds=0, updates=session.updates)
    return dict(end_call(db, user_id, cid, talked, outcome), reported_seconds=talked, updates=session.updates)


def simulate_call(db, user_id: str, to_number: str, kb_id: str, max_minutes: int | None = None,
                  duration_seconds: int | None = None, *, backend: telephony.VoiceBackend | None = None,
                  outcome: str = ANSWERED, follow_up_sms: bool = False) -> dict:
    """Start, place on the (simulated) voice backend with usage updates, and end a call, fast-forwarded.

    `duration_seconds` None = a random duration. Returns the end result plus to_number, kb_id,
    rate_paise, plan, max_duration_seconds (as it ended: the money may have set it), the reported
    duration and the number of updates. With `follow_up_sms`, an answered call is followed by a text to the
    person called, billed as usage (`sms_paise`, or `sms_error`: the WalletError that kept it unsent).
    """
    if duration_seconds is not None:
        check_duration(duration_seconds)  # before anything is held
    check_outcome(outcome)
    if backend is None:
        backend = telephony.SimulatedBackend(duration_seconds, outcome=outcome)
    started = start_call(db, user_id, to_number, kb_id, max_minutes)
    number = normalize_number(to_number)
    res = converse(db, user_id, started, backend, number, kb_id)
    ended = db.calls.find_one({"_id": started["call_id"]}, {"max_duration_seconds": 1})
    res = dict(res, to_number=number, kb_id=kb_id, rate_paise=started["rate_paise"], plan=started["plan"],
               max_duration_seconds=int(ended["max_duration_seconds"]))
    if follow_up_sms and res.get("outcome", ANSWERED) == ANSWERED:
        res.update(_text_after(db, user_id, res["call_id"], number))
    return res


def follow_up_price(db) -> int | None:
    """What one follow-up SMS costs in paise, or None when the catalogue has no SMS (nothing to offer)."""
    try:
        return usage.price_of(usage.get(db, SMS), 1)
    except NotFound:
        return None


def _text_after(db, user_id: str, call_id: str, number: str) -> dict:
    """The SMS after an answered call, asked for by the caller: billed once per call (its key is the call's);
    a wallet that cannot pay for it leaves the call billed and the text unsent."""
    try:
        e = usage.record(db, user_id, usage.Event(SMS, 1, f"sms-after-{call_id}",
                                                  metadata={"call_id": call_id, "to": number}))
    except (NotFound, InsufficientBalance, SpendCapReached) as exc:
        return {"sms_paise": None, "sms_error": exc}
    return {"sms_paise": int(e["amount"]), "balance_paise": int(e["balance_after"])}
