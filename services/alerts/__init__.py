"""Low-balance alerts that reach the customer outside the app, each with a one-click recharge link.

docs/alerts.md has the design. A wallet's entries are followed in order by the worker; an entry that
takes the balance under a line (the platform's threshold, up to three of the customer's, zero, or a
runway of N days) writes one alert into an outbox keyed by that crossing, and the worker delivers it
by e-mail (SMTP) and to the customer's signed webhook, retrying for 24 hours. One module per concern:

- `prefs`       what each customer wants: thresholds, runway days, e-mail addresses, webhook and secret
- `thresholds`  the crossing rules (the low-balance rule of services.wallet on each side of an entry)
- `derive`      the pass that follows every wallet's entries and writes alerts (crash-safe cursor)
- `outbox`      the alert documents: key, lease, per-channel state, backoff, listings
- `recharge`    the payment link each alert carries (the usual amount, made once per alert, 7 days)
- `message`     what an alert says; the webhook body
- `mail`        SMTP;  `webhooks` signed POSTs, the delivery log, the test event
- `delivery`    the worker's step: `run(db)`
- `tariffs`     a customer's price change, announced before it takes effect (a notice)
- `keycaps`     an API key at 80 % and 100 % of its daily or monthly cap (a notice, once per crossing)
- `expiry`      credit about to expire, announced 7 days and 1 day ahead (a notice)
- `service_prices` a service's price change (services.usage.prices), announced before it takes effect (a notice)
"""
from services.alerts.delivery import deliver_due, run
from services.alerts.derive import derive
from services.alerts.derive import move_old_tariff_state as backfill
from services.alerts.expiry import announce as announce_expiries
from services.alerts.mail import sink_messages
from services.alerts.notices import mail as mail_invitation
from services.alerts.outbox import counts, of_user, recent
from services.alerts.prefs import Prefs, rotate_secret, update
from services.alerts.prefs import get as get_prefs
from services.alerts.service_prices import announce as announce_service_prices
from services.alerts.tariffs import announce as announce_tariffs
from services.alerts.webhooks import delivery_log, send_test, sign, verify

COLLECTIONS = {"alerts": [[("status", 1)]], "alert_cursors": [], "alert_log": [], "alert_prefs": [],
               "tariff_announcements": [], "service_price_announcements": []}

__all__ = ["Prefs", "announce_expiries", "announce_tariffs", "backfill", "counts", "deliver_due", "delivery_log",
           "derive", "get_prefs", "of_user", "recent", "rotate_secret", "run", "send_test", "sign", "sink_messages",
           "update", "verify"]
__all__ += ["announce_service_prices", "mail_invitation"]
