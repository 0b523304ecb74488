"""The mandate at Razorpay: registering it (customer, authorisation record, registration link), following
it until the customer authorises it, checking its token, and closing what is left when it ends.

Registration follows Razorpay's recurring payments: a customer (`POST /v1/customers`, fail_existing 0:
the same customer again), then a registration link (`POST /v1/subscription_registration/auth_links`)
whose hosted page takes the authorisation transaction; it creates the token (the mandate) with
`max_amount` = the top-up amount, `frequency: as_presented` and a ten-year `expire_at`. UPI Autopay and
cards authorise with Rs. 1, which is a real payment: it is credited to the wallet like any recharge,
through an ordinary recharge record (`_id` = the link's receipt) written before Razorpay is asked. An
e-mandate authorises with Rs. 0.

Every Razorpay call here raises the gateway's FAILURES; the mandate stays as it was, with the error noted,
and the worker tries again.
"""
from __future__ import annotations

from datetime import timedelta

from services import clock, users
from services.autorecharge import events, mandates, notices
from services.autorecharge.mandates import ts
from services.errors import InvalidInput
from services.payments import gateway, records, webhooks

LINK_VALID = timedelta(days=7)
CONTACT_MISSING = "Add your mobile number (set auto-recharge up again): Razorpay needs it to register the mandate."
AUTH_AMOUNT = {"upi": 100, "card": 100, "emandate": 0}
TOKEN_CHECK = timedelta(hours=1)  # a live mandate's token is read this often (webhooks come first; and
# it is read again right before every debit)


def register(db, cfg, m: dict) -> dict:
    """Ask Razorpay for the customer and the registration link (again after a failed try: the link is
    looked up by its receipt first). Returns the mandate as now stored."""
    user = dict(users.get(db, m["user_id"]), contact=users.phone(db, m["user_id"]))
    if not user["contact"]:  # set-up asks for it first; a mandate older than that rule waits for one
        mandates.update(db, m, {"setup_error": CONTACT_MISSING})
        raise InvalidInput(CONTACT_MISSING)
    customer = gateway.create_customer(cfg, customer_body(user, m))
    if m["auth_amount_paise"] > 0:
        records.insert_once(db, records.build("order", user, m["auth_amount_paise"], cfg.mode, ref=m["auth_ref"],
                                              purpose="mandate"))
    invoice = _find_link(cfg, m["auth_ref"]) or gateway.create_registration_link(cfg, _link_body(user, m))
    if not link_answer_ok(invoice, m["auth_ref"]):
        raise gateway.RazorpayDown("registration link answer does not match the request")
    m = mandates.registered(db, m, customer_id=invoice.get("customer_id") or customer["id"], invoice=invoice)
    if m["auth_amount_paise"] > 0 and invoice.get("order_id"):
        records.update(db, m["auth_ref"], {"order_id": invoice["order_id"]}, status="created")
        webhooks.adopt_events(db, m["auth_ref"], first=events.seen)
    return m


def customer_body(user: dict, m: dict) -> dict:
    """`POST /v1/customers`: the same customer again if it exists (fail_existing 0), with the mobile number."""
    return {"name": user["name"][:50], "email": user["email"], "contact": user["contact"], "fail_existing": "0",
            "notes": {"user_id": m["user_id"]}}


def link_answer_ok(invoice: dict, receipt: str) -> bool:
    """Is Razorpay's answer the registration link we asked for (an invoice with our receipt and a page)?"""
    return (str(invoice.get("id", "")).startswith("inv_") and invoice.get("receipt") == receipt
            and isinstance(invoice.get("short_url"), str))


