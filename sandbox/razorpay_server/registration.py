"""Registration links: `POST /v1/subscription_registration/auth_links` (an invoice of `type: "link"` with
a `subscription_registration` block), `GET /v1/invoices[/{id}]`, `POST /v1/invoices/{id}/cancel`, and
the hosted authorisation page (`short_url` = `/auth/{invoice id}`) with Approve and Reject.

Creating the link makes (or reuses, by email and contact) the customer and the authorisation order:
`method`, `customer_id`, `token: {max_amount, expire_at, frequency}`, receipt = the link's receipt,
notes = the link's notes. Approving pays that order with the authorisation amount (Rs. 0 for an
e-mandate) and creates the token: `confirmed` at once for UPI Autopay and cards (registration is real
time), `initiated` for an e-mandate until the bank confirms it (/sandbox/tokens/{id}/confirm). Events:
payment.authorized, payment.captured, order.paid, invoice.paid, token.confirmed|initiated. Rejecting
fails the payment and rejects the token (payment.failed, token.rejected); the link stays payable.
"""
from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from sandbox.razorpay_server.customers import hook_token
from sandbox.razorpay_server.common import (NOT_FOUND, ApiError, check_fields, check_notes, check_str, require_int,
                                           rupees)

LINK_FIELDS = {"customer", "type", "amount", "currency", "description", "subscription_registration", "receipt",
               "expire_by", "sms_notify", "email_notify", "notes"}
REGISTRATION_FIELDS = {"method", "max_amount", "expire_at", "frequency", "auth_type", "bank_account",
                       "first_payment_amount"}
# UPI Recurring supports only as_presented and monthly (Razorpay's docs); e-mandates debit as presented.
FREQUENCIES = {"upi": ("as_presented", "monthly"), "card": ("as_presented", "daily", "weekly", "monthly", "yearly"),
               "emandate": ("as_presented",)}
# UPI's documented `max_amount` range (Razorpay's UPI authorisation docs): Rs. 1 to Rs. 99,999 per debit, beyond
# a few financial-services MCCs (Rs. 2,00,000) that a voice-AI platform is not.
UPI_MIN, UPI_MAX = 100, 9_999_900
AUTH_FAILURE = {"error_code": "BAD_REQUEST_ERROR", "error_description": "The customer declined the mandate.",
                "error_source": "customer", "error_step": "payment_authentication",
                "error_reason": "mandate_rejected"}


