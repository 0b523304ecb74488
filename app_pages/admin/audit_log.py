"""Admin audit log: who did what, when and why — credits, settings, rates and plans, customers' terms,
business details, refund decisions, credit notes, password resets — filtered, and as CSV."""
from datetime import timedelta

import pandas as pd
import streamlit as st

import app_ui as ui
from services import audit, clock, reports
from services.errors import WalletError

SHOWN = 500
ANY = "All"

ui.admin_page("Audit log")
ui.times_note()
db = ui.get_db()

today = clock.today()
a, b = st.columns(2)
picked = a.date_input("Dates", value=(today - timedelta(days=29), today), max_value=today, key="al_dates",
                      format=ui.DATE_INPUT)
text = b.text_input("Search customer, value or reason", key="al_text", placeholder="e.g. asha, Call rate, Diwali")
c, d = st.columns(2)
kind = c.selectbox("Kind", [ANY, *audit.KINDS], key="al_kind", format_func=lambda k: audit.KINDS.get(k, k))
if not isinstance(picked, (tuple, list)) or len(picked) != 2:
    st.info("Pick an end date to see the log.")
    st.stop()
try:
    start, end = reports.day_range(picked[0], picked[1])
    everyone = audit.entries(db, audit.query(start=start, end=end, kind=None if kind == ANY else kind, text=text))
except WalletError as exc:
    ui.show_error(exc)
    st.stop()
actor = d.selectbox("Who", [ANY, *audit.actors(everyone)], key="al_actor")
rows = everyone if actor == ANY else [r for r in everyone if r["actor"] == actor]

st.caption(ui.plural(len(rows), "action")
           + (f"; the latest {SHOWN} shown, the CSV has all" if len(rows) > SHOWN else ""))
if not rows:
    st.info("No recorded action matches these filters.", icon=":material/history:")
else:
    ui.table(pd.DataFrame([{"When": ui.when(r["at"]), "Who": r["actor"], "Action": r["action"],
                            "Customer / scope": r["target"], "What": r["what"], "Why": r["why"]}
                           for r in rows[:SHOWN]]), pinned=("When", "Who"), wrap=("What", "Why"), key="al_table")
st.download_button("Download CSV of these filters", data=lambda: "".join(audit.csv_lines(rows)), mime="text/csv",
                   file_name=ui.csv_name("audit-log", None if kind == ANY else kind, None if actor == ANY else actor,
                                         text.strip() or None, first=picked[0], last=picked[1]),
                   on_click="ignore", icon=":material/download:", key="al_csv")
