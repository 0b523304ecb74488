"""The hosted payment page (`short_url`): Pay / Fail / Pay partially, the signed redirect back to the
link's callback_url after a payment, and a failure page that says why and links back to the app. Pay takes
Razorpay's test cards and test UPI ids (sandbox/razorpay_server/testcards.py), prefilled with the paying ones."""
from __future__ import annotations

import html
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sandbox.razorpay_server.common import METHODS, MIN_AMOUNT, PAYABLE, ApiError, rupees, with_query
from sandbox.razorpay_server.http import sandbox_of
from sandbox.razorpay_server import testcards

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Razorpay Sandbox</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:2rem auto}}.note{{background:#fff3cd;padding:.5rem}}
form{{display:inline-block;margin:.25rem}}button{{padding:.5rem 1rem}}</style></head>
<body><h1>Razorpay Sandbox</h1><p class="note">Sandbox — no real money</p>{content}</body></html>"""


def _page(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(content=content), status_code=status)


def _pay_page(link: dict, fee: int) -> HTMLResponse:
    lid = html.escape(link["id"])
    due = link["amount"] - link["amount_paid"]
    parts = [f"<p>Amount: <strong>₹{rupees(link['amount'])}</strong></p>",
             f"<p>Description: {html.escape(link['description'] or '')}</p>",
             (f"<p>Status: <span id=\"status\">{html.escape(link['status'])}</span>"
              f" · Paid ₹{rupees(link['amount_paid'])} · Due ₹{rupees(due)}</p>")]
    if fee:
        parts.append(f"<p>Convenience fee: ₹{rupees(fee)} (you pay ₹{rupees(due + fee)})</p>")
    if link["status"] in PAYABLE:
        options = "".join(f'<option value="{m}">{m}</option>' for m in METHODS)
        parts.append(f'<p class="hint">{html.escape(testcards.HINT)}</p>'
                     f'<form method="post" action="/pay/{lid}/pay"><select name="method">{options}</select>'
                     f'{_instrument_fields()}<button type="submit">Pay</button></form>'
                     f'<form method="post" action="/pay/{lid}/fail"><button type="submit">Fail</button></form>')
        if link["accept_partial"]:
            half = max(MIN_AMOUNT, due // 2)
            parts.append(f'<form method="post" action="/pay/{lid}/partial"><label>Amount (paise) '
                         f'<input type="number" name="amount" min="{MIN_AMOUNT}" max="{due}" value="{half}"></label>'
                         f'{_instrument_fields()}<button type="submit">Pay partially</button></form>')
    else:
        parts.append("<p>This payment link cannot be paid any more.</p>")
    return _page("".join(parts))


def _instrument_fields() -> str:
    """The card and UPI id inputs, prefilled with the test instruments that pay."""
    d = {k: html.escape(v) for k, v in testcards.DEFAULTS.items()}
    return (f'<label>Card number <input name="card_number" value="{d["card_number"]}"></label>'
            f'<label>Expiry <input name="card_expiry" value="{d["card_expiry"]}" size="5"></label>'
            f'<label>CVV <input name="card_cvv" value="{d["card_cvv"]}" size="4"></label>'
            f'<label>UPI id <input name="vpa" value="{d["vpa"]}"></label>')


def _failure_page(link: dict, payment: dict) -> HTMLResponse:
    """Razorpay does not redirect on failure: the customer stays here, may retry, or go back to the app
    (which learns of the failure from the payment.failed webhook)."""
    lid = html.escape(link["id"])
    parts = [(f"<h2>Payment failed</h2><p>Payment {html.escape(payment['id'])} failed: "
              f"<span id=\"reason\">{html.escape(payment.get('error_description') or 'unknown reason')}</span></p>"),
             f'<p><a href="/pay/{lid}">Try again</a></p>']
    if link.get("callback_url"):
        parts.append(f'<p><a id="back" href="{html.escape(link["callback_url"])}">Back to the merchant</a></p>')
    return _page("".join(parts))


async def _form(request: Request) -> dict:
    # Parsed by hand so the page does not depend on python-multipart being installed.
    return dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))


async def pay_page(request: Request) -> Response:
    sb = sandbox_of(request)
    try:
        return _pay_page(sb.get_link(request.path_params["id"]), sb.convenience_fee)
    except ApiError as exc:
        return _page(f"<p>{html.escape(exc.description)}</p>", status=404)


def _partial_amount(sb, link_id: str, form: dict) -> int:
    link = sb.get_link(link_id)
    if not link["accept_partial"]:
        raise ApiError("partial payment is not enabled for this payment link", "amount")
    raw, due = form.get("amount", "").strip(), link["amount"] - link["amount_paid"]
    try:
        return int(raw) if raw else max(MIN_AMOUNT, due // 2)
    except ValueError:
        raise ApiError("amount must be a whole number of paise", "amount") from None


async def pay_page_action(request: Request) -> Response:
    sb, link_id, action = sandbox_of(request), request.path_params["id"], request.path_params["action"]
    if action not in ("pay", "fail", "partial"):
        return _page("<p>Unknown action</p>", status=404)
    form = await _form(request)
    back = f'<p><a href="/pay/{html.escape(link_id)}">Back to the payment page</a></p>'
    try:
        if action == "fail" or not testcards.pays(form, sb.now()):  # Fail, or a declining test instrument
            return _failure_page(*sb.fail_link(link_id, form.get("method", "upi")))
        amount = _partial_amount(sb, link_id, form) if action == "partial" else None
        link, payment = sb.pay_link(link_id, amount, form.get("method", "upi"))
    except ApiError as exc:
        return _page(f"<h2>Payment not possible</h2><p>{html.escape(exc.description)}</p>{back}", status=400)
    if link["callback_url"]:
        return RedirectResponse(with_query(link["callback_url"], sb.callback_params(link, payment["id"])),
                                status_code=303)
    return _page(f"<h2>Payment successful</h2><p>Paid ₹{rupees(payment['amount'])} "
                 f"(payment {html.escape(payment['id'])}).</p>{back}")
