"""OpenAPI links: which answer feeds which next request (sign up -> sign in -> start a call -> update and
end it).

They document the flows for client authors (Swagger UI lists them under each response) and drive
schemathesis's stateful run (tests/test_api_schema.py). Operation ids are `<tag>_<function>`
(api/main.operation_id). Ending a call needs the token that started it: an OpenAPI link cannot carry
a request header forward, so clients keep it, and so does the test.
"""
from __future__ import annotations

from typing import Any

# What FastAPI takes as a route's `responses=`.
Responses = dict[int | str, dict[str, Any]]

BEARER = {"header.Authorization": "Bearer {$response.body#/token}"}


def link(operation_id: str, description: str, *, parameters: dict | None = None, body: dict | None = None) -> dict:
    out: dict[str, Any] = {"operationId": operation_id, "description": description}
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    return out


SIGNED_IN = {
    "start_call": link("calls_start", "Start a call with the new token", parameters=BEARER),
    "me": link("auth_me", "Who the token belongs to", parameters=BEARER),
    "balance": link("wallet_balance", "The token's wallet", parameters=BEARER),
}
SIGNUP: Responses = {201: {"links": {
    "login": link("auth_login", "Sign in again with the credentials just registered",
                  body={"username": "$request.body#/username", "password": "$request.body#/password"}),
    **SIGNED_IN}}}
LOGIN: Responses = {200: {"links": SIGNED_IN}}
CALL_STARTED: Responses = {200: {"links": {
    "update_call": link("calls_update", "Report this call's usage: the next slice, or the second to end",
                        parameters={"path.call_id": "$response.body#/call_id"}),
    "end_call": link("calls_end", "End (and bill) this call, with the token that started it",
                     parameters={"path.call_id": "$response.body#/call_id"})}}}
LINK_CREATED: Responses = {200: {"links": {
    "link_status": link("payment_link_status", "Follow this payment link",
                        parameters={"path.link_id": "$response.body#/payment_link_id"})}}}
