"""The signed-in user's ledger: a page as JSON (newest first) or everything as streamed CSV."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from itertools import islice
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import DB, ExactRoute, Transactions
from api.schemas import LotPartOut, TransactionOut, TransactionsOut
from services import clock, ledger, reports
from services.errors import InvalidInput

router = APIRouter(prefix="/api/transactions", tags=["transactions"], route_class=ExactRoute)

Kind = Literal["credit", "debit"]
Category = Literal[ledger.CATEGORIES]  # type: ignore[valid-type]
# Wider than any ledger and far from datetime's edges (year 1 and 9999), where a day more or a time zone
# overflows: an absurd date is a 400 naming the field, never a 500. Judged on the year as written (the
# message names it), not after the shift to UTC: 1900-01-01 in IST begins in 1899 UTC.
YEARS = range(1900, 3000)
WHEN = ("A date (YYYY-MM-DD: a business day, midnight to midnight in the business time zone, IST by "
        "default) or an ISO datetime (without an offset it is read in that zone), from 1900 to 2999; `from` "
        "is inclusive, `to` is exclusive for a datetime and includes the whole day for a date")
From = Annotated[str | None, Query(alias="from", max_length=40, description=WHEN)]
To = Annotated[str | None, Query(alias="to", max_length=40, description=WHEN)]


def transaction_out(e: dict) -> TransactionOut:
    meta = e.get("meta") or {}
    # `seq` is the entry's number in its wallet (1, 2, 3 ...): the page cursor counts in it.
    return TransactionOut(id=e["_id"], seq=int(e.get("n") or e["seq"]), type=e["type"], category=e["category"],
                          amount_paise=int(e["amount"]), balance_after_paise=int(e["balance_after"]),
                          created_at=clock.as_utc(e["created_at"]), source=e.get("source", ""),
                          note=e.get("note", ""), meta={str(k): v if isinstance(v, (str, int, float, bool))
                                                        or v is None else str(v) for k, v in meta.items()},
                          lot_parts=[LotPartOut(lot=n, amount_paise=a) for n, a in ledger.lot_parts(e.get("lots"))],
                          promo_paise=e.get("promo_paise"),
                          expires_at=clock.as_utc((e.get("lot") or {}).get("expires_at")))


def _parse_when(text: str, end: bool) -> datetime | None:
    if len(text) == 10:  # a date is a business day: it starts at midnight in the business zone
        d = date.fromisoformat(text)
        return clock.start_of_day(d + timedelta(days=1) if end else d) if d.year in YEARS else None
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.year not in YEARS:
        return None
    return (t.replace(tzinfo=clock.zone()) if t.tzinfo is None else t).astimezone(timezone.utc)


def _when(text: str | None, name: str, end: bool) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        t = _parse_when(text.strip(), end)
    except (ValueError, OverflowError):  # OverflowError: a day after 9999-12-31, or before year 1 in UTC
        t = None
    if t is None:
        raise InvalidInput(f"`{name}` must be a date like 2026-01-31 or an ISO datetime, between 1900 and 2999 "
                           f"(got {text[:40]!r}).")
    return t


def _filters(transaction_type, category, start, end) -> dict:
    return {"type": transaction_type, "category": category, "start": _when(start, "from", False),
            "end": _when(end, "to", True)}


@router.get("", response_model=TransactionsOut)
def page(acct: Transactions, db: DB, transaction_type: Kind | None = None, category: Category | None = None,
                 start: From = None, end: To = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 cursor: Annotated[int | None, Query(ge=1, description="`next_cursor` of the previous "
                                                                                "page")] = None):
    """Your transactions, newest first, one page at a time."""
    page, nxt = ledger.entries(db, acct.account, before_seq=cursor, limit=limit,
                               **_filters(transaction_type, category, start, end))
    return TransactionsOut(transactions=[transaction_out(e) for e in page], next_cursor=nxt)


@router.get("/download", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "CSV, oldest first; cells a spreadsheet would run as a formula "
                                            "are prefixed with '"}})
def download(acct: Transactions, db: DB, transaction_type: Kind | None = None, category: Category | None = None,
             start: From = None, end: To = None):
    """All your matching transactions as CSV, streamed (memory stays flat however many there are)."""
    lines = reports.export_csv(db, user_id=acct.account, **_filters(transaction_type, category, start, end))
    # Take the header and the first row now: a bad filter raises here, as a JSON error, not mid-stream.
    head = list(islice(lines, 2))

    def body():
        yield from head
        yield from lines
    name = f"transactions-{acct.account}-{reports.today().isoformat()}.csv"
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
