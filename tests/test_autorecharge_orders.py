"""A debit's order when Razorpay accepts a receipt twice (it does: a receipt is no idempotency key). A try
whose order was made at Razorpay but whose answer was lost, or a worker killed right after, never leads to
a second order or a second debit: the next try finds the order by its receipt (`GET /v1/orders?receipt=`)."""
from __future__ import annotations

import pytest

from services import autorecharge, ledger
from services.autorecharge import charges, mandates, planner
from services.payments import gateway
from tests.support.autorecharge import active_mandate, customer, sandbox_payments, spend, wait_for
from tests.support.payments import control


def _planned(db, h, uid: str) -> tuple[dict, dict]:
    customer(db, uid, 300)
    active_mandate(db, h, uid)
    spend(db, uid, 220, "calls")  # below the threshold: a top-up is due
    m = mandates.get(db, uid)
    c = planner.plan(db, m)
    assert c is not None and c["state"] == charges.PLANNED
    return mandates.fresh(db, uid), c


def _orders_of(h, ref: str) -> list[dict]:
    with h.sandbox.lock:
        return [o for o in h.sandbox.orders.values() if o["receipt"] == ref]


def test_the_sandbox_takes_a_receipt_twice_so_the_lookup_is_what_keeps_one_order(edb, hooked):
    db, h = edb, hooked
    hooked.forwarder.db = db
    m, c = _planned(db, h, "asha")
    cfg = gateway.settings()
    body = charges.order_body(m, c, int(h.sandbox.now()) + 3600)
    gateway.create_order(cfg, body)
    gateway.create_order(cfg, body)  # Razorpay accepts it again
    assert len(_orders_of(h, c["ref"])) == 2
    first = min(_orders_of(h, c["ref"]), key=lambda o: (o["created_at"], o["id"]))
    assert charges.find_order(cfg, c["ref"])["id"] == first["id"]


def test_an_order_whose_answer_was_lost_is_found_by_its_receipt_one_order_one_debit(edb, hooked):
    db, h = edb, hooked
    hooked.forwarder.db = db
    m, c = _planned(db, h, "asha")
    control(h, "fault", mode="5xx", count=1, after=True)  # the order is made, its answer lost
    with pytest.raises(gateway.RazorpayDown):
        charges.announce(db, gateway.settings(), m, charges.fresh(db, c["_id"]), planner.notice())
    assert len(_orders_of(h, c["ref"])) == 1 and charges.fresh(db, c["_id"])["state"] == charges.PLANNED
    wait_for(lambda: charges.get(db, c["_id"])["state"] == "credited", tick=lambda: autorecharge.run(db), timeout=30)
    [order] = _orders_of(h, c["ref"])  # still one: found, not made again
    assert charges.fresh(db, c["_id"])["order_id"] == order["id"]
    assert [p["order_id"] for p in sandbox_payments(h, "asha")] == [order["id"]]
    assert ledger.audit(db) == []
