"""The routes of recurring payments: the /v1 API (customers, tokens, registration links, invoices, recurring
payments), the hosted authorisation page, and the /sandbox/* controls that play the customer and the
bank. Listed before http.ROUTES so its catch-all does not shadow them."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from sandbox.razorpay_server import registration
from sandbox.razorpay_server.common import ApiError
from sandbox.razorpay_server.http import _base_url, api, control, json_body
from sandbox.razorpay_server.state import Sandbox


async def customers_root(request: Request, sb: Sandbox) -> dict:
    return sb.create_customer(await json_body(request))


def customer_item(request: Request, sb: Sandbox) -> dict:
    return sb.get_customer(request.path_params["id"])


def customer_tokens(request: Request, sb: Sandbox) -> dict:
    return sb.customer_tokens(request.path_params["id"])


def token_item(request: Request, sb: Sandbox) -> dict:
    cid, tid = request.path_params["id"], request.path_params["tid"]
    if request.method == "DELETE":
        return sb.delete_token(cid, tid)
    return sb.get_token(cid, tid)


def token_cancel(request: Request, sb: Sandbox) -> dict:
    return sb.cancel_token(request.path_params["id"], request.path_params["tid"])


async def auth_links(request: Request, sb: Sandbox) -> dict:
    return sb.create_auth_link(await json_body(request), _base_url(request))


def invoices_root(request: Request, sb: Sandbox) -> dict:
    return sb.list_invoices(request.query_params.get("receipt"))


def invoice_item(request: Request, sb: Sandbox) -> dict:
    return sb.get_invoice(request.path_params["id"])


def invoice_cancel(request: Request, sb: Sandbox) -> dict:
    return sb.cancel_invoice(request.path_params["id"])


async def create_recurring(request: Request, sb: Sandbox) -> dict:
    return sb.create_recurring(await json_body(request))


# -- /sandbox controls

def c_auth(request: Request, sb: Sandbox) -> dict:
    action = request.path_params["action"]
    if action not in ("approve", "reject"):
        raise ApiError("action must be approve or reject", "action", status=404)
    return sb.authorise(request.path_params["id"], action == "approve")


async def c_token(request: Request, sb: Sandbox) -> dict:
    action = request.path_params["action"]
    if action == "debits":
        return sb.set_debit_outcomes(request.path_params["id"], (await json_body(request)).get("outcomes"))
    return sb.customer_token_action(request.path_params["id"], action)


def c_afa(request: Request, sb: Sandbox) -> dict:
    action = request.path_params["action"]
    if action not in ("approve", "decline"):
        raise ApiError("action must be approve or decline", "action", status=404)
    return sb.decide_afa(request.path_params["id"], action == "approve")


ROUTES = [
    Route("/v1/customers", api(customers_root), methods=["POST"]),
    Route("/v1/customers/{id}", api(customer_item), methods=["GET"]),
    Route("/v1/customers/{id}/tokens", api(customer_tokens), methods=["GET"]),
    Route("/v1/customers/{id}/tokens/{tid}", api(token_item), methods=["GET", "DELETE"]),
    Route("/v1/customers/{id}/tokens/{tid}/cancel", api(token_cancel), methods=["PUT"]),
    Route("/v1/subscription_registration/auth_links", api(auth_links), methods=["POST"]),
    Route("/v1/invoices", api(invoices_root), methods=["GET"]),
    Route("/v1/invoices/{id}", api(invoice_item), methods=["GET"]),
    Route("/v1/invoices/{id}/cancel", api(invoice_cancel), methods=["POST"]),
    Route("/v1/payments/create/recurring", api(create_recurring), methods=["POST"]),
    Route("/auth/{id}", registration.auth_page, methods=["GET"]),
    Route("/auth/{id}/{action:str}", registration.auth_page_action, methods=["POST"]),
    Route("/sandbox/auth/{id}/{action:str}", control(c_auth), methods=["POST"]),
    Route("/sandbox/tokens/{id}/{action:str}", control(c_token), methods=["POST"]),
    Route("/sandbox/recurring/{id}/{action:str}", control(c_afa), methods=["POST"]),
]
