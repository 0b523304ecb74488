"""Notices: a message the wallet owes its customer for something other than a line crossed (a debit
announced a day ahead, a failed auto-recharge, a cap reached, a mandate revoked), delivered like any
alert: the outbox, the same e-mail addresses and signed webhook, the same retries and leases.

The caller names the notice's crossing (`key`): a notice is written once per key, whatever the crashes
and races, like an alert is once per entry. With `with_link` it carries a payment link (the fallback
when an automatic top-up did not happen), for `link_amount_paise` or the customer's usual amount.
"""
from __future__ import annotations

from services import config, ledger
from services.alerts import outbox, prefs


def notify(db, user_id: str, key: str, *, event_type: str, headline: str, text: str, data: dict | None = None,
           with_link: bool = False, link_amount_paise: int | None = None) -> bool:
    """Write the notice `key` for `user_id` (False: it was written before). `event_type` is the webhook's
    (e.g. `wallet.autorecharge.scheduled`); `data` (JSON values) rides in the webhook body as `notice`."""
    p = prefs.get(db, user_id)
    domain = config.get().smtp.sender.rpartition("@")[2].strip(" >") or "localhost"
    fields = {"kind": "notice", "label": "notice", "event_type": event_type, "headline": headline, "text": text,
              "data": data or {}, "with_link": with_link, "link_amount_paise": link_amount_paise,
              "balance_paise": ledger.get_wallet(db, user_id).available, "threshold_paise": 0,
              "crossed_paise": [], "runway_days": None, "entry_id": None, "n": 0, "entry_at": None}
    doc = outbox.build_notice(outbox.alert_id(user_id, "notice", key), user_id, fields, emails=p.emails,
                              webhook_url=p.webhook_url, sender_domain=domain)
    return outbox.add(db, doc)


def mail(db, user_id: str, key: str, *, to: str, headline: str, text: str, action_url: str, action_label: str) -> bool:
    """An e-mail to one address about the account `user_id` (an invitation), by the alerts' path (the
    outbox, its retries, the same SMTP server or `make run`'s sink), with a button to `action_url`.
    Written once per `key`; no webhook and no payment link."""
    domain = config.get().smtp.sender.rpartition("@")[2].strip(" >") or "localhost"
    fields = {"kind": "notice", "label": "notice", "event_type": "account.invitation", "headline": headline,
              "text": text, "data": {}, "with_link": False, "link_amount_paise": None, "action_url": action_url,
              "action_label": action_label, "balance_paise": 0, "threshold_paise": 0, "crossed_paise": [],
              "runway_days": None, "entry_id": None, "n": 0, "entry_at": None}
    doc = outbox.build_notice(outbox.alert_id(user_id, "mail", key), user_id, fields, emails=[to], webhook_url="",
                              sender_domain=domain)
    return outbox.add(db, doc)


def exists(db, user_id: str, key: str) -> bool:
    return outbox.get(db, outbox.alert_id(user_id, "notice", key)) is not None


def of_user(db, user_id: str, limit: int = 50) -> list[dict]:
    """The customer's notices, newest first, as services.alerts.outbox.public shows alerts."""
    return [a for a in outbox.of_user(db, user_id, limit) if a["kind"] == "notice"]
