"""Payment Links: create one at Razorpay for a recharge, after our record exists.

Our record (`_id` = reference_id) is written BEFORE Razorpay is called, so every link Razorpay knows has a
record here, and a create whose answer was lost stays reconcilable by reference_id.
"""
from __future__ import annotations

from services import config
from services.errors import PaymentUnavailable
from services.payments import gateway, records, webhooks
from services.payments.outcomes import DOWN_MESSAGE, refused_message
from services.payments.records import to_int


def callback_url() -> str:
    """Where Razorpay sends the payer back: the dashboard's wallet page."""
    return config.get().public_url.rstrip("/") + "/wallet"


def create_payment_link(db, user_id: str, amount) -> dict:
    """A Razorpay Payment Link for a recharge of `amount` rupees. Returns
    dict(payment_link_id, short_url, status, amount_paise, reference_id).

    Raises InvalidAmount/BelowMinimum (nothing written anywhere), NotFound (no such user),
    PaymentUnavailable (payments off, or Razorpay failed: our record stays, reconcilable by reference).
    """
    cfg = gateway.required()
    user, record = records.create(db, "link", user_id, amount, cfg.mode)
    ref = record["_id"]
    try:
        link = gateway.call(cfg, "payment_link.create", link_body(user, record))
        check_link(link, record)
    except gateway.FAILURES as exc:
        records.update(db, ref, {"last_error": str(exc)[:300]}, status="error_creating")
        if isinstance(exc, gateway.RazorpayRefused):
            raise PaymentUnavailable(refused_message(str(exc))) from None
        raise PaymentUnavailable(DOWN_MESSAGE) from None
    records.attach_link(db, record, link)
    webhooks.adopt_events(db, ref, link["id"])
    return {"payment_link_id": link["id"], "short_url": link["short_url"], "status": "created",
            "amount_paise": record["amount_paise"], "reference_id": ref}


def link_body(user: dict, record: dict) -> dict:
    """What Razorpay is asked to create for `record` (notes carry our ids for webhooks to find it)."""
    return {"amount": record["amount_paise"], "currency": "INR", "accept_partial": False,
            "reference_id": record["_id"], "description": f"Wallet recharge for {user['username']}",
            "customer": {"name": user["name"][:80], "email": user["email"]},
            "notify": {"sms": False, "email": False}, "reminder_enable": False,
            "notes": {"user_id": user["username"], "reference_id": record["_id"]},
            "callback_url": callback_url(), "callback_method": "get",
            "expire_by": int(record["expire_by"].timestamp())}


def check_link(link: dict, record: dict) -> None:
    """The link Razorpay returned must be the one we asked for; otherwise treat the answer as garbage."""
    if not (isinstance(link.get("id"), str) and link["id"].startswith("plink_")
            and link.get("reference_id") == record["reference_id"]
            and to_int(link.get("amount")) == record["amount_paise"] and isinstance(link.get("short_url"), str)):
        raise gateway.RazorpayDown("payment link answer does not match the request")
