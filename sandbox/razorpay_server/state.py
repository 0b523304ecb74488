"""The whole fake Razorpay: the core (storage, faults, events) with one mixin per resource."""
from __future__ import annotations

from sandbox.razorpay_server.core import SandboxCore
from sandbox.razorpay_server.customers import CustomersMixin
from sandbox.razorpay_server.links import LinksMixin
from sandbox.razorpay_server.payments import PaymentsMixin
from sandbox.razorpay_server.qrcodes import QrCodesMixin
from sandbox.razorpay_server.recurring import RecurringMixin
from sandbox.razorpay_server.refunds import RefundsMixin
from sandbox.razorpay_server.registration import RegistrationMixin
from sandbox.razorpay_server.settlements import SettlementsMixin
from sandbox.razorpay_server.virtual_accounts import VirtualAccountsMixin


class Sandbox(QrCodesMixin, SettlementsMixin, VirtualAccountsMixin, RecurringMixin, RegistrationMixin, CustomersMixin,
              LinksMixin, PaymentsMixin, RefundsMixin, SandboxCore):
    """All fake-Razorpay state and its business rules; see each mixin's module."""
    STORES = SandboxCore.STORES + ("customers", "tokens", "token_cancels", "invoices", "virtual_accounts",
                                     "bank_transfers", "settlements", "recon_items", "qr_codes", "qr_paid")
