"""The /v1 API over HTTP: Basic auth, fault injection, Razorpay's error shapes, and one handler per route."""
from __future__ import annotations

import asyncio
import base64
import hmac
import json
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sandbox.razorpay_server.common import AUTH_FAILED, SERVER_ERROR, ApiError
from sandbox.razorpay_server.state import Sandbox


def sandbox_of(request: Request) -> Sandbox:
    return request.app.state.sandbox


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _authorized(request: Request, sb: Sandbox) -> bool:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    # compare_digest on both halves: no early exit that leaks which part was wrong
    return hmac.compare_digest(user, sb.key_id) & hmac.compare_digest(password, sb.key_secret)


async def json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError("The request body is not valid JSON") from None
    if isinstance(body, list) and not body:  # PHP-style empty object
        return {}
    if not isinstance(body, dict):
        raise ApiError("The request body must be a JSON object")
    return body


def _fault_response(fault: dict) -> Response:
    if fault["mode"] == "5xx":
        return JSONResponse(SERVER_ERROR, status_code=500)
    return HTMLResponse("<html><head><title>502 Bad Gateway</title></head>"
                        "<body><center><h1>502 Bad Gateway</h1></center></body></html>", status_code=502)


async def _answer(handler: Callable, request: Request, sb: Sandbox) -> Response:
    try:
        result = handler(request, sb)
        if asyncio.iscoroutine(result):
            result = await result
        return result if isinstance(result, Response) else JSONResponse(result)
    except ApiError as exc:
        return exc.response()


def api(handler: Callable[[Request, Sandbox], Any]) -> Callable:
    """Wrap a /v1 handler with fault injection, Basic auth, call counting and Razorpay error shapes."""

    async def endpoint(request: Request) -> Response:
        sb = sandbox_of(request)
        route = request.scope.get("route")
        sb.count_call(f"{request.method} {getattr(route, 'path', request.url.path)}")
        fault = sb.take_fault()
        if fault and fault["mode"] == "slow" and not fault["after"]:
            await asyncio.sleep(fault["delay"])
        if fault and fault["mode"] in ("5xx", "non_json") and not fault["after"]:
            return _fault_response(fault)
        if not _authorized(request, sb):
            return JSONResponse(AUTH_FAILED, status_code=401)
        response = await _answer(handler, request, sb)
        # "after" = the work was done but the answer got lost (5xx, non_json) or is late (slow): exercises
        # idempotent retries, and a client that dies while its request is already done.
        if fault and fault["mode"] in ("5xx", "non_json"):
            return _fault_response(fault)
        if fault and fault["mode"] == "slow" and fault["after"]:
            await asyncio.sleep(fault["delay"])
        return response

    return endpoint


def control(handler: Callable[[Request, Sandbox], Any]) -> Callable:
    """Wrap a /sandbox test-control handler: no auth, no faults, same error shape."""

    async def endpoint(request: Request) -> Response:
        return await _answer(handler, request, sandbox_of(request))

    return endpoint


# -- /v1 handlers

async def links_root(request: Request, sb: Sandbox) -> dict:
    if request.method == "POST":
        return sb.create_link(await json_body(request), _base_url(request))
    q = request.query_params
    return {"payment_links": sb.list_links(q.get("reference_id"), q.get("payment_id"))}


async def link_item(request: Request, sb: Sandbox) -> dict:
    link_id = request.path_params["id"]
    if request.method == "PATCH":
        return sb.edit_link(link_id, await json_body(request))
    return sb.get_link(link_id)


def link_cancel(request: Request, sb: Sandbox) -> dict:
    return sb.cancel_link(request.path_params["id"])


def link_notify(request: Request, sb: Sandbox) -> dict:
    sb.get_link(request.path_params["id"])
    if request.path_params["medium"] not in ("sms", "email"):
        raise ApiError("medium must be sms or email", "medium")
    return {"success": True}


async def orders_root(request: Request, sb: Sandbox) -> dict:
    if request.method == "POST":
        return sb.create_order(await json_body(request))
    return sb.list_orders(request.query_params.get("receipt"))


def order_item(request: Request, sb: Sandbox) -> dict:
    return sb.get_order(request.path_params["id"])


def order_payments(request: Request, sb: Sandbox) -> dict:
    return sb.order_payments(request.path_params["id"])


def payments_root(request: Request, sb: Sandbox) -> dict:
    return sb.list_payments(request.query_params)


def payment_item(request: Request, sb: Sandbox) -> dict:
    return sb.get_payment(request.path_params["id"])


async def payment_refund(request: Request, sb: Sandbox) -> dict:
    return sb.create_refund(request.path_params["id"], await json_body(request),
                            idempotency_key=request.headers.get("x-refund-idempotency"))


