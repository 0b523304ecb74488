"""scripts/worker.py logs a tick at INFO only when it did something: a quiet tick every 30 s would bury
the ones that recovered a call or sent an alert."""
from __future__ import annotations

from scripts import worker


def test_a_quiet_tick_is_not_news_and_any_work_is(db):
    quiet = worker.tick(db)
    assert quiet["recover_stale_calls"] == 0 and not worker.did_something(quiet)
    assert not worker.did_something(worker.tick(db))  # and stays quiet
    for busy in (dict(quiet, recover_stale_calls=1), dict(quiet, alerts=dict(quiet["alerts"], sent=2)),
                 dict(quiet, ledger=dict(quiet["ledger"], pending_finished=1)), {"run_daily": ["2026-12-01"]},
                 {"run_daily": "reconciled"}):
        assert worker.did_something(busy), busy
    assert not worker.did_something({"a": None, "b": [], "c": {"d": 0}, "e": False})
