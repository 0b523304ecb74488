"""Running a campaign: the lease that keeps two runners off one campaign, and the item loop.

Item i is the call `cmp_{C}_{i}`; `calls.start_call` with that id is idempotent and the voice backend
is given the id, so a run interrupted at any point resumes without placing or billing a number twice.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import Callable

from services import calls, clock, ledger, procs, rates, settings, telephony
from services.campaigns.items import (COMPLETED, DONE, FAILED, NEEDS_RECHARGE, PENDING, RUNNING, SPEND_CAP, THROTTLED,
                                      call_state, count, item_call_id, item_states, summary_of, tally)
from services.campaigns.records import agreed_tariff, check_concurrency, own, rate_change, summary
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound, SpendCapReached, TooManyCalls
from services.pricing import call_price

LEASE = timedelta(seconds=60)  # a runner renews it with every item; a dead runner's lease lapses
# How long an item waits for a simultaneous-call slot held by the customer's other calls.
THROTTLE_WAIT_SECONDS = 60.0


def run_campaign(db, user_id: str, campaign_id: str, progress: Callable[[dict], None] | None = None, *,
                 backend: telephony.VoiceBackend | None = None,
                 duration: Callable[[int, str], int] | None = None,
                 concurrency: int | None = None) -> dict:
    """Place the campaign's remaining calls until done or the balance runs out; also the way to resume
    (after a recharge, or after a crash). Returns the summary (see `summary`).

    `backend` defaults to the simulator, where each call lasts the expected minutes unless
    `duration(index, to_number) -> seconds` says otherwise. `progress(summary)` is called after each
    call. Calls are priced at the tariff of the campaign's estimate; at most the customer's
    simultaneous-call limit run at once. Raises NotFound (not the user's campaign), Conflict (another
    runner is driving it, or the rate changed since the estimate: `rate_change` says how, and
    `confirm_rate` accepts it).
    """
    camp = own(db, user_id, campaign_id, with_numbers=True)
    if backend is not None and duration is not None:
        raise InvalidInput("Give either a voice backend or a simulated duration, not both.")
    conc = check_concurrency(camp.get("concurrency", 1) if concurrency is None else concurrency)
    if camp["status"] == COMPLETED:
        return summary(db, user_id, campaign_id)
    changed = rate_change(db, user_id, campaign_id)
    if changed is not None:
        raise Conflict(changed["message"])
    conc = min(conc, settings.limits_for(db, user_id)["max_concurrent_calls"])
    if backend is None:
        backend = _simulator(campaign_id, int(camp["minutes_per_call"]), duration)
    run = _Run(db, camp, backend, progress)
    run.acquire()
    beat = threading.Thread(target=run.heartbeat, daemon=True)
    beat.start()
    try:
        return run.drive(conc)
    finally:
        run.let_go()
        beat.join(5)


def _simulator(campaign_id: str, minutes: int, duration) -> telephony.SimulatedBackend:
    prefix = item_call_id(campaign_id, "")

    def seconds(to_number: str, max_seconds: int, call_id: str) -> int:
        if duration is None:
            return minutes * 60
        return duration(int(call_id[len(prefix):]), to_number)

    return telephony.SimulatedBackend(seconds)


class _Run:
    """One runner's pass over a campaign: the lease, the item loop and the progress writes."""

    def __init__(self, db, camp: dict, backend, progress):
        self.db, self.camp, self.backend, self.progress_cb = db, camp, backend, progress
        self.cid, self.uid = camp["_id"], camp["user_id"]
        self.numbers = camp["numbers"]
        self.tariff = agreed_tariff(camp)  # None (an older campaign): each call at the tariff of its start
        self.token = uuid.uuid4().hex
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.states: dict[int, dict] = {}
        self.prog: dict = {}

    # -- lease
    def acquire(self) -> None:
        now = clock.now()
        pid = os.getpid()
        mine = {"runner_id": self.token, "runner_pid": pid, "runner_started": procs.start_time(pid),
                "runner_host": procs.HOST, "runner_until": now + LEASE, "status": RUNNING, "updated_at": now}
        free = [{"runner_id": None}, {"runner_until": {"$lt": now}}]
        cur = self.db.campaigns.find_one({"_id": self.cid}, {"runner_id": 1, "runner_pid": 1, "runner_host": 1,
                                                             "runner_started": 1})
        if cur and cur.get("runner_id") and \
                procs.gone(cur.get("runner_host"), cur.get("runner_pid"), cur.get("runner_started")):
            free.append({"runner_id": cur["runner_id"]})  # its process is gone: take over at once
        res = self.db.campaigns.update_one({"_id": self.cid, "$or": free}, {"$set": mine})
        if res.matched_count != 1:
            raise Conflict("This campaign is already running; wait for it to finish or pause.")

    def heartbeat(self) -> None:
        # Real calls last minutes: keep the lease alive between progress writes.
        while not self.stopped.wait(LEASE.total_seconds() / 3):
            self.db.campaigns.update_one({"_id": self.cid, "runner_id": self.token},
                                         {"$set": {"runner_until": clock.now() + LEASE}})

    def let_go(self) -> None:
        self.stopped.set()
        self.db.campaigns.update_one({"_id": self.cid, "runner_id": self.token},
                                     {"$set": {"runner_id": None, "runner_until": None}})

    # -- the loop
    def drive(self, conc: int) -> dict:
        self.states = item_states(self.db, self.cid, len(self.numbers))
        self.prog = tally(self.states, len(self.numbers))  # then kept up to date item by item
        todo = deque(i for i in range(len(self.numbers)) if self.states[i]["state"] not in (DONE, FAILED))
        stop = None
        while todo and stop is None:
            todo, stop = self._pass(todo, conc)
        if stop is None:  # the passes ran until nothing was left to do
            status = COMPLETED
        else:
            status = stop
            for i in todo:  # what could not be placed is marked, so a page shows it and a rerun resumes it
                if self.states[i]["state"] == PENDING and stop != THROTTLED:
                    self._set_state(i, {"state": stop})
        out = self._write(status, final=True)
        self._report(out)
        return out

    def _pass(self, todo: deque, conc: int) -> tuple[deque, str | None]:
        """Dispatch items until done or starved. Returns (items left, why stopped or None to go on)."""
        p = _Pass()
        inflight: dict = {}
        with ThreadPoolExecutor(max_workers=conc) as pool:
            while (todo and p.open) or inflight:
                while todo and p.open and len(inflight) < conc:
                    i = todo.popleft()
                    inflight[pool.submit(self._item, i)] = i
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for f in done:
                    i = inflight.pop(f)
                    outcome, snap = f.result()  # a bug or a dead database: stop the run, the lease lapses
                    self._report(snap)  # from this thread: UI callbacks may not work from workers
                    p.saw(i, outcome)
        left = deque(sorted(p.refused) + list(todo))
        if p.stop is None and p.refused and not (p.freed and self._can_start()):
            p.stop = NEEDS_RECHARGE
        return left, p.stop

    def _can_start(self) -> bool:
        # Calls still running when the money ran out may have returned part of their holds; a new call
        # needs its expected length covered.
        tariff = self.tariff or rates.tariff_for(self.db, self.uid)
        floor = max(settings.get(self.db)["min_call_balance_paise"],
                    call_price(int(self.camp["minutes_per_call"]) * 60, tariff), 1)
        return ledger.get_wallet(self.db, self.uid).available >= floor

    def _item(self, i: int) -> tuple[str, dict]:
        cid = item_call_id(self.cid, i)
        try:
            self._call(self.numbers[i], cid)
            state = call_state(calls.stored(self.db, cid))
        except InsufficientBalance:
            state = {"state": NEEDS_RECHARGE}
        except SpendCapReached:
            state = {"state": SPEND_CAP}
        except TooManyCalls:
            state = {"state": THROTTLED}
        except (Conflict, NotFound, InvalidInput) as exc:
            state = {"state": FAILED, "reason": exc.message}
        with self.lock:
            self._set_state(i, state)
            return state["state"], self._write(RUNNING)

    def _call(self, number: str, cid: str) -> None:
        """Start, place and end one item's call; each step is idempotent through the call id."""
        camp = self.camp
        st = self._start(number, cid)
        if st["status"] == calls.ACTIVE:
            # The same call_id again after a crash: the backend returns that call, it does not redial. A
            # call it cannot place is ended free (its item counts as failed; its call says why).
            calls.converse(self.db, self.uid, st, self.backend, number, camp["kb_id"], raise_unplaced=False)
        elif st["status"] == calls.ENDING:
            calls.end_call(self.db, self.uid, cid, 0)  # the recorded duration wins over this 0

    def _start(self, number: str, cid: str) -> dict:
        """Start the item's call at the campaign's tariff, covering its expected length in full; wait a
        while for a slot when the customer's other calls hold every simultaneous-call slot."""
        camp, waited = self.camp, 0
        while True:
            try:
                return calls.start_call(self.db, self.uid, number, camp["kb_id"], int(camp["max_minutes"]),
                                        call_id=cid, category="campaign", campaign_id=self.cid,
                                        need_seconds=int(camp["minutes_per_call"]) * 60, tariff=self.tariff)
            except TooManyCalls as exc:
                if waited >= THROTTLE_WAIT_SECONDS or self.stopped.is_set():
                    raise
                pause = min(exc.retry_after or 1, 1)  # whole seconds (RETRY_AFTER_SECONDS)
                time.sleep(pause)
                waited += pause

    def _set_state(self, i: int, state: dict) -> None:
        count(self.prog, self.states[i], -1)
        self.states[i] = state
        count(self.prog, state, 1)

    def _report(self, out: dict) -> None:
        if self.progress_cb is not None:
            self.progress_cb(out)

    def _write(self, status: str, final: bool = False) -> dict:
        now = clock.now()
        prog = dict(self.prog)
        sets = {"progress": prog, "status": status, "updated_at": now}
        if not final:
            sets["runner_until"] = now + LEASE
        res = self.db.campaigns.update_one({"_id": self.cid, "runner_id": self.token}, {"$set": sets})
        if res.matched_count != 1:
            raise Conflict("Another runner took this campaign over; this one stops.")
        return summary_of(self.camp, prog, status)


class _Pass:
    """What one dispatch pass has seen: the refused items, why to stop, and whether a call finished
    after the first refusal (it may have given money back)."""

    def __init__(self):
        self.refused: list[int] = []
        self.stop: str | None = None
        self.freed = False

    @property
    def open(self) -> bool:
        """New items may still be started: nothing refused so far."""
        return not self.refused and self.stop is None

    def saw(self, i: int, outcome: str) -> None:
        if outcome in (NEEDS_RECHARGE, SPEND_CAP, THROTTLED):
            self.refused.append(i)
            if outcome != NEEDS_RECHARGE:
                self.stop = outcome
        elif self.refused and outcome == DONE:
            self.freed = True
