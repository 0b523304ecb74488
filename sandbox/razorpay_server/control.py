"""/sandbox/* control endpoints for tests and demos: no auth, no faults. They play the customer (pay,
fail, authorize), the bank (a failed payment captured late, a refund processed or failed), Razorpay
itself (expiry, auto-refunds) and the operator (faults, settings, webhook log, call counts)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sandbox.razorpay_server.common import ApiError, hmac_hex, with_query
from sandbox.razorpay_server.http import control, json_body
from sandbox.razorpay_server.state import Sandbox


def c_health(request: Request, sb: Sandbox) -> Response:
    return PlainTextResponse("ok")


def c_reset(request: Request, sb: Sandbox) -> dict:
    sb.reset()
    return {"ok": True}


async def c_fault(request: Request, sb: Sandbox) -> dict:
    return sb.set_fault(await json_body(request))


async def c_config(request: Request, sb: Sandbox) -> dict:
    return sb.configure(await json_body(request))


def c_webhooks(request: Request, sb: Sandbox) -> dict:
    return {"deliveries": sb.webhooks.snapshot(), "pending": sb.webhooks.pending()}


def c_redeliver(request: Request, sb: Sandbox) -> dict:
    return {"redelivered": sb.redeliver()}


def c_stats(request: Request, sb: Sandbox) -> dict:
    with sb.lock:
        return {"calls": dict(sb.calls)}


def _paid(sb: Sandbox, link: dict, payment: dict) -> dict:
    params = sb.callback_params(link, payment["id"])
    return {"payment_id": payment["id"], "status": link["status"], "payment_status": payment["status"],
            "amount": payment["amount"], "fee": payment["fee"], "callback_params": params,
            "callback_url": link["callback_url"] or None,
            "redirect_url": with_query(link["callback_url"], params) if link["callback_url"] else None}


async def c_link_action(request: Request, sb: Sandbox) -> dict:
    link_id, action = request.path_params["id"], request.path_params["action"]
    if action not in ("pay", "fail", "expire", "authorize"):
        raise ApiError("action must be pay, fail, authorize or expire", "action", status=404)
    body = await json_body(request)
    if action == "expire":
        return sb.force_expire(link_id)
    if action in ("fail", "authorize"):
        act = sb.fail_link if action == "fail" else sb.authorize_link
        link, payment = act(link_id, body.get("method", "upi"))
        return {"payment_id": payment["id"], "status": payment["status"], "link_status": link["status"],
                "error_description": payment["error_description"]}
    link, payment = sb.pay_link(link_id, body.get("amount"), body.get("method", "upi"), body.get("fee"))
    return _paid(sb, link, payment)


async def c_order_action(request: Request, sb: Sandbox) -> dict:
    order_id, action = request.path_params["id"], request.path_params["action"]
    if action not in ("pay", "fail"):
        raise ApiError("action must be pay or fail", "action", status=404)
    body = await json_body(request)
    payment = sb.pay_order(order_id, body.get("method", "upi"), fail=action == "fail")
    if action == "fail":
        return {"razorpay_order_id": order_id, "razorpay_payment_id": payment["id"], "status": "failed"}
    return {"razorpay_order_id": order_id, "razorpay_payment_id": payment["id"],
            "razorpay_signature": hmac_hex(sb.key_secret, f"{order_id}|{payment['id']}")}


async def c_payment_action(request: Request, sb: Sandbox) -> dict:
    """capture (a failed payment, late, same id) | auto_refund (an authorized one) | refund (as if from
    Razorpay's dashboard: the wallet learns of it only by webhook or reconciliation)."""
    payment_id, action = request.path_params["id"], request.path_params["action"]
    if action == "capture":
        return sb.capture_failed(payment_id)
    if action == "auto_refund":
        return sb.auto_refund(payment_id)
    if action == "refund":
        return sb.create_refund(payment_id, await json_body(request))
    raise ApiError("action must be capture, auto_refund or refund", "action", status=404)


def c_refund_action(request: Request, sb: Sandbox) -> dict:
    refund_id, action = request.path_params["id"], request.path_params["action"]
    if action not in ("process", "fail"):
        raise ApiError("action must be process or fail", "action", status=404)
    return sb.decide_refund(refund_id, "processed" if action == "process" else "failed")


async def c_virtual_account_credit(request: Request, sb: Sandbox) -> dict:
    """A payer's bank transfer to a virtual account ({amount, mode?, payer_account?, payer_name?, payer_ifsc?})."""
    return sb.credit_virtual_account(request.path_params["id"], await json_body(request))


async def c_settle(request: Request, sb: Sandbox) -> dict:
    """The bank settles everything captured or refunded so far ({stray_paise?, mandate_authorisation?})."""
    return sb.settle(await json_body(request))


async def c_qr_pay(request: Request, sb: Sandbox) -> dict:
    """A payer pays a UPI QR code ({amount?, vpa?}; the amount only for a QR without a fixed one)."""
    return sb.pay_qr(request.path_params["id"], await json_body(request))


ROUTES = [
    Route("/sandbox/health", control(c_health), methods=["GET"]),
    Route("/sandbox/reset", control(c_reset), methods=["POST"]),
    Route("/sandbox/fault", control(c_fault), methods=["POST"]),
    Route("/sandbox/config", control(c_config), methods=["POST"]),
    Route("/sandbox/webhooks", control(c_webhooks), methods=["GET"]),
    Route("/sandbox/webhooks/redeliver", control(c_redeliver), methods=["POST"]),
    Route("/sandbox/stats", control(c_stats), methods=["GET"]),
    Route("/sandbox/links/{id}/{action:str}", control(c_link_action), methods=["POST"]),
    Route("/sandbox/orders/{id}/{action:str}", control(c_order_action), methods=["POST"]),
    Route("/sandbox/payments/{id}/{action:str}", control(c_payment_action), methods=["POST"]),
    Route("/sandbox/refunds/{id}/{action:str}", control(c_refund_action), methods=["POST"]),
    Route("/sandbox/settlements/settle", control(c_settle), methods=["POST"]),
    Route("/sandbox/qr_codes/{id}/pay", control(c_qr_pay), methods=["POST"]),
    Route("/sandbox/virtual_accounts/{id}/credit", control(c_virtual_account_credit), methods=["POST"]),
]
