"""The voice side of a call, behind a small interface a real voice backend can implement later.

Billing (services.calls) never talks to telephony directly: the caller starts a call (funds held), hands
the number to a `VoiceBackend`, and reports the talked seconds back to `calls.end_call`. A real backend
would report the duration from its hang-up webhook; the simulator reports it at once (fast-forwarded).
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable


@runtime_checkable
class CallHandle(Protocol):
    ref: str

    def wait(self) -> int:
        """Block until the call is over; the seconds talked (the backend's own count)."""


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


@dataclass
class SimulatedHandle:
    ref: str
    to_number: str
    kb_id: str
    max_seconds: int
    seconds: int

    def wait(self) -> int:
        return self.seconds  # fast-forwarded: no real waiting


class SimulatedBackend:
    """Calls that "end" after a given or random duration, instantly.

    The reported duration is what the far end talked, which may exceed `max_seconds` (billing caps it
    and marks the call cut off). `dials` counts real dials per call_id, so tests can prove no number
    was dialled twice.
    """

    def __init__(self, duration: Duration = None, *, seed: int | None = None):
        self._duration = duration
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._calls: dict[str, SimulatedHandle] = {}
        self.dials: Counter = Counter()

    def place(self, to_number: str, kb_id: str, max_seconds: int, *, call_id: str) -> SimulatedHandle:
        with self._lock:
            if call_id in self._calls:  # same reference: the same call, never a second dial
                return self._calls[call_id]
            seconds = self._seconds(to_number, max_seconds, call_id)
            h = SimulatedHandle(f"sim-{call_id}", to_number, kb_id, max_seconds, seconds)
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