def _link_body(user: dict, m: dict) -> dict:
    now = clock.now()
    # customer.contact is mandatory for Razorpay's registration links
    return {"customer": {"name": user["name"][:50], "email": user["email"], "contact": user["contact"]},
            "type": "link",
            "amount": m["auth_amount_paise"], "currency": "INR",
            "description": f"Wallet auto-recharge for {user['username']}: up to Rs. "
                           f"{m['max_amount_paise'] // 100} per top-up",
            "subscription_registration": _registration(m),
            "receipt": m["auth_ref"], "expire_by": ts(now + LINK_VALID), "sms_notify": 0, "email_notify": 0,
            "notes": {"user_id": m["user_id"], "reference_id": m["auth_ref"]}}


def _registration(m: dict) -> dict:
    """Razorpay's e-mandate registration takes no `frequency` (its SDK fixture and docs send none)."""
    reg = {"method": m["method"], "max_amount": m["max_amount_paise"], "expire_at": ts(m["expire_at"])}
    return reg if m["method"] == "emandate" else reg | {"frequency": m["frequency"]}


def _find_link(cfg, receipt: str) -> dict | None:
    found = [i for i in gateway.list_invoices(cfg, {"receipt": receipt}).get("items") or []
             if isinstance(i, dict) and i.get("receipt") == receipt]
    return found[0] if found else None


def sync_pending(db, cfg, m: dict) -> None:
    """A pending mandate: register it if that failed before, else read its token (found through the
    authorisation order's payments) and apply it; a registration link that lapsed rejects it."""
    if not m.get("registration_id"):
        register(db, cfg, m)
        return
    token_id = m.get("token_id") or _token_of_order(cfg, m.get("auth_order_id"))
    if token_id:
        if not m.get("token_id"):  # learnt from the authorisation payment: its waiting events go first
            events.learnt_token(db, m, token_id)
            m = mandates.fresh(db, m["user_id"])
        token = gateway.fetch_token(cfg, m["customer_id"], token_id)
        mandates.apply_token(db, m, token)
    else:
        invoice = gateway.fetch_invoice(cfg, m["registration_id"])
        if invoice.get("status") in ("expired", "cancelled"):
            mandates.move(db, m, mandates.REJECTED, sets={
                "reason": f"The authorisation link {invoice['status']} before it was approved."})
    mandates.checked(db, m)


def _token_of_order(cfg, order_id: str | None) -> str | None:
    if not order_id:
        return None
    pays = [p for p in gateway.list_order_payments(cfg, order_id).get("items") or []
            if isinstance(p, dict) and p.get("token_id")]
    pays.sort(key=lambda p: p.get("created_at") or 0)
    return pays[-1]["token_id"] if pays else None


def check_token(db, cfg, m: dict, *, force: bool = False) -> dict:
    """Read the live mandate's token and apply what it says (every TOKEN_CHECK, or `force`). Returns the
    mandate as it stands after."""
    last = clock.as_utc(m.get("token_checked_at"))
    if not force and last is not None and clock.now() - last < TOKEN_CHECK:
        return m
    token = gateway.fetch_token(cfg, m["customer_id"], m["token_id"])
    if mandates.apply_token(db, m, token) == "revoked":
        notices.off(db, m, mandates.REVOKED)
    return mandates.get(db, m["user_id"]) or m


def close_at_razorpay(db, cfg, m: dict) -> None:
    """An ended mandate: cancel its token if it can still debit, and its registration link if it can
    still be paid (a rejected authorisation leaves it payable). Then nothing is left open at Razorpay."""
    token_id = m.get("token_id") or _token_of_order(cfg, m.get("auth_order_id"))
    if token_id:
        token = gateway.fetch_token(cfg, m["customer_id"], token_id)
        if mandates.token_state(token) in ("initiated", "confirmed", "paused"):
            token = gateway.cancel_token(cfg, m["customer_id"], token_id)
        mandates.update(db, m, {"token_id": token_id, "token_status": mandates.token_state(token)})
    if m.get("registration_id"):
        invoice = gateway.fetch_invoice(cfg, m["registration_id"])
        if invoice.get("status") == "issued":
            gateway.cancel_invoice(cfg, m["registration_id"])
    mandates.update(db, m, {"razorpay_open": False})
