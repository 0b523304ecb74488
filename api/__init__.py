"""REST API of the voice platform's prepaid wallet: a thin JSON layer over `services/`.

Money: out as exact paise (`balance_paise`) with its rupee twin (`balance`, a JSON number with at most 2
decimals); in as rupees (number or string, `amount`; a comma only groups thousands: `1,00,000`), checked by
services.money.parse_rupees. Request bodies are strict JSON (`true` is not 1) of at most 64 KiB. Errors
always have the shape `{"error": {"code": "...", "message": "..."}}` (api/errors.py maps service errors to
statuses: 400 bad input, 401 no/expired token or API key, 402 insufficient balance or spend cap (the
wallet's or a key's), 403 role or scope, 404 not found or not yours, 409 conflict, 413 body too large, 422
schema, 429 sign-in throttle, simultaneous calls or forged webhooks (with Retry-After), 503 payments unavailable).

Access (Authorization: Bearer <token> from /api/auth/login or /api/auth/signup, or an API key wk_live_... /
wk_test_... from POST /api/keys). A customer is an account: people act on it as members (owner, finance,
developer, viewer; `X-Account: <id>` names another account of theirs), the voice platform with an API key
(scopes calls, wallet:read, payments; caps per key). docs/api.md has the roles table.

| endpoint                                  | no token | user | analyst | admin |
|-------------------------------------------|----------|------|---------|-------|
| POST /api/auth/signup, /api/auth/login    | yes      | yes  | yes     | yes   |
| GET /api/health                           | yes      | yes  | yes     | yes   |
| POST /api/payment/webhook (signature)     | yes      | yes  | yes     | yes   |
| /api/auth/me, /api/auth/logout, password  | 401      | own  | own     | own   |
| wallet balance, transactions (+download)  | 401      | own  | own     | own   |
| payment key/order/verify/links (+cancel)  | 401      | own  | own     | own   |
| /api/refunds, /api/refunds/refundable     | 401      | own  | own     | own   |
| POST /api/call, /api/call/{id}/update, /end | 401    | own  | own     | own   |
| GET /api/wallet/terms                     | 401      | own  | own     | own   |
| /api/notifications (alerts, webhook)      | 401      | own  | own     | own   |
| GET /api/receipts (+ /{number}.pdf), GET /api/statements/{yyyy-mm}.pdf (.csv) | 401 | own | own | own |
| GET /api/admin/summary                    | 401      | 403  | read    | read  |
| POST /api/admin/credit, wallet/set-call-rate | 401   | 403  | 403     | yes   |
| /api/admin/plans (+ PUT /{name}), /api/admin/customers/{id}/terms | 401 | 403 | 403 | yes |
| /api/admin/refund-requests (+approve/reject), amounts-due, reconciliation | 401 | 403 | 403 | yes |
| /api/admin/users/... (roles, disable, locks) | 401   | 403  | 403     | yes   |
| /api/accounts, /api/account (+ members, invitations, audit), /api/invitations/accept | 401 | own | own | own |
| /api/keys (create, list), /api/keys/{id} (revoke), /api/keys/{id}/rotate | 401 | own | own | own |

"own": every such endpoint acts on the caller's account only (within what their role or the key's scopes
allow); there is no parameter to point at another account's data, and another account's payment link,
call, key or member answers 404 (not 403: no hint that it exists).
Analysts are the reporting role: they may read the aggregated admin summary, and change nothing outside
their own wallet. Only admins move money on someone else's behalf or change prices.
"""
