"""Auto-recharge, the Indian way: a UPI Autopay, card or e-mandate mandate registered through Razorpay's
recurring payments tops the wallet up before the calls stop, a notice period ahead and within the
customer's caps.

docs/autorecharge.md has the design. One module per concern:

- `terms`     what the customer asks for, checked (threshold, amount, caps, method, Rs. 15,000 rule)
- `mandates`  the mandate documents, their states and every move between them (the token's word applied)
- `setup`     the mandate at Razorpay: customer, registration link, following the token, closing it
- `planner`   when to top up: the forecast, the crossing a charge belongs to, the caps
- `charges`   one document per debit attempt and its steps: order with notice, recurring payment, outcome
- `worker`    the worker's step `run(db)`; `notices` what the customer is told; `events` token webhooks
- `account`   what the customer does: configure, pause, resume, cancel, status
"""
from services.autorecharge.account import cancel, configure, next_charge, pause, resume, skip, status
from services.autorecharge.charges import recent as all_charges
from services.autorecharge.mandates import all_mandates
from services.autorecharge.worker import run

# Indexes for the worker's step, whose reads follow what is due, not every mandate: states, charges still
# open, what changed since the planner's last pass (`updated_at`), caps that reopen (`plan_again_at`).
COLLECTIONS: dict[str, list] = {
    "autorecharge_mandates": [[("state", 1)], [("in_flight", 1)], [("razorpay_open", 1)], [("updated_at", 1)],
                              [("plan_again_at", 1)]],
    "autorecharge_charges": [[("state", 1)]], "autorecharge_history": [], "autorecharge_meta": []}

__all__ = ["all_charges", "all_mandates", "cancel", "configure", "next_charge", "pause", "resume", "run", "skip",
           "status"]