class RegistrationMixin:

    def __init__(self, *args, **kwargs):
        self.invoices: dict[str, dict] = {}
        super().__init__(*args, **kwargs)

    def create_auth_link(self, body: dict, base_url: str) -> dict:
        check_fields(body, LINK_FIELDS)
        if body.get("type") != "link":
            raise ApiError("The type must be link.", "type")
        reg = _registration(body.get("subscription_registration"), self.now())
        amount = require_int(body.get("amount", 0), "amount")
        if amount < (0 if reg["method"] == "emandate" else 100):
            raise ApiError("The amount must be atleast INR 1.00", "amount")
        cust = body.get("customer")
        if not isinstance(cust, dict) or not cust.get("name"):
            raise ApiError("The customer name is required.", "customer")
        if not str(cust.get("contact") or "").strip():  # mandatory at Razorpay for a registration link
            raise ApiError("The customer contact field is required.", "customer.contact")
        notes = check_notes(body.get("notes"))
        receipt = check_str(body["receipt"], "receipt", 40) if body.get("receipt") is not None else None
        description = check_str(body.get("description") or "", "description", 2048)
        expire_by = require_int(body["expire_by"], "expire_by") if body.get("expire_by") is not None else None
        with self.lock:
            if receipt and any(i["receipt"] == receipt for i in self.invoices.values()):
                raise ApiError("receipt already exists for another invoice", "receipt")
            customer = self._customer_for(str(cust["name"])[:50], cust.get("email"),
                                          str(cust["contact"]) if cust.get("contact") else None, [])
            order = self._new_order(amount, "INR", receipt, notes)
            order.update(method=reg["method"], customer_id=customer["id"], payment_capture=True,
                         token={k: reg[k] for k in ("max_amount", "expire_at", "frequency")})
            invoice = self._new_invoice(customer, order, amount, receipt, description, notes, expire_by, base_url)
            self._save()
            return dict(invoice)

    def _new_invoice(self, customer, order, amount, receipt, description, notes, expire_by, base_url) -> dict:
        now, inv_id = self.now(), f"inv_{order['id'][len('order_'):]}"
        invoice = {"id": inv_id, "entity": "invoice", "receipt": receipt, "invoice_number": receipt,
                   "customer_id": customer["id"], "customer_details": dict(customer), "order_id": order["id"],
                   "payment_id": None, "status": "issued", "expire_by": expire_by, "issued_at": now,
                   "paid_at": None, "cancelled_at": None, "expired_at": None, "date": now, "amount": amount,
                   "amount_paid": 0, "amount_due": amount, "currency": "INR", "description": description,
                   "notes": notes, "type": "link", "created_at": now,
                   "short_url": f"{self.public_url or base_url.rstrip('/')}/auth/{inv_id}"}
        self.invoices[inv_id] = invoice
        return invoice

    def _invoice(self, invoice_id: str) -> dict:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise ApiError(NOT_FOUND, "id", reason="NA")
        if invoice["status"] == "issued" and invoice["expire_by"] and self.now() >= invoice["expire_by"]:
            invoice.update(status="expired", expired_at=self.now())
            self._emit([("invoice.expired", {"invoice": dict(invoice)})])
            self._save()
        return invoice

    def get_invoice(self, invoice_id: str) -> dict:
        with self.lock:
            return dict(self._invoice(invoice_id))

    def list_invoices(self, receipt: str | None = None) -> dict:
        with self.lock:
            items = [dict(i) for i in self.invoices.values() if receipt is None or i["receipt"] == receipt]
        return {"entity": "collection", "count": len(items), "items": items}

    def cancel_invoice(self, invoice_id: str) -> dict:
        with self.lock:
            invoice = self._invoice(invoice_id)
            if invoice["status"] != "issued":
                raise ApiError(f"Invoice in {invoice['status']} state cannot be cancelled", "id")
            invoice.update(status="cancelled", cancelled_at=self.now())
            self._save()
            return dict(invoice)

    def authorise(self, invoice_id: str, approve: bool) -> dict:
        """The customer on the hosted page (or /sandbox/auth/{id}/approve|reject)."""
        with self.lock:
            invoice = self._invoice(invoice_id)
            if invoice["status"] != "issued":
                raise ApiError(f"This registration link is {invoice['status']}.", "id")
            order = self.orders[invoice["order_id"]]
            params = order["token"]
            status = ("initiated" if order["method"] == "emandate" else "confirmed") if approve else "rejected"
            token = self._new_token(invoice["customer_id"], order["method"], params["max_amount"],
                                    params["expire_at"], params["frequency"], status)
            payment = self._auth_payment(order, invoice, token, approve)
            if approve:
                self._order_paid(order, payment["amount"])
                invoice.update(status="paid", paid_at=self.now(), payment_id=payment["id"],
                               amount_paid=invoice["amount"], amount_due=0)
                self._emit([("payment.authorized", {"payment": dict(payment, status="authorized", captured=False)}),
                            ("payment.captured", {"payment": dict(payment)}),
                            ("order.paid", {"payment": dict(payment), "order": dict(order)}),
                            ("invoice.paid", {"payment": dict(payment), "order": dict(order),
                                              "invoice": dict(invoice)}),
                            (f"token.{status}", {"token": hook_token(token)})], shuffle=True)
            else:
                token["recurring_details"]["failure_reason"] = AUTH_FAILURE["error_description"]
                self._order_attempted(order)
                self._emit([("payment.failed", {"payment": dict(payment)}),
                            ("token.rejected", {"token": hook_token(token)})])
            self._save()
            return {"invoice": dict(invoice), "payment": dict(payment), "token": dict(token)}

    def _auth_payment(self, order: dict, invoice: dict, token: dict, approve: bool) -> dict:
        payment = self._new_payment(order["amount"], order["id"], order["method"],
                                    "captured" if approve and order["amount"] > 0 else "failed" if not approve
                                    else "created")
        customer = self.customers[invoice["customer_id"]]
        payment.update(invoice_id=invoice["id"], token_id=token["id"], customer_id=customer["id"], recurring=True,
                       email=customer["email"] or payment["email"], contact=customer["contact"] or payment["contact"])
        if not approve:
            payment.update(AUTH_FAILURE)
        elif order["amount"] == 0:  # an e-mandate's authorisation moves no money
            payment.update(status="captured", captured=True, fee=0, tax=0)
        return payment


