"""A mandate's token is matched by its id alone: Razorpay's `token.*` webhooks name no customer and no
order (the sandbox sends them as Razorpay publishes them), so the id comes from the authorisation payment,
by its webhook or read by the worker through the authorisation order's payments. A token event that
comes first waits, unmatched, and is acted on once the id is known."""
from __future__ import annotations

import json

import httpx

from services import autorecharge, razorpay_events
from services.autorecharge import events, mandates
from tests.support.autorecharge import customer, wait_for


def _collected_approval(db, h, uid: str) -> tuple[dict, dict]:
    """Set up and approve the mandate with every webhook kept, not delivered: {event name: delivery}."""
    h.forwarder.db, h.forwarder.mode = db, "collect"
    customer(db, uid)
    st = autorecharge.configure(db, uid, threshold=100, amount=500, monthly_cap=5000)
    httpx.post(st["mandate"]["authorisation_url"] + "/approve", trust_env=False).raise_for_status()
    assert h.sandbox.webhooks.wait_idle(10)
    out = {}
    for body, sig, eid in list(h.forwarder.got):
        out.setdefault(json.loads(body)["event"], (body, sig, eid))
    return st, out


def _deliver(db, hit) -> dict:
    body, sig, eid = hit
    return razorpay_events.handle_webhook(db, body, sig, eid)


def test_a_token_event_before_the_authorisation_payment_waits_then_activates_the_mandate(edb, hooked):
    db, h = edb, hooked
    _, hits = _collected_approval(db, h, "asha")
    token = json.loads(hits["token.confirmed"][0])["payload"]["token"]["entity"]
    assert "customer_id" not in token  # as in Razorpay's published token.confirmed
    first = _deliver(db, hits["token.confirmed"])
    assert first["status"] == "unmatched" and mandates.get(db, "asha")["state"] == "pending"
    assert mandates.get(db, "asha")["token_id"] is None
    _deliver(db, hits["payment.captured"])  # the authorisation payment names the token
    m = mandates.get(db, "asha")
    assert (m["state"], m["token_id"], m["token_status"]) == ("active", token["id"], "confirmed")
    ev = db.payment_events.find_one({"_id": hits["token.confirmed"][2]})
    assert (ev["kind"], ev["status"]) == ("webhook", "processed")


def test_with_only_the_token_event_delivered_the_worker_finds_the_token_through_the_order(edb, hooked):
    db, h = edb, hooked
    _, hits = _collected_approval(db, h, "ravi")
    assert _deliver(db, hits["token.confirmed"])["status"] == "unmatched"
    wait_for(lambda: mandates.get(db, "ravi")["state"] == "active", tick=lambda: autorecharge.run(db))
    ev = db.payment_events.find_one({"_id": hits["token.confirmed"][2]})
    assert (ev["kind"], ev["status"]) == ("webhook", "processed")


def test_a_foreign_token_stays_unmatched_and_the_pending_mandate_untouched(edb, hooked):
    db, h = edb, hooked
    _, hits = _collected_approval(db, h, "neha")
    body = json.loads(hits["token.confirmed"][0])
    stranger = dict(body["payload"]["token"]["entity"], id="token_Stranger000001")
    # a foreign token (another integration on the account) stays unmatched; the mandate is untouched
    assert events.token_event(db, stranger)[0] == "unmatched"
    assert mandates.get(db, "neha")["state"] == "pending" and mandates.get(db, "neha")["token_id"] is None
