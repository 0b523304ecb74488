"""The voice side of a call, behind a small interface a real voice backend can implement later.

Billing (services.calls) never talks to telephony directly: the caller starts a call (its first slice
authorised), hands the number to a `VoiceBackend`, and while the call lasts the platform reports its
usage through an `Authorization` (services.calls.Session: `update(usage)` grows the grant a slice at a
time, or sets the second it must end). At hang-up the talked seconds and the outcome go to
`calls.end_call`. A real backend would do this from its webhooks; the simulator does it at once
(fast-forwarded), sending an update each time the talk reaches the authorised second.
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

ANSWERED = "answered"  # the outcomes are services.pricing.OUTCOMES; the simulator only needs this one


@runtime_checkable
class Authorization(Protocol):
    """What the platform may talk, as the billing side last said (read-only here: only `update` moves it)."""

    @property
    def limit(self) -> int:
        """The last second the call may run now (grant, end, or maximum: the least)."""

    @property
    def final(self) -> bool:
        """The call ends at `limit`: the maximum is reached, or the money set the end (an update sent before
        that second may still grow it if money came back; the simulator, which only reports at the limit
        itself, stops asking)."""

    def update(self, usage_seconds: int) -> None:
        """Report the seconds talked so far; `limit` and `final` change with the answer."""


@runtime_checkable
class CallHandle(Protocol):
    ref: str
    outcome: str  # answered, no-answer, busy, failed: known once wait() returns

    def wait(self, auth: Authorization | None = None) -> int:
        """Block until the call is over, sending usage updates to `auth`; the seconds talked."""


@runtime_checkable
class VoiceBackend(Protocol):
    def place(self, to_number: str, kb_id: str, max_seconds: int, *, call_id: str) -> CallHandle:
        """Dial `to_number` with the AI agent speaking from `kb_id`; hang up at `max_seconds` at the latest.

        `call_id` is the platform's reference: placing the same call_id again must return the same call,
        not dial a second time (a campaign resumed after a crash re-places calls it cannot prove it
        placed).
        """


# duration: seconds, or a function (to_number, max_seconds, call_id) -> seconds, or None for random.
Duration = int | Callable[[str, int, str], int] | None
# outcome: one for every call, or a function (to_number, call_id) -> outcome.
Outcome = str | Callable[[str, str], str]


@dataclass
class SimulatedHandle:
    ref: str
    to_number: str
    kb_id: str
    max_seconds: int
    seconds: int
    outcome: str = ANSWERED
    updates: int = 0

    def wait(self, auth: Authorization | None = None) -> int:
        """The far end's talk, fast-forwarded: at each authorised second still short of it, an update.
        Reports what the far end talked; billing caps it at what was authorised (a cut-off call)."""
        while auth is not None and self.outcome == ANSWERED and self.seconds > auth.limit and not auth.final:
            before = auth.limit
            auth.update(auth.limit)
            self.updates += 1
            if auth.limit <= before and not auth.final:
                break  # no progress: the billing side said no more, as good as final
        return self.seconds


class SimulatedBackend:
    """Calls that "end" after a given or random duration, instantly.

    The reported duration is what the far end talked, which may exceed what was authorised (billing caps
    it and marks the call cut off). `dials` counts real dials per call_id, so tests can prove no number
    was dialled twice. An outcome other than answered talks 0 seconds.
    """

    def __init__(self, duration: Duration = None, *, seed: int | None = None, outcome: Outcome = ANSWERED):
        self._duration = duration
        self._outcome = outcome
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._calls: dict[str, SimulatedHandle] = {}
        self.dials: Counter = Counter()

    def place(self, to_number: str, kb_id: str, max_seconds: int, *, call_id: str) -> SimulatedHandle:
        with self._lock:
            if call_id in self._calls:  # same reference: the same call, never a second dial
                return self._calls[call_id]
            outcome = self._outcome(to_number, call_id) if callable(self._outcome) else self._outcome
            seconds = self._seconds(to_number, max_seconds, call_id) if outcome == ANSWERED else 0
            h = SimulatedHandle(f"sim-{call_id}", to_number, kb_id, max_seconds, seconds, outcome)
            self._calls[call_id] = h
            self.dials[call_id] += 1
            return h

    def _seconds(self, to_number: str, max_seconds: int, call_id: str) -> int:
        d = self._duration
        if d is None:
            # Mostly within the limit, sometimes past it (exercises the cut-off path).
            return self._rng.randint(0, max(1, max_seconds + max_seconds // 5))
        if callable(d):
            d = d(to_number, max_seconds, call_id)
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise ValueError(f"simulated duration must be whole seconds >= 0, got {d!r}")
        return d
