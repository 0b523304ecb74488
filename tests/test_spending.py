"""Spending is usage (calls, campaign calls) and nothing else (services/spending.py): a refund to the bank,
and an amount due paid from a later credit, leave the wallet but are not spending. Every reader of the
rule agrees: a wallet's days, the runway forecast (alerts), the auto-recharge forecast, the admin's top
spenders, the analyst's trends and the per-customer summary."""
from __future__ import annotations

from datetime import timedelta

from services import accounts, clock, ledger, reports, spending
from services.autorecharge import planner

CALLS = (4_000, 2_418)          # Rs. 64.18 of calls, like the walk in issue 24
REFUND = 10_000                 # Rs. 100.00 back to the bank


def _wallet(db, uid: str = "asha") -> None:
    accounts.create_user(db, uid, "pw-spending-1", "Asha Rao", f"{uid}@example.com", "user")
    ledger.post(db, uid, key=f"{uid}:r1", type="credit", category="recharge", amount=50_000, source="pay_1")
    for i, amount in enumerate(CALLS):
        ledger.post(db, uid, key=f"{uid}:c{i}", type="debit", category="call", amount=amount,
                    meta={"seconds": 60 * (i + 1)})
    ledger.debit_owing(db, uid, key=f"{uid}:rf", amount=REFUND, category="refund", source="rfnd_1",
                       note="Razorpay refund")


def test_a_refund_is_money_out_but_not_spending(edb):
    _wallet(edb)
    today = clock.today()
    rows = spending.daily(edb, "asha", today - timedelta(days=29), today)
    assert sum(r["spent"] for r in rows) == sum(CALLS)
    assert sum(r["other_out"] for r in rows) == REFUND
    assert sum(r["debits"] for r in rows) == sum(CALLS) + REFUND  # money out still says all of it
    assert spending.category_totals(rows, "debit") == {"call": sum(CALLS)}
    spent, days = spending.runway_basis(edb, "asha", window_days=30)
    assert (spent, days) == (sum(CALLS), 1)
    run = spending.runway(edb, "asha")
    # Rs. 335.82 left at Rs. 64.18 a day lasts 5 days; counting the refund as spending said 2.
    assert (run["available_paise"], run["avg_daily_paise"], run["days"]) == (33_582, sum(CALLS), 5)


def test_an_amount_due_paid_from_a_later_credit_is_not_spending_either(edb):
    accounts.create_user(edb, "ravi", "pw-spending-1", "Ravi K", "ravi@example.com", "user")
    ledger.post(edb, "ravi", key="r1", type="credit", category="recharge", amount=5_000, source="pay_1")
    ledger.post(edb, "ravi", key="c1", type="debit", category="call", amount=4_500, meta={"seconds": 270})
    ledger.debit_owing(edb, "ravi", key="rf", amount=5_000, category="refund", source="rfnd_1")  # Rs. 45 due
    ledger.post(edb, "ravi", key="r2", type="credit", category="recharge", amount=10_000, source="pay_2")
    assert ledger.get_wallet(edb, "ravi").due == 0
    rows = spending.daily(edb, "ravi", clock.today(), clock.today())
    assert rows[0]["spent"] == 4_500 and rows[0]["other_out"] == 5_000  # 500 taken at once, 4,500 paid later


def test_every_reader_of_the_rule_agrees(edb):
    _wallet(edb)
    _wallet(edb, "bina")
    today = clock.today()
    top = reports.top_spenders(edb, today - timedelta(days=29), today)
    assert [(r["username"], r["spent_paise"]) for r in top] == [("asha", sum(CALLS)), ("bina", sum(CALLS))]
    trend = reports.spending_trends(edb, today, today)[0]
    assert (trend["spent"], trend["other_out"], trend["debits"]) == (2 * sum(CALLS), 2 * REFUND,
                                                                     2 * (sum(CALLS) + REFUND))
    row = next(r for r in reports.user_summary(edb, today, today) if r["username"] == "asha")
    assert (row["spent_paise"], row["refunded_paise"], row["debits_paise"]) == (sum(CALLS), REFUND,
                                                                                sum(CALLS) + REFUND)
    assert reports.admin_summary(edb)["top_spenders"][0]["spent_paise"] == sum(CALLS)
    # The auto-recharge forecast: the last horizon's usage, never the refund.
    assert planner.forecast(edb, "asha").expected == max(sum(CALLS), -(-sum(CALLS) * int(
        planner.horizon().total_seconds() * 1000) // 86_400_000))
