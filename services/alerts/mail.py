"""Alert e-mails over SMTP (services.config `smtp`: host, port, TLS, user, password, sender).

Each alert has one Message-ID, fixed when it was written: a crash after the server took the message but
before the outbox noted it sends it again with the same Message-ID, which mail systems and people read
as the same message. `make run` with no SMTP server configured starts a local sink (sandbox/smtp_sink.py)
and points this at it.
"""
from __future__ import annotations

import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime

import httpx

from services import clock, config
from services.alerts import message
from services.money import format_rupees

TIMEOUT = 10  # seconds for the connection and each SMTP command


class Retry(Exception):
    """The server could not take the message now (down, busy, 4xx): try again later."""


class Refused(Exception):
    """The server refused it for good (5xx for every recipient, bad credentials)."""


class Partial(Exception):
    """Sent, though some addresses were refused."""


def build(a: dict, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = message.headline(a)
    msg["From"] = sender
    msg["To"] = ", ".join(a["email"]["to"])
    msg["Date"] = format_datetime(clock.as_utc(a["created_at"]))
    msg["Message-ID"] = a["message_id"]
    msg["X-Wallet-Event-Id"] = a["event_id"]
    link = message.link_of(a)
    msg.set_content(f"{message.sentence(a)}\n\n{message.recharge_line(a)}\n\n{message.footer(a)}\n")
    button = message.button(a) or ("Recharge now" if link["amount_paise"] is None else
                                   f"Recharge {format_rupees(link['amount_paise'])} now")
    msg.add_alternative(f"<p>{_esc(message.sentence(a))}</p><p><a href=\"{_esc(link['url'])}\" "
                        f"style=\"padding:10px 16px;background:#1a73e8;color:#fff;text-decoration:none;"
                        f"border-radius:6px\">{_esc(button)}</a></p><p style=\"color:#666\">"
                        f"{_esc(message.recharge_line(a))}</p>", subtype="html")
    return msg


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def send(a: dict) -> None:
    """Hand the alert's e-mail to the configured server. Raises Retry or Refused."""
    cfg = config.get().smtp
    if not cfg.host:
        raise Retry("No SMTP server is configured (SMTP_HOST).")
    msg = build(a, cfg.sender)
    try:
        with _connect(cfg) as smtp:
            if cfg.user:
                smtp.login(cfg.user, cfg.password)
            refused = smtp.send_message(msg, to_addrs=list(a["email"]["to"]))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [c for c, _ in exc.recipients.values()]
        raise (Refused if all(c >= 500 for c in codes) else Retry)(f"recipients refused: {exc.recipients}") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise Refused(f"SMTP login refused: {exc.smtp_code}") from None
    except smtplib.SMTPResponseException as exc:
        err = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:300]
        raise (Refused if exc.smtp_code >= 500 else Retry)(err) from None
    except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, dropped line, TLS
        raise Retry(f"{type(exc).__name__}: {exc}"[:300]) from None
    if refused:  # some recipients took it: it went out; the others are noted on the alert
        raise Partial(f"not taken for: {', '.join(sorted(refused))}"[:300])


def _connect(cfg) -> smtplib.SMTP:
    if cfg.tls == "ssl":
        return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=TIMEOUT, context=ssl.create_default_context())
    smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=TIMEOUT)
    if cfg.tls == "starttls":
        try:
            smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
    return smtp


def sink_messages(limit: int = 100) -> list[dict]:
    """What the local SMTP sink received (newest first), when `make run` started one (SMTP_SINK_URL);
    [] otherwise. Raises OSError-like httpx errors for the page to show."""
    url = config.get().smtp.sink_url
    if not url:
        return []
    r = httpx.get(f"{url}/messages", timeout=5, trust_env=False)
    r.raise_for_status()
    return [dict(m, received_at=datetime.fromtimestamp(m["received_at"] or 0, timezone.utc)) for m in r.json()[:limit]]
