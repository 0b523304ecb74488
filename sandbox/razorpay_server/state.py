"""The whole fake Razorpay: the core (storage, faults, events) with one mixin per resource."""
from __future__ import annotations

from sandbox.razorpay_server.core import SandboxCore
from sandbox.razorpay_server.links import LinksMixin
from sandbox.razorpay_server.payments import PaymentsMixin
from sandbox.razorpay_server.refunds import RefundsMixin


class Sandbox(LinksMixin, PaymentsMixin, RefundsMixin, SandboxCore):
    """All fake-Razorpay state and its business rules; see each mixin's module."""
