"""What an alert says, the same on every channel: a headline, a sentence, and the recharge link.

The webhook body is built once, when the alert is ready to go, and kept on the alert as text
(`payload`): every retry sends the very same bytes, so a receiver sees one event id with one body.
"""
from __future__ import annotations

import json

from services import clock
from services.alerts import recharge
from services.money import format_rupees

EVENT_TYPES = {"threshold": "wallet.balance_low", "zero": "wallet.balance_zero", "runway": "wallet.runway_low",
               "test": "wallet.test"}


def event_type(a: dict) -> str:
    """The webhook's event type: a notice names its own (services.alerts.notices)."""
    return a.get("event_type") or EVENT_TYPES[a["kind"]]


def button(a: dict) -> str | None:
    """A notice without a payment link opens the wallet page (None: the recharge button); an e-mail with
    an action of its own (an invitation) says what it does."""
    if a.get("action_label"):
        return a["action_label"]
    return "Open your wallet" if a["kind"] == "notice" and not a.get("link") else None


def headline(a: dict) -> str:
    if a["kind"] == "notice":
        return a["headline"]
    bal = format_rupees(a["balance_paise"])
    if a["kind"] == "zero":
        return "Your wallet is empty: calls have stopped"
    if a["kind"] == "threshold":
        return f"Low balance: {bal} left (below {format_rupees(a['threshold_paise'])})"
    if a["kind"] == "runway":
        return f"About {days(a['runway_days'])} of calls left ({bal})"
    return "Test event from your wallet"


def days(n: int | None) -> str:
    return "less than a day" if not n else f"{n} day" + ("" if n == 1 else "s")


def sentence(a: dict) -> str:
    bal, kind = format_rupees(a["balance_paise"]), a["kind"]
    if kind == "notice":
        return a["text"]
    if kind == "zero":
        text = f"Your wallet balance reached {bal}. New calls and campaigns cannot start until you recharge."
    elif kind == "threshold":
        text = f"Your wallet balance fell to {bal}, below your alert at {format_rupees(a['threshold_paise'])}."
    elif kind == "runway":
        return (f"At your average spend of the last 7 days, your balance of {bal} lasts about "
                f"{days(a['runway_days'])}.")
    else:
        return "This is a test event. Nothing happened to your wallet."
    if a.get("runway_days") is not None:
        text += f" At your recent spend that is about {days(a['runway_days'])} of calls."
    return text


def footer(a: dict) -> str:
    """Why the reader gets this e-mail."""
    if a.get("event_type") == "account.invitation":
        return "You get this because an owner of the account invited this address. Not expecting it? Ignore it."
    return "You get this because of the alerts set on your wallet's Notifications page."


def link_of(a: dict) -> dict:
    """The recharge link the alert carries (or the wallet page when there is none), or its own action."""
    if a.get("action_url"):
        return {"url": a["action_url"], "amount_paise": None, "expires_at": None}
    link = a.get("link")
    if link:
        return {"url": link["short_url"], "amount_paise": int(link["amount_paise"]),
                "expires_at": _iso(link.get("expire_by"))}
    return {"url": recharge.fallback_url(), "amount_paise": None, "expires_at": None}


def recharge_line(a: dict) -> str:
    link = link_of(a)
    if a.get("action_url"):
        return f"{a['action_label']}: {link['url']}"
    if a["kind"] == "notice" and a.get("with_link") is False:
        return f"Your wallet and its auto-recharge settings: {link['url']}"
    if link["amount_paise"] is None:
        return f"Recharge on your wallet page: {link['url']}"
    until = clock.fmt(a["link"]["expire_by"], "%d %b %Y, %H:%M") + f" {clock.abbr()}"  # as people read it
    charged = int(a["link"].get("charged_paise") or link["amount_paise"])  # what the payer pays (GST on top)
    pays = f" (you pay {format_rupees(charged)} with GST)" if charged != link["amount_paise"] else ""
    return (f"Recharge {format_rupees(link['amount_paise'])}{pays} in one click: {link['url']} "
            f"(valid until {until}).")


def payload(a: dict) -> str:
    """The webhook body: compact JSON with sorted keys (its bytes are what the signature covers)."""
    body = {"id": a["event_id"], "type": event_type(a), "created_at": _iso(a["created_at"]),
            "data": {"user_id": a["user_id"], "balance_paise": int(a["balance_paise"]),
                     "threshold_paise": int(a.get("threshold_paise") or 0),
                     "crossed_paise": [int(x) for x in a.get("crossed_paise") or []],
                     "runway_days": a.get("runway_days"), "entry_id": a.get("entry_id"),
                     "sequence": a.get("n"), "message": sentence(a), "recharge": link_of(a)}}
    if a["kind"] == "notice":
        body["data"]["notice"] = a.get("data") or {}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _iso(t) -> str | None:
    t = clock.as_utc(t)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z" if t else None
