"""Campaigns: one knowledge base, many numbers, called until the wallet runs out; resumable.

Item i of campaign C is the call `cmp_{C}_{i}`. That id makes every step of an item idempotent (the
start, the hold, the placement on the voice backend, the settlement), so a run interrupted at any
point resumes without placing or billing any number twice. The item states live in the call documents;
the campaign document carries the settings, the progress counters (for a page to poll) and a lease so
two runners never drive the same campaign at once; its numbers sit in `campaign_numbers` chunks.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import socket
import threading
import uuid
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import Callable


from services import calls, clock, ledger, settings, telephony
from services.db import insert_new
from services.errors import Conflict, InsufficientBalance, InvalidInput, NotFound, SpendCapReached
from services.money import format_rupees

MAX_NUMBERS = 10_000
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CONCURRENCY = 20
NUMBERS_CHUNK = 1000
LEASE = timedelta(seconds=60)  # a runner renews it with every item; a dead runner's lease lapses

# Item states (derived from the item's call).
PENDING, DONE, NEEDS_RECHARGE, SPEND_CAP, FAILED = "pending", "completed", "needs_recharge", "spend_cap", "failed"
# Campaign statuses.
READY, RUNNING, COMPLETED = "ready", "running", "completed"

_SPLIT = str.maketrans({",": "\n", ";": "\n", "\t": "\n"})


# ------------------------------------------------------------------------------------------- input

def parse_numbers(text) -> tuple[list[str], list[dict]]:
    """Numbers pasted as text, one per line or comma separated. Returns (numbers, bad_rows).

    bad_rows: {"row": position in the list (1-based), "value", "reason"} for malformed entries and
    duplicates; they are reported, not fatal. Raises InvalidInput when no valid number remains or there
    are more than MAX_NUMBERS.
    """
    if not isinstance(text, str):
        raise InvalidInput("Paste the phone numbers as text, one per line or separated by commas.")
    if len(text) > MAX_CSV_BYTES:
        raise InvalidInput("That is too much text; split the list into several campaigns.")
    values = [v.strip() for v in text.translate(_SPLIT).split("\n")]
    return _collect(enumerate((v for v in values if v), start=1), "entries")


def parse_csv(data: bytes) -> tuple[list[str], list[dict]]:
    """A CSV upload with a `to_number` column. Returns (numbers, bad_rows); rows are counted as a
    spreadsheet shows them (the header is row 1). Raises InvalidInput for an empty, binary or
    malformed file, a missing `to_number` column, no valid rows, or more than MAX_NUMBERS numbers."""
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidInput("Upload the CSV file as bytes.")
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB.")
    if not data.strip():
        raise InvalidInput("The CSV file is empty.")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The file is not a text CSV (it is not UTF-8 text). Export it as CSV UTF-8.")
    if "\x00" in text:
        raise InvalidInput("The file is not a text CSV (it contains binary data).")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidInput(f"The CSV file could not be read: {exc}.")
    rows_at = [(n, r) for n, r in enumerate(rows, start=1) if any(c.strip() for c in r)]
    if not rows_at:
        raise InvalidInput("The CSV file is empty.")
    head_row, header = rows_at[0]
    names = [c.strip().lower().lstrip("\ufeff") for c in header]
    if "to_number" not in names:
        shown = ", ".join(repr(c.strip()[:30]) for c in header[:10]) or "none"
        raise InvalidInput(f"The CSV needs a 'to_number' column in its first row (found columns: {shown}).")
    col = names.index("to_number")
    items = []
    for n, r in rows_at[1:]:
        items.append((n, r[col].strip() if col < len(r) else ""))
    if not items:
        raise InvalidInput("The CSV file has a header but no rows of numbers.")
    return _collect(items, "rows")


def _collect(items, what: str) -> tuple[list[str], list[dict]]:
    numbers: list[str] = []
    bad: list[dict] = []
    first_row: dict[str, int] = {}
    for row, value in items:
        if not value:
            bad.append({"row": row, "value": "", "reason": "No number in this row."})
            continue
        try:
            n = calls.normalize_number(value)
        except InvalidInput as exc:
            bad.append({"row": row, "value": value[:40], "reason": exc.message})
            continue
        if n in first_row:
            bad.append({"row": row, "value": value[:40], "reason": f"Duplicate of row {first_row[n]}."})
            continue
        first_row[n] = row
        numbers.append(n)
    if not numbers:
        detail = "; ".join(f"row {b['row']}: {b['reason']}" for b in bad[:3])
        raise InvalidInput("No valid phone numbers found" + (f" ({detail})" if detail else "") +
                           ". Numbers need a + and the country code, like +919876543210.")
    if len(numbers) > MAX_NUMBERS:
        raise InvalidInput(f"{len(numbers):,} numbers: a campaign takes at most {MAX_NUMBERS:,}. "
                           "Split the list into several campaigns.")
    return numbers, bad


def _check_minutes(minutes, what: str = "Minutes per call") -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= calls.MAX_CALL_MINUTES:
        raise InvalidInput(f"{what} must be a whole number from 1 to {calls.MAX_CALL_MINUTES}.")
    return minutes


# ---------------------------------------------------------------------------------------- estimate

def estimate(db, user_id: str, n_calls: int, minutes_per_call: int) -> dict:
    """What the campaign costs against the available balance: "you can afford N of M calls".

    A call needs at least settings min_call_balance_paise available to start and holds up to its full
    cost, so N counts the calls that can each start and run their full length, one after another.
    Returns dict(calls, affordable, rate_paise, cost_per_call_paise, total_paise, available_paise,
    shortfall_paise, daily_cap_paise, message).
    """
    calls._check_user(user_id)
    if isinstance(n_calls, bool) or not isinstance(n_calls, int) or not 1 <= n_calls <= MAX_NUMBERS:
        raise InvalidInput(f"The number of calls must be from 1 to {MAX_NUMBERS:,}.")
    _check_minutes(minutes_per_call)
    rate = settings.call_rate_for(db, user_id)
    per_call = calls.cost_paise(minutes_per_call * 60, rate)
    need = max(settings.get(db)["min_call_balance_paise"], per_call, 1)
    w = calls._wallet_view(db, user_id)
    available = w["balance"] - w["held"]
    affordable = 0 if available < need else min(n_calls, (available - need) // per_call + 1)
    cap = settings.user_overrides(db, user_id).get("daily_cap_paise")
    if cap is not None:
        room = max(0, cap - w["today_debits"] - w["held"])
        affordable = min(affordable, room // per_call)
    total = per_call * n_calls
    shortfall = max(0, total - available + (need - per_call))
    msg = f"You can afford {affordable:,} of {n_calls:,} calls ({format_rupees(per_call)} each, " \
          f"{format_rupees(total)} in all; {format_rupees(available)} available)."
    if affordable < n_calls and shortfall:
        msg += f" Recharge {format_rupees(shortfall)} to cover them all."
    if cap is not None:
        msg += f" Your daily spend limit is {format_rupees(cap)}."
    return {"calls": n_calls, "affordable": affordable, "rate_paise": rate, "cost_per_call_paise": per_call,
            "total_paise": total, "available_paise": available, "shortfall_paise": shortfall,
            "daily_cap_paise": cap, "message": msg}


# ---------------------------------------------------------------------------------------- create

def create_campaign(db, user_id: str, numbers, kb_id: str, minutes_per_call: int, *,
                    max_minutes: int | None = None, concurrency: int = 1, name: str = "",
                    key: str | None = None) -> dict:
    """A campaign ready to run. `numbers` come from parse_numbers/parse_csv (re-checked here).

    Each call may run up to `max_minutes` (default: minutes_per_call) and is cut off there. With `key`
    the creation is idempotent (a double submit returns the first campaign).
    """
    calls._check_user(user_id)
    if not isinstance(numbers, (list, tuple)) or not numbers:
        raise InvalidInput("A campaign needs at least one phone number.")
    if len(numbers) > MAX_NUMBERS:
        raise InvalidInput(f"A campaign takes at most {MAX_NUMBERS:,} numbers.")
    clean = [calls.normalize_number(n) for n in numbers]
    if len(set(clean)) != len(clean):
        raise InvalidInput("The list has duplicate numbers; parse it with parse_numbers/parse_csv first.")
    calls.check_kb_id(kb_id)
    _check_minutes(minutes_per_call)
    max_minutes = _check_minutes(max_minutes, "Maximum minutes per call") if max_minutes is not None \
        else minutes_per_call
    if max_minutes < minutes_per_call:
        raise InvalidInput("Maximum minutes per call cannot be less than the expected minutes per call.")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidInput(f"Calls at once must be from 1 to {MAX_CONCURRENCY}.")
    name = name.strip() if isinstance(name, str) else ""
    if len(name) > 100:
        raise InvalidInput("Campaign name must be at most 100 characters.")
    if key is not None:
        if not isinstance(key, str) or not 1 <= len(key) <= 200:
            raise InvalidInput("Idempotency key must be 1-200 characters.")
        cid = hashlib.sha256(f"{user_id}\x00{key}".encode()).hexdigest()[:20]
    else:
        cid = uuid.uuid4().hex[:20]
    cur = db.campaigns.find_one({"_id": cid})
    if cur is not None:
        return _existing(cur, user_id)
    # The numbers first, in chunks of their own: progress is written to the campaign document after
    # every call, and rewriting 10,000 numbers each time would cost ~40x more per write.
    for k in range(0, len(clean), NUMBERS_CHUNK):
        db.campaign_numbers.update_one({"_id": f"{cid}:{k // NUMBERS_CHUNK}"},
                                       {"$set": {"campaign_id": cid, "numbers": clean[k:k + NUMBERS_CHUNK]}},
                                       upsert=True)
    t = clock.now()
    doc = {"_id": cid, "user_id": user_id, "name": name or f"Campaign {t:%d %b %H:%M}", "kb_id": kb_id,
           "minutes_per_call": minutes_per_call, "max_minutes": max_minutes, "concurrency": concurrency,
           "total": len(clean), "status": READY, "created_at": t, "updated_at": t,
           "progress": _empty_progress(len(clean)), "runner_id": None, "runner_until": None}
    # The campaign exists once this is in: its numbers are complete.
    if not insert_new(db.campaigns, doc):
        return _existing(db.campaigns.find_one({"_id": cid}), user_id)
    out = _public(doc)
    out["estimate"] = estimate(db, user_id, len(clean), minutes_per_call)
    return out


def _existing(cur: dict | None, user_id: str) -> dict:
    if cur is None or cur["user_id"] != user_id:
        raise Conflict("This idempotency key was already used.")
    return _public(cur)


def item_call_id(campaign_id: str, i: int) -> str:
    return f"cmp_{campaign_id}_{i}"


# ------------------------------------------------------------------------------------------- run

def run_campaign(db, user_id: str, campaign_id: str, progress: Callable[[dict], None] | None = None, *,
                 backend: telephony.VoiceBackend | None = None,
                 duration: Callable[[int, str], int] | None = None,
                 concurrency: int | None = None) -> dict:
    """Place the campaign's remaining calls until done or the balance runs out; also the way to resume
    (after a recharge, or after a crash). Returns the summary (see `summary`).

    `backend` defaults to the simulator, where each call lasts the expected minutes unless
    `duration(index, to_number) -> seconds` says otherwise. `progress(summary)` is called after each
    call. Raises NotFound (not the user's campaign), Conflict (another runner is driving it).
    """
    camp = _own(db, user_id, campaign_id, with_numbers=True)
    if backend is not None and duration is not None:
        raise InvalidInput("Give either a voice backend or a simulated duration, not both.")
    conc = camp.get("concurrency", 1) if concurrency is None else concurrency
    if isinstance(conc, bool) or not isinstance(conc, int) or not 1 <= conc <= MAX_CONCURRENCY:
        raise InvalidInput(f"Calls at once must be from 1 to {MAX_CONCURRENCY}.")
    if camp["status"] == COMPLETED:
        return summary(db, user_id, campaign_id)
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
        self.token = uuid.uuid4().hex
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.states: dict[int, dict] = {}
        self.prog: dict = {}

    # -- lease
    def acquire(self) -> None:
        now = clock.now()
        mine = {"runner_id": self.token, "runner_pid": os.getpid(), "runner_host": socket.gethostname(),
                "runner_until": now + LEASE, "status": RUNNING, "updated_at": now}
        free = [{"runner_id": None}, {"runner_until": {"$lt": now}}]
        cur = self.db.campaigns.find_one({"_id": self.cid}, {"runner_id": 1, "runner_pid": 1, "runner_host": 1})
        if cur and cur.get("runner_id") and _dead(cur):
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
        self.states = _item_states(self.db, self.cid, len(self.numbers))
        self.prog = _tally(self.states, len(self.numbers))  # then kept up to date item by item
        todo = deque(i for i in range(len(self.numbers)) if self.states[i]["state"] not in (DONE, FAILED))
        stop = None
        while todo and stop is None:
            todo, stop = self._pass(todo, conc)
        if stop is None and not todo:
            status = COMPLETED
        else:
            status = stop
            for i in todo:  # what could not be placed is marked, so a page shows it and a rerun resumes it
                if self.states[i]["state"] == PENDING:
                    self._set_state(i, {"state": stop})
        out = self._write(status, final=True)
        self._report(out)
        return out

    def _pass(self, todo: deque, conc: int) -> tuple[deque, str | None]:
        """Dispatch items until done or starved. Returns (items left, why stopped or None to go on)."""
        refused: list[int] = []
        freed_after_refusal = False
        stop = None
        inflight: dict = {}
        with ThreadPoolExecutor(max_workers=conc) as pool:
            while (todo and not refused and stop is None) or inflight:
                while todo and not refused and stop is None and len(inflight) < conc:
                    i = todo.popleft()
                    inflight[pool.submit(self._item, i)] = i
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for f in done:
                    i = inflight.pop(f)
                    outcome, snap = f.result()  # a bug or a dead database: stop the run, the lease lapses
                    self._report(snap)  # from this thread: UI callbacks may not work from workers
                    if outcome == NEEDS_RECHARGE:
                        refused.append(i)
                    elif outcome == SPEND_CAP:
                        refused.append(i)
                        stop = SPEND_CAP
                    elif refused and outcome == DONE:
                        freed_after_refusal = True
        left = deque(sorted(refused) + list(todo))
        if stop is None and refused:
            # Calls still running when the money ran out may have returned part of their holds.
            floor = max(settings.get(self.db)["min_call_balance_paise"], 1)
            if not (freed_after_refusal and ledger.get_wallet(self.db, self.uid).available >= floor):
                stop = NEEDS_RECHARGE
        return left, stop

    def _item(self, i: int) -> tuple[str, dict]:
        number, cid = self.numbers[i], item_call_id(self.cid, i)
        camp = self.camp
        try:
            st = calls.start_call(self.db, self.uid, number, camp["kb_id"], int(camp["max_minutes"]),
                                  call_id=cid, category="campaign", campaign_id=self.cid)
            if st["status"] == calls.ACTIVE:
                # The same call_id again after a crash: the backend returns that call, it does not redial.
                try:
                    handle = self.backend.place(number, camp["kb_id"], st["max_duration_seconds"], call_id=cid)
                    talked = calls.check_duration(handle.wait())
                except Exception as exc:  # a carrier error or a nonsense duration: free, and say so
                    calls.not_placed(self.db, self.uid, cid, exc)
                else:
                    calls.end_call(self.db, self.uid, cid, talked)
            elif st["status"] == calls.ENDING:
                calls.end_call(self.db, self.uid, cid, 0)  # the recorded duration wins over this 0
            state = _call_state(self.db.calls.find_one({"_id": cid}))
        except InsufficientBalance:
            state = {"state": NEEDS_RECHARGE}
        except SpendCapReached:
            state = {"state": SPEND_CAP}
        except (Conflict, NotFound, InvalidInput) as exc:
            state = {"state": FAILED, "reason": exc.message}
        with self.lock:
            self._set_state(i, state)
            return state["state"], self._write(RUNNING)

    def _set_state(self, i: int, state: dict) -> None:
        _count(self.prog, self.states[i], -1)
        self.states[i] = state
        _count(self.prog, state, 1)

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
        return _summary(self.camp, prog, status)


def _dead(cur: dict) -> bool:
    """The runner's process is gone (same machine only; elsewhere the lease has to lapse)."""
    if cur.get("runner_host") != socket.gethostname() or not cur.get("runner_pid"):
        return False
    try:
        os.kill(int(cur["runner_pid"]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


# ------------------------------------------------------------------------------------ item states

def _call_state(doc: dict | None) -> dict:
    if doc is None:
        return {"state": PENDING}
    st = doc["status"]
    if st == calls.COMPLETED and doc.get("reason") == "not_placed":
        return {"state": FAILED, "reason": doc.get("message")}
    if st == calls.COMPLETED:
        return {"state": DONE, "cost_paise": int(doc["cost_paise"]), "billed_seconds": int(doc["billed_seconds"]),
                "cut_off": bool(doc.get("cut_off"))}
    if st == calls.REFUSED:
        return {"state": SPEND_CAP if doc.get("reason") == "spend_cap" else NEEDS_RECHARGE}
    if st == calls.EXPIRED:
        return {"state": FAILED, "reason": doc.get("message")}
    return {"state": PENDING, "call_status": st}  # failed/starting/active/ending: the next run finishes it


def _item_states(db, campaign_id: str, total: int) -> dict[int, dict]:
    states = {i: {"state": PENDING} for i in range(total)}
    prefix = item_call_id(campaign_id, "")
    for d in db.calls.find({"campaign_id": campaign_id}):
        i = int(d["_id"][len(prefix):])
        if 0 <= i < total:
            states[i] = _call_state(d)
    return states


def _empty_progress(total: int) -> dict:
    return {"total": total, "placed": 0, "completed": 0, "cut_off": 0, "needs_recharge": 0, "spend_cap": 0,
            "failed": 0, "pending": total, "cost_paise": 0, "billed_seconds": 0}


def _count(p: dict, s: dict, sign: int) -> None:
    """Add (sign=1) or remove (sign=-1) one item's contribution to the progress counters."""
    state = s["state"]
    if state == DONE:
        p["completed"] += sign
        p["placed"] += sign
        p["cut_off"] += sign if s.get("cut_off") else 0
        p["cost_paise"] += sign * s["cost_paise"]
        p["billed_seconds"] += sign * s["billed_seconds"]
    elif state in (FAILED, NEEDS_RECHARGE, SPEND_CAP):
        p[state] += sign
    else:
        p["pending"] += sign


def _tally(states: dict[int, dict], total: int) -> dict:
    p = _empty_progress(total)
    p["pending"] = 0
    for s in states.values():
        _count(p, s, 1)
    return p


# --------------------------------------------------------------------------------------- reading

def _summary(camp: dict, prog: dict, status: str) -> dict:
    out = {"campaign_id": camp["_id"], "status": status, **prog, "done": prog["completed"] + prog["failed"]}
    if status == COMPLETED:
        msg = f"Campaign finished: {prog['completed']:,} calls completed"
    elif status == NEEDS_RECHARGE:
        msg = (f"Balance ran out: {prog['completed']:,} calls completed, {prog['needs_recharge']:,} need a "
               f"recharge; recharge and resume to place them")
    elif status == SPEND_CAP:
        msg = (f"Daily spend limit reached: {prog['completed']:,} calls completed, {prog['spend_cap']:,} wait; "
               f"resume tomorrow or ask an admin to raise the limit")
    else:
        msg = f"{prog['completed']:,} of {prog['total']:,} calls completed so far"
    if prog["cut_off"]:
        msg += f" ({prog['cut_off']:,} cut off at the maximum length)"
    out["message"] = msg + f"; {format_rupees(prog['cost_paise'])} spent."
    return out


def summary(db, user_id: str, campaign_id: str) -> dict:
    """Counts recomputed from the item calls (exact even after a crash): placed, completed, cut_off,
    needs_recharge, spend_cap, failed, pending, cost_paise, billed_seconds, status, message."""
    camp = _own(db, user_id, campaign_id)
    states = _item_states(db, campaign_id, int(camp["total"]))
    status = _status(camp)
    if status != RUNNING and status != READY:
        for s in states.values():  # not placed when the run stopped
            if s["state"] == PENDING and "call_status" not in s and status in (NEEDS_RECHARGE, SPEND_CAP):
                s["state"] = status
    return _summary(camp, _tally(states, int(camp["total"])), status)


def get_campaign(db, user_id: str, campaign_id: str) -> dict:
    """The campaign with its last recorded progress (status "interrupted" when its runner vanished)."""
    return _public(_own(db, user_id, campaign_id))


def list_campaigns(db, user_id: str, limit: int = 50) -> list[dict]:
    calls._check_user(user_id)
    docs = [_public(d) for d in db.campaigns.find({"user_id": user_id})]
    docs.sort(key=lambda d: d["created_at"], reverse=True)  # a user's campaigns: few; sort in Python
    return docs[:limit]


def campaign_items(db, user_id: str, campaign_id: str, *, offset: int = 0, limit: int = 100) -> list[dict]:
    """Per-number state for a page: index, to_number, state, call status, cost, seconds, cut off."""
    camp = _own(db, user_id, campaign_id, with_numbers=True)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000 or \
            isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput("Bad page: offset >= 0 and 1-1000 items per page.")
    ids = [item_call_id(campaign_id, i) for i in range(offset, min(offset + limit, int(camp["total"])))]
    docs = {d["_id"]: d for d in db.calls.find({"_id": {"$in": ids}})} if ids else {}
    status = _status(camp)
    out = []
    for k, cid in enumerate(ids):
        i = offset + k
        d = docs.get(cid)
        s = _call_state(d)
        if s["state"] == PENDING and d is None and status in (NEEDS_RECHARGE, SPEND_CAP):
            s = {"state": status}
        out.append({"index": i, "to_number": camp["numbers"][i], "call_id": cid, "state": s["state"],
                    "call_status": d["status"] if d else None, "cost_paise": s.get("cost_paise"),
                    "billed_seconds": s.get("billed_seconds"), "cut_off": s.get("cut_off", False)})
    return out


def _status(camp: dict) -> str:
    st = camp["status"]
    if st == RUNNING and (camp.get("runner_id") is None or
                          clock.as_utc(camp.get("runner_until")) is None or
                          clock.as_utc(camp["runner_until"]) < clock.now()):
        return "interrupted"
    return st


def _own(db, user_id: str, campaign_id: str, with_numbers: bool = False) -> dict:
    calls._check_user(user_id)
    if not isinstance(campaign_id, str) or not campaign_id.isalnum() or len(campaign_id) > 40:
        raise InvalidInput("Malformed campaign id.")
    doc = db.campaigns.find_one({"_id": campaign_id})
    if doc is None or doc.get("user_id") != user_id:
        raise NotFound(f"No campaign {campaign_id}.")
    if with_numbers:
        n_chunks = -(-int(doc["total"]) // NUMBERS_CHUNK)
        ids = [f"{campaign_id}:{k}" for k in range(n_chunks)]
        chunks = {c["_id"]: c["numbers"] for c in db.campaign_numbers.find({"_id": {"$in": ids}})}
        doc["numbers"] = [n for cid in ids for n in chunks[cid]]
    return doc


def _public(doc: dict) -> dict:
    prog = {k: int(v) for k, v in (doc.get("progress") or _empty_progress(int(doc["total"]))).items()}
    return {"campaign_id": doc["_id"], "user_id": doc["user_id"], "name": doc.get("name", ""),
            "kb_id": doc["kb_id"], "minutes_per_call": int(doc["minutes_per_call"]),
            "max_minutes": int(doc["max_minutes"]), "concurrency": int(doc.get("concurrency", 1)),
            "total": int(doc["total"]), "status": _status(doc), "progress": prog, **prog,
            "done": prog["completed"] + prog["failed"],
            "created_at": clock.as_utc(doc["created_at"]), "updated_at": clock.as_utc(doc.get("updated_at"))}