def _registration(reg, now: int) -> dict:
    if not isinstance(reg, dict):
        raise ApiError("The subscription_registration field is required.", "subscription_registration")
    check_fields(reg, REGISTRATION_FIELDS)
    method = reg.get("method")
    if method not in FREQUENCIES:
        raise ApiError("method must be one of upi, card, emandate", "method")
    frequency = reg.get("frequency", "as_presented" if method != "upi" else None)
    if frequency not in FREQUENCIES[method]:
        raise ApiError(f"frequency must be one of {', '.join(FREQUENCIES[method])} for {method}", "frequency")
    max_amount = require_int(reg.get("max_amount"), "max_amount")
    if max_amount < 100 or (method == "upi" and max_amount > UPI_MAX):
        raise ApiError("max_amount is out of the allowed range", "max_amount")
    expire_at = require_int(reg.get("expire_at"), "expire_at")
    if expire_at <= now:
        raise ApiError("expire_at must be in the future", "expire_at")
    return {"method": method, "frequency": frequency, "max_amount": max_amount, "expire_at": expire_at}


# ------------------------------------------------------------------------------ the hosted page

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Razorpay Sandbox · Authorise</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:2rem auto}}.note{{background:#fff3cd;padding:.5rem}}
form{{display:inline-block;margin:.25rem}}button{{padding:.5rem 1rem}}</style></head>
<body><h1>Razorpay Sandbox</h1><p class="note">Sandbox — no real money</p>{content}</body></html>"""


def _page(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(content=content), status_code=status)


async def auth_page(request: Request) -> Response:
    sb = request.app.state.sandbox
    try:
        invoice = sb.get_invoice(request.path_params["id"])
    except ApiError as exc:
        return _page(f"<p>{html.escape(exc.description)}</p>", status=404)
    order = sb.get_order(invoice["order_id"])
    iid = html.escape(invoice["id"])
    parts = [f"<h2>Authorise automatic debits</h2><p>{html.escape(invoice['description'] or '')}</p>",
             (f"<p>Method: {html.escape(order['method'])} · Up to <strong>₹{rupees(order['token']['max_amount'])}"
              f"</strong> per debit · Frequency: {html.escape(order['token']['frequency'])}</p>"),
             f"<p>Authorisation payment now: ₹{rupees(invoice['amount'])}</p>",
             f"<p>Status: <span id=\"status\">{html.escape(invoice['status'])}</span></p>"]
    if invoice["status"] == "issued":
        parts.append(f'<form method="post" action="/auth/{iid}/approve"><button type="submit">Approve mandate</button>'
                     f'</form><form method="post" action="/auth/{iid}/reject"><button type="submit">Reject</button>'
                     "</form>")
    return _page("".join(parts))


async def auth_page_action(request: Request) -> Response:
    sb, iid, action = request.app.state.sandbox, request.path_params["id"], request.path_params["action"]
    if action not in ("approve", "reject"):
        return _page("<p>Unknown action</p>", status=404)
    try:
        out = sb.authorise(iid, action == "approve")
    except ApiError as exc:
        return _page(f"<h2>Not possible</h2><p>{html.escape(exc.description)}</p>", status=400)
    state = out["token"]["recurring_details"]["status"]
    return _page(f"<h2 id=\"result\">Mandate {html.escape(state)}</h2><p>Token {html.escape(out['token']['id'])}. "
                 "You can close this page and go back to the merchant.</p>")
