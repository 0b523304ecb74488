"""A wallet's lots as a customer (wallet page) and an admin (credits page) read them: what is left of each
credit, when it expires, in the order the money is spent."""
from __future__ import annotations

from datetime import timedelta

import streamlit as st

import app_ui as ui
from services import clock

KIND = {"paid": "Recharge", "promo": "Promotional credit", "manual": "Credit given", "refund_back": "Refund returned",
        "bank": "Bank transfer", "adjustment": "Adjustment", "unknown": "Balance before lots"}


def rows(lots) -> list[dict]:
    return [{"lot": v.lot, "kind": KIND.get(v.kind, v.kind) + (f" ({v.campaign})" if v.campaign else ""),
             "remaining_paise": v.remaining, "amount_paise": v.amount, "held_paise": v.held,
             "expires": ("voided" if v.voided else ui.when(v.expires_at) if v.expires_at else "never")}
            for v in lots]


def lots_section(lots, frozen: int = 0, order: str = "") -> None:
    """The customer's credit, lot by lot, and what expires within a week."""
    soon = [v for v in lots if v.expires_at and not v.voided and v.expires_at - clock.now() <= timedelta(days=7)]
    for v in soon:
        st.warning(f"{ui.rupees(v.remaining)} of {KIND.get(v.kind, 'credit').lower()} expires on "
                   f"{ui.when(v.expires_at, '%d %b %Y, %H:%M')} {clock.abbr()}.", icon=":material/timer:")
    if frozen:
        st.caption(f"{ui.rupees(frozen)} reached its expiry and leaves your wallet within a minute.")
    if not lots:
        return
    with st.expander("Your credit, lot by lot", icon=":material/layers:", expanded=bool(soon)):
        st.caption(f"Each recharge or credit is a lot. Money is spent in the order listed ({order.lower()}).")
        ui.money_table(rows(lots), {"kind": "Credit", "remaining_paise": "Left", "amount_paise": "Of",
                                    "held_paise": "Held for calls", "expires": "Expires"})
