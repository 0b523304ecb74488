"""A batch's entries riding in the wallet's `pending` as ONE record (docs/ledger.md, "A batch").

`post_batch` (services.ledger.batch) applies many debits in one compare-and-set. Their entries must be
durable inside the wallet from that very write (step 2, the commit point), like a single posting's entry,
but on the embedded engine a list of a thousand entry documents costs 0.4-0.8 s to write while one string
of the same content costs about a millisecond. So the batch rides as one record,
`{_id: "batch:<id>", batch, n (first), last, rows, refused}`, `rows` being JSON of what differs per entry,
`refused` the batch positions the wallet could not pay for; `expand` rebuilds the very entries that go to the
ledger (number, balance after and the rest follow from the order).
"""
from __future__ import annotations

import json
from datetime import datetime

from services import clock
from services.ledger import ids

PREFIX = "batch:"


def record_id(batch_id: str) -> str:
    return PREFIX + batch_id


def is_packed(p: dict) -> bool:
    return "rows" in p


def pack(batch_id: str, entries: list[dict], refused: list[int]) -> dict:
    """The pending record of a batch's entries (consecutive numbers, one wallet, one time) and of the
    positions it refused."""
    first = entries[0]
    common = {k: first[k] for k in ("user_id", "seq", "type", "category", "day", "source")}
    common["created_at"] = clock.as_utc(first["created_at"]).isoformat()
    common["balance_before"] = int(first["balance_after"]) + int(first["amount"])
    rows = [[e["i"], e["key"], int(e["amount"]), e.get("lots", ""), int(e.get("promo_paise", 0)),
             e.get("promo_by") or {}, e.get("meta") or {}, e.get("note", "")] for e in entries]
    return {"_id": record_id(batch_id), "batch": batch_id, "n": int(first["n"]), "last": int(entries[-1]["n"]),
            "rows": json.dumps({"common": common, "rows": rows}, separators=(",", ":")),
            "refused": " ".join(map(str, refused))}


def refused_of(p: dict) -> set[int]:
    return {int(i) for i in (p.get("refused") or "").split()}


def expand(p: dict) -> list[dict]:
    """The entries of a packed record, exactly as `post_batch` built them."""
    data = json.loads(p["rows"])
    c = data["common"]
    t = datetime.fromisoformat(c["created_at"])
    balance, n, out = int(c["balance_before"]), int(p["n"]), []
    for i, key, amount, lots, promo, promo_by, meta, note in data["rows"]:
        balance -= amount
        e = {"_id": ids.entry_id(c["user_id"], n), "key": key, "user_id": c["user_id"], "n": n, "seq": c["seq"],
             "type": c["type"], "category": c["category"], "amount": amount, "balance_after": balance,
             "created_at": t, "day": c["day"], "source": c["source"], "note": note, "claimed": False,
             "batch": p["batch"], "i": i, "lots": lots, "promo_paise": promo}
        if promo_by:
            e["promo_by"] = promo_by
        if meta:
            e["meta"] = meta
        out.append(e)
        n += 1
    return out


def entries_of(pending) -> list[dict]:
    """Every entry riding in a wallet's `pending`: single entries as they are, batches expanded."""
    out: list[dict] = []
    for p in pending or []:
        if is_packed(p):
            out.extend(expand(p))
        else:
            out.append(p)
    return out
