"""The call history part of the Calls page: filters (dates, status, campaign, number), pages of 50 with a
cursor (Newer / Older), and a CSV of everything the filters match. Not a page itself (app.py lists them)."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

import app_ui as ui
from services import calls, campaigns, clock, names, reports
from services.errors import WalletError

PAGE_SIZE = 50
ANY = "All"


def show(db, uid: str) -> None:
    names_of = {c["campaign_id"]: c["name"] for c in campaigns.list_campaigns(db, uid, limit=200)}
    f, label = _filters(names_of)
    if f is None:
        return
    # Cursor paging: a stack of the cursors of the pages seen, reset whenever a filter changes.
    if st.session_state.get("ch_sig") != f:
        st.session_state.ch_sig = f
        st.session_state.ch_cursors = [None]
    cursors = st.session_state.ch_cursors
    try:
        rows, nxt = calls.history(db, uid, f, before=cursors[-1], limit=PAGE_SIZE)
    except WalletError as exc:
        ui.show_error(exc)
        return
    if not rows and nxt is not None:
        st.info("Nothing matched in the stretch of history searched so far: press Older to keep looking.")
    elif not rows:
        st.info("No calls match these filters." if len(cursors) == 1 else "No more calls.")
    else:
        _table(rows, names_of)
    p1, p2, p3 = st.columns([1, 1, 3], vertical_alignment="center")
    if p1.button("Newer", icon=":material/chevron_left:", disabled=len(cursors) == 1, key="ch_newer"):
        cursors.pop()
        st.rerun()
    if p2.button("Older", icon=":material/chevron_right:", disabled=nxt is None, key="ch_older"):
        cursors.append(nxt)
        st.rerun()
    p3.caption(f"Page {len(cursors)} · {PAGE_SIZE} per page · newest first")
    st.download_button("Download CSV of these filters", data=lambda: "".join(reports.calls_csv(db, uid, f, names_of)),
                       file_name=ui.csv_name("calls", uid, *label), mime="text/csv", on_click="ignore",
                       icon=":material/download:", key="ch_csv")


def _filters(names_of: dict[str, str]):
    """The filters as the service takes them, and words for the CSV's file name; (None, _) until valid."""
    today = clock.today()
    a, b = st.columns(2)
    picked = a.date_input("Dates", value=(today - timedelta(days=29), today), max_value=today, key="ch_dates",
                          format=ui.DATE_INPUT)
    number = b.text_input("Number", key="ch_number", placeholder="e.g. 98765 or +919876543210")
    c, d = st.columns(2)
    status = c.selectbox("Status", [ANY, *calls.HISTORY_STATUSES], key="ch_status",
                         format_func=lambda s: s if s == ANY else names.label(names.CALL_STATUS, s))
    campaign = d.selectbox("Campaign", [ANY, calls.SINGLE, *names_of], key="ch_campaign",
                           format_func=lambda c: {ANY: ANY, calls.SINGLE: "Single calls (no campaign)"}.get(
                               c, names_of.get(c, c)))
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info("Pick an end date to see the calls.")
        return None, ()
    try:
        start, end = reports.day_range(picked[0], picked[1])
        f = calls.filters(start=start, end=end, status=None if status == ANY else status,
                          campaign_id=None if campaign == ANY else campaign, number=number)
    except WalletError as exc:
        ui.show_error(exc)
        return None, ()
    words = (None if status == ANY else status, names_of.get(campaign, "single" if campaign == calls.SINGLE else None),
             f.number, f"{picked[0]:%Y%m%d}-{picked[1]:%Y%m%d}")
    return f, words


def _table(rows: list[dict], names_of: dict[str, str]) -> None:
    def billed(c):
        s = c.get("billed_seconds") or 0
        return f"{s // 60}m {s % 60:02d}s"

    ui.table(pd.DataFrame([{
        "Started": ui.when(c.get("started_at")), "Number": c["to_number"],
        "Status": names.label(names.CALL_STATUS, c["status"]), "Cost": ui.rupees(c.get("cost_paise") or 0),
        "Billed": billed(c), "Outcome": names.label(names.OUTCOME, c.get("outcome")),
        "Campaign": names_of.get(c.get("campaign_id") or "", c.get("campaign_id") or ""),
        "Knowledge base": c["kb_id"], "Rate / min": ui.rupees(c["rate_paise"]), "Note": reports.call_note(c)}
        for c in rows]), pinned=("Started", "Status", "Cost"), wrap=("Note",), key="ch_table")
