"""Smart Collect (a customer identifier = a virtual account): `POST /v1/virtual_accounts`,
`GET /v1/virtual_accounts[/{id}]`, `POST /v1/virtual_accounts/{id}/close`, `GET /v1/virtual_accounts/{id}/payments`,
`GET /v1/payments/{id}/bank_transfer`; and the payer's side, `POST /sandbox/virtual_accounts/{id}/credit`.

Shapes as Razorpay publishes them (../shared/razorpay-rails.md section 1): receivers `bank_account`
(`ba_…`, ifsc with a zero fifth character, account_number) and `vpa`; a credit is a captured payment with
`method: "bank_transfer"` plus a `bank_transfer` entity (`bt_…`, mode, `bank_reference` = the UTR, never a
field named `utr`, `payer_bank_account`), announced by `virtual_account.credited` whose `contains` is
`["payment", "virtual_account", "bank_transfer"]`. A credit to a closed account is refused here (Razorpay
refunds it to the payer; nothing reaches the merchant).
"""
from __future__ import annotations

import secrets

from sandbox.razorpay_server.common import (NOT_FOUND, ApiError, check_amount, check_fields, check_notes, check_str,
                                           new_id)
from sandbox.razorpay_server.core import page
from sandbox.razorpay_server.payments import platform_fee

VA_FIELDS = {"receivers", "description", "customer_id", "close_by", "notes", "amount_expected"}
RECEIVER_TYPES = ("bank_account", "vpa")
MODES = ("NEFT", "RTGS", "IMPS", "UPI")
IFSC = "RATN0VAAPIS"
VPA_PREFIX = "rpy."  # Razorpay's VPA receivers read rpy.<descriptor>@<handle>
DEFAULT_PAYER = {"ifsc": "KKBK0000007", "bank_name": "Kotak Mahindra Bank", "name": "Sandbox Payer",
                 "account_number": "765432123456789"}


