"""Settlements: `GET /v1/settlements[/{id}]`, `GET /v1/settlements/recon/combined?year=&month=[&day=]`, and
the bank's side, `POST /sandbox/settlements/settle`.

Shapes as Razorpay publishes them (../shared/razorpay-rails.md section 3): a settlement `{id "setl_…",
entity, amount, status, fees, tax, utr, created_at}`; a recon item per settled payment (credit = amount -
fee, `payment_id` null) and refund (debit = amount, `payment_id` = the refunded payment), each with
`entity_id`, `fee`, `tax`, `settlement_id`, `settlement_utr`, `settled_at`. The recon's day is the
settlement's date in India (IST).

`settle` plays the bank: every captured payment and processed refund not settled yet goes into one new
settlement, now. `stray_paise` first adds a captured payment nothing on the merchant's side knows of (an
unmatched one to find); `mandate_authorisation` a zero-amount e-mandate authorisation payment.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from sandbox.razorpay_server.common import NOT_FOUND, ApiError, check_fields, new_id, require_int
from sandbox.razorpay_server.core import page

IST = timezone(timedelta(hours=5, minutes=30))
RECON_KEYS = ("entity_id", "type", "debit", "credit", "amount", "currency", "fee", "tax", "on_hold", "settled",
              "created_at", "settled_at", "settlement_id", "posted_at", "credit_type", "description", "notes",
              "payment_id", "settlement_utr", "order_id", "order_receipt", "method", "card_network", "card_issuer",
              "card_type", "dispute_id")


class SettlementsMixin:

    def __init__(self, *args, **kwargs):
        self.settlements: dict[str, dict] = {}
        self.recon_items: dict[str, dict] = {}  # by entity id: what has been settled
        super().__init__(*args, **kwargs)

    def settle(self, body: dict) -> dict:
        check_fields(body, {"stray_paise", "mandate_authorisation"})
        with self.lock:
            if body.get("stray_paise") is not None:
                self._stray(require_int(body["stray_paise"], "stray_paise"), "upi")
            if body.get("mandate_authorisation"):
                self._stray(0, "emandate")
            now = self.now()
            sid, utr = new_id("setl_"), "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                                               for _ in range(16))
            items = [self._item(p, "payment", sid, utr, now) for p in self.payments.values()
                     if p["captured"] and p["id"] not in self.recon_items]
            items += [self._item(r, "refund", sid, utr, now) for r in self.refunds.values()
                      if r["status"] == "processed" and r["id"] not in self.recon_items]
            if not items:
                raise ApiError("nothing to settle")
            for item in items:
                self.recon_items[item["entity_id"]] = item
            settlement = {"id": sid, "entity": "settlement", "amount": sum(i["credit"] - i["debit"] for i in items),
                          "status": "processed", "fees": sum(i["fee"] for i in items),
                          "tax": sum(i["tax"] for i in items), "utr": utr, "created_at": now}
            self.settlements[sid] = settlement
            self._emit([("settlement.processed", {"settlement": dict(settlement)})])
            self._save()
            return dict(settlement, items=len(items))

    def _stray(self, amount: int, method: str) -> None:
        pay = {"id": new_id("pay_"), "entity": "payment", "amount": amount, "currency": "INR", "status": "captured",
               "order_id": None, "method": method, "amount_refunded": 0, "refund_status": None, "captured": True,
               "description": "", "notes": [], "fee": 0, "tax": 0, "created_at": self.now()}
        if amount:
            pay["fee"] = amount * 2 // 100 + amount * 2 // 100 * 18 // 100
            pay["tax"] = amount * 2 // 100 * 18 // 100
        self.payments[pay["id"]] = pay

    def _item(self, ent: dict, kind: str, sid: str, utr: str, now: int) -> dict:
        payment = ent if kind == "payment" else self.payments.get(ent["payment_id"], {})
        fee, tax = (int(ent.get("fee") or 0), int(ent.get("tax") or 0)) if kind == "payment" else (0, 0)
        credit, debit = (ent["amount"] - fee, 0) if kind == "payment" else (0, ent["amount"])
        item = {k: None for k in RECON_KEYS}
        item.update(entity_id=ent["id"], type=kind, debit=debit, credit=credit, amount=ent["amount"], currency="INR",
                    fee=fee, tax=tax, on_hold=False, settled=True, created_at=ent["created_at"], settled_at=now,
                    settlement_id=sid, posted_at=now, credit_type="default", description=ent.get("description"),
                    notes=ent.get("notes") or [], payment_id=None if kind == "payment" else ent["payment_id"],
                    settlement_utr=utr, order_id=payment.get("order_id"), method=payment.get("method"))
        return item

    def list_settlements(self, query) -> dict:
        with self.lock:
            return page(list(self.settlements.values()), query)

    def get_settlement(self, sid: str) -> dict:
        with self.lock:
            if sid not in self.settlements:
                raise ApiError(NOT_FOUND, "id", reason="NA")
            return dict(self.settlements[sid])

    def recon_combined(self, query) -> dict:
        """Items settled on year-month[-day] (IST), oldest first, `count` (1-1000, default 1000) from `skip`."""
        try:
            year, month = int(query.get("year", "")), int(query.get("month", ""))
            day = int(query["day"]) if query.get("day") else None
            count, skip = int(query.get("count", "1000")), int(query.get("skip", "0"))
        except ValueError:
            raise ApiError("year, month, day, count and skip must be numbers") from None
        if not 1 <= count <= 1000 or skip < 0:
            raise ApiError("count must be between 1 and 1000", "count")
        with self.lock:
            items = [dict(i) for i in self.recon_items.values() if _on(i["settled_at"], year, month, day)]
        items.sort(key=lambda i: (i["settled_at"], i["created_at"]))
        chosen = items[skip:skip + count]
        return {"entity": "collection", "count": len(chosen), "items": chosen}


def _on(ts: int, year: int, month: int, day: int | None) -> bool:
    d = datetime.fromtimestamp(ts, IST)
    return d.year == year and d.month == month and (day is None or d.day == day)
