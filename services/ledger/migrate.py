"""The once-only migration to lots (`backfill`, run by services.schema at start): a wallet from before lots
gets one lot of unknown kind (lot 0) holding its balance, and its open holds reserve from it.

Every read already sees a wallet without `lots` that way (services.ledger.lots.of_wallet), and its next
write stores it; the backfill stores it for every wallet now, one compare-and-set each, so it can be killed
at any point and run again. `ledger_meta/lots_backfill` marks it done.
"""
from __future__ import annotations

from services import clock
from services.ledger import cas, lots as lotmod, wallets

MARK = "lots_backfill"


def backfill(db) -> int:
    """Give every wallet from before lots its lot 0. Returns how many wallets were migrated."""
    if db.ledger_meta.find_one({"_id": MARK}) is not None:
        return 0
    done = 0
    for w in db.wallets.find({"lots": {"$exists": False}}, {"_id": 1}):
        done += _migrate(db, w["_id"])
    db.ledger_meta.update_one({"_id": MARK}, {"$set": {"at": clock.now(), "wallets": done}}, upsert=True)
    return done


def _migrate(db, user_id: str) -> int:
    with cas.turn(user_id):
        while True:
            w = wallets.read(db, user_id)
            if "lots" in w:
                return 0
            holds = {hid: dict(h, lots=lotmod.encode_parts(lotmod.hold_parts(h))) for hid, h in w["holds"].items()}
            if cas.set_lots(db, w, lotmod.of_wallet(w), holds):
                return 1