class VirtualAccountsMixin:

    def __init__(self, *args, **kwargs):
        self.virtual_accounts: dict[str, dict] = {}
        self.bank_transfers: dict[str, dict] = {}  # by payment id
        super().__init__(*args, **kwargs)

    def create_virtual_account(self, body: dict) -> dict:
        check_fields(body, VA_FIELDS)
        types = _receiver_types(body.get("receivers"))
        notes = check_notes(body.get("notes"))
        description = check_str(body["description"], "description", 2048) if body.get("description") else None
        close_by = body.get("close_by")
        with self.lock:
            if close_by is not None and (not isinstance(close_by, int) or close_by < self.now() + 15 * 60):
                raise ApiError("close_by should be at least 15 minutes after current time", "close_by")
            va_id = new_id("va_")
            receivers = [self._receiver(t) for t in types]
            va = {"id": va_id, "name": "Sandbox Merchant", "entity": "virtual_account", "status": "active",
                  "description": description, "amount_expected": body.get("amount_expected"), "amount_paid": 0,
                  "customer_id": body.get("customer_id"), "notes": notes, "receivers": receivers,
                  "close_by": close_by, "closed_at": None, "created_at": self.now()}
            self.virtual_accounts[va_id] = va
            self._emit([("virtual_account.created", {"virtual_account": dict(va)})])
            self._save()
            return dict(va)

    def _receiver(self, kind: str) -> dict:
        if kind == "bank_account":
            digits = "".join(secrets.choice("0123456789") for _ in range(10))
            return {"id": new_id("ba_"), "entity": "bank_account", "ifsc": IFSC, "bank_name": "RBL Bank",
                    "name": "Sandbox Merchant", "notes": [], "account_number": "222333" + digits}
        user = VPA_PREFIX + "sbx" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(9))
        return {"id": new_id("vpa_"), "entity": "vpa", "username": user, "handle": "icici",
                "address": f"{user}@icici"}

    def _va(self, va_id: str) -> dict:
        if va_id not in self.virtual_accounts:
            raise ApiError(NOT_FOUND, "id", reason="NA")
        return self.virtual_accounts[va_id]

    def get_virtual_account(self, va_id: str) -> dict:
        with self.lock:
            return dict(self._va(va_id))

    def list_virtual_accounts(self, query) -> dict:
        with self.lock:
            return page(list(self.virtual_accounts.values()), query)

    def close_virtual_account(self, va_id: str) -> dict:
        with self.lock:
            va = self._va(va_id)
            if va["status"] == "closed":
                raise ApiError("Virtual account is already closed", "id")
            va.update(status="closed", closed_at=self.now())
            self._emit([("virtual_account.closed", {"virtual_account": dict(va)})])
            self._save()
            return dict(va)

    def virtual_account_payments(self, va_id: str, query) -> dict:
        with self.lock:
            self._va(va_id)
            pays = [self.payments[t["payment_id"]] for t in self.bank_transfers.values()
                    if t["virtual_account_id"] == va_id]
            return page(pays, query)

    def bank_transfer_of(self, payment_id: str) -> dict:
        with self.lock:
            if payment_id not in self.bank_transfers:
                raise ApiError(NOT_FOUND, "id", reason="NA")
            transfer = self.bank_transfers[payment_id]
            return dict(transfer, virtual_account=dict(self.virtual_accounts[transfer["virtual_account_id"]]))

    def credit_virtual_account(self, va_id: str, body: dict) -> dict:
        """The payer's bank sends money to the account: a captured bank_transfer payment, and its webhook."""
        check_fields(body, {"amount", "mode", "payer_account", "payer_name", "payer_ifsc"})
        amount = check_amount(body.get("amount"))
        mode = body.get("mode", "NEFT")
        if mode not in MODES:
            raise ApiError(f"mode must be one of {', '.join(MODES)}", "mode")
        payer = dict(DEFAULT_PAYER, id=new_id("ba_"), entity="bank_account", notes=[])
        for field, key in (("payer_account", "account_number"), ("payer_name", "name"), ("payer_ifsc", "ifsc")):
            if body.get(field) is not None:
                payer[key] = check_str(body[field], field, 40)
        with self.lock:
            va = self._va(va_id)
            if va["status"] != "active":
                raise ApiError("The virtual account is closed: the bank returns the transfer to the payer.", "id")
            fee, tax = platform_fee(amount)
            payment = {"id": new_id("pay_"), "entity": "payment", "amount": amount, "currency": "INR",
                       "status": "captured", "order_id": None, "invoice_id": None, "international": False,
                       "method": "bank_transfer", "amount_refunded": 0, "refund_status": None, "captured": True,
                       "description": "", "card_id": None, "bank": None, "wallet": None, "vpa": None,
                       "email": "void@razorpay.com", "contact": "+919999999999", "customer_id": va["customer_id"],
                       "notes": [], "fee": fee, "tax": tax, "error_code": None, "error_description": None,
                       "created_at": self.now()}
            self.payments[payment["id"]] = payment
            transfer = {"id": new_id("bt_"), "entity": "bank_transfer", "payment_id": payment["id"], "mode": mode,
                        "bank_reference": "".join(secrets.choice("0123456789") for _ in range(12)),
                        "amount": amount, "payer_bank_account": payer, "virtual_account_id": va_id}
            self.bank_transfers[payment["id"]] = transfer
            va["amount_paid"] += amount
            self._emit([("virtual_account.credited", {"payment": dict(payment), "virtual_account": dict(va),
                                                      "bank_transfer": dict(transfer)})])
            self._save()
            return {"payment_id": payment["id"], "bank_transfer": dict(transfer, virtual_account=dict(va))}


def _receiver_types(receivers) -> list[str]:
    if not isinstance(receivers, dict) or not isinstance(receivers.get("types"), list) or not receivers["types"]:
        raise ApiError("The receivers field is required.", "receivers")
    types = receivers["types"]
    if any(t not in RECEIVER_TYPES for t in types) or len(set(types)) != len(types):
        raise ApiError("Invalid receiver type", "receivers")
    return list(types)
