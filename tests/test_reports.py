from datetime import timedelta

from services import clock, ledger, reports


def test_today_transactions_reads_only_todays_active_wallets(edb, monkeypatch):
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() - timedelta(days=3))
    ledger.post(edb, "old", key="o1", type="credit", category="recharge", amount=100)
    monkeypatch.setattr(clock, "now", real_now)
    ledger.post(edb, "amy", key="a1", type="credit", category="recharge", amount=500)
    ledger.post(edb, "bob", key="b1", type="credit", category="recharge", amount=700)
    ledger.post(edb, "amy", key="a2", type="debit", category="call", amount=200)
    rows = reports.today_transactions(edb)
    assert [r["key"] for r in rows] == ["a2", "b1", "a1"]
    assert [r["key"] for r in reports.today_transactions(edb, limit=2)] == ["a2", "b1"]