def payment_refunds(request: Request, sb: Sandbox) -> dict:
    return sb.payment_refunds(request.path_params["id"], request.query_params)


def payment_refund_item(request: Request, sb: Sandbox) -> dict:
    return sb.payment_refund(request.path_params["id"], request.path_params["rid"])


def refunds_root(request: Request, sb: Sandbox) -> dict:
    return sb.list_refunds(request.query_params)


def refund_item(request: Request, sb: Sandbox) -> dict:
    return sb.get_refund(request.path_params["id"])


async def virtual_accounts_root(request: Request, sb: Sandbox) -> dict:
    if request.method == "POST":
        return sb.create_virtual_account(await json_body(request))
    return sb.list_virtual_accounts(request.query_params)


def virtual_account_item(request: Request, sb: Sandbox) -> dict:
    return sb.get_virtual_account(request.path_params["id"])


def virtual_account_close(request: Request, sb: Sandbox) -> dict:
    return sb.close_virtual_account(request.path_params["id"])


def virtual_account_payments(request: Request, sb: Sandbox) -> dict:
    return sb.virtual_account_payments(request.path_params["id"], request.query_params)


def payment_bank_transfer(request: Request, sb: Sandbox) -> dict:
    return sb.bank_transfer_of(request.path_params["id"])


def settlements_root(request: Request, sb: Sandbox) -> dict:
    return sb.list_settlements(request.query_params)


def settlement_item(request: Request, sb: Sandbox) -> dict:
    return sb.get_settlement(request.path_params["id"])


def settlements_recon(request: Request, sb: Sandbox) -> dict:
    return sb.recon_combined(request.query_params)


async def qr_root(request: Request, sb: Sandbox) -> dict:
    if request.method == "POST":
        return sb.create_qr(await json_body(request), _base_url(request))
    return sb.list_qrs(request.query_params)


def qr_item(request: Request, sb: Sandbox) -> dict:
    return sb.get_qr(request.path_params["id"])


def qr_close(request: Request, sb: Sandbox) -> dict:
    return sb.close_qr(request.path_params["id"])


def qr_payments(request: Request, sb: Sandbox) -> dict:
    return sb.qr_payments(request.path_params["id"], request.query_params)


def v1_unknown(request: Request, sb: Sandbox) -> dict:
    raise ApiError("The requested URL was not found on the server.", reason="NA")


ROUTES = [
    Route("/v1/payment_links", api(links_root), methods=["GET", "POST"]),
    Route("/v1/payment_links/{id}", api(link_item), methods=["GET", "PATCH"]),
    Route("/v1/payment_links/{id}/cancel", api(link_cancel), methods=["POST"]),
    Route("/v1/payment_links/{id}/notify_by/{medium}", api(link_notify), methods=["POST"]),
    Route("/v1/orders", api(orders_root), methods=["GET", "POST"]),
    Route("/v1/orders/{id}", api(order_item), methods=["GET"]),
    Route("/v1/orders/{id}/payments", api(order_payments), methods=["GET"]),
    Route("/v1/payments", api(payments_root), methods=["GET"]),
    Route("/v1/payments/qr_codes", api(qr_root), methods=["GET", "POST"]),
    Route("/v1/payments/qr_codes/{id}", api(qr_item), methods=["GET"]),
    Route("/v1/payments/qr_codes/{id}/close", api(qr_close), methods=["POST"]),
    Route("/v1/payments/qr_codes/{id}/payments", api(qr_payments), methods=["GET"]),
    Route("/v1/payments/{id}", api(payment_item), methods=["GET"]),
    Route("/v1/payments/{id}/refund", api(payment_refund), methods=["POST"]),
    Route("/v1/payments/{id}/refunds", api(payment_refunds), methods=["GET"]),
    Route("/v1/payments/{id}/refunds/{rid}", api(payment_refund_item), methods=["GET"]),
    Route("/v1/payments/{id}/bank_transfer", api(payment_bank_transfer), methods=["GET"]),
    Route("/v1/virtual_accounts", api(virtual_accounts_root), methods=["GET", "POST"]),
    Route("/v1/virtual_accounts/{id}", api(virtual_account_item), methods=["GET"]),
    Route("/v1/virtual_accounts/{id}/close", api(virtual_account_close), methods=["POST"]),
    Route("/v1/virtual_accounts/{id}/payments", api(virtual_account_payments), methods=["GET"]),
    Route("/v1/settlements", api(settlements_root), methods=["GET"]),
    Route("/v1/settlements/recon/combined", api(settlements_recon), methods=["GET"]),
    Route("/v1/settlements/{id}", api(settlement_item), methods=["GET"]),
    Route("/v1/refunds", api(refunds_root), methods=["GET"]),
    Route("/v1/refunds/{id}", api(refund_item), methods=["GET"]),
    Route("/v1/{rest:path}", api(v1_unknown), methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
]
