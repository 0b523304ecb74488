"""Analytics: spending trends across all users, a per-user summary CSV, and a full transaction export
written to a temporary file in chunks (memory stays flat while it runs; progress shows how far it got)."""
import glob
import os
import tempfile
import time
from datetime import timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

import app_ui as ui
from app_pages.grants_ui import breakage_section
from services import csvout, ledger, reports
from services.errors import WalletError

user = ui.require_role("analyst", "admin")
db = ui.get_db()

st.title("Analytics")
ui.times_note()
today = reports.today()
picked = st.date_input("Dates", value=(today - timedelta(days=29), today), max_value=today,
                       key="an_dates", format="DD/MM/YYYY")
if not isinstance(picked, (tuple, list)) or len(picked) != 2:
    st.info("Pick an end date.")
    st.stop()
d0, d1 = picked
try:
    trends = reports.spending_trends(db, d0, d1)
except WalletError as exc:
    ui.show_error(exc)
    st.stop()

used = [ledger.day_spent(r) for r in trends]  # expired or voided credit is not spending
spent = sum(used)
added = sum(r["credits"] for r in trends)
recharged = sum(int(r["cat"].get("recharge", 0)) for r in trends)
m = st.columns(4)
m[0].metric("Spent on calls", ui.rupees(spent), border=True)
m[1].metric("Money added", ui.rupees(added), border=True)
m[2].metric("Calls", f"{sum(r['calls'] for r in trends):,}", border=True)
m[3].metric("Call minutes", f"{sum(r['call_seconds'] for r in trends) // 60:,}", border=True)
st.caption(f"Money added: {ui.rupees(recharged)} paid recharges, {ui.rupees(added - recharged)} credits given "
           "(manual, promotional, refunds back).")

st.subheader("Spending trends across all users")
# Spent and added on charts of their own: one Rs. 1 lakh recharge would flatten a day's spending to zero.
days = pd.to_datetime([r["day"] for r in trends])
paid = [int(r["cat"].get("recharge", 0)) for r in trends]
tdf = pd.DataFrame({"day": days, "spent": [float(ui.rupee_number(u)) for u in used],
                    "spent_text": [ui.rupees(u) for u in used]})
adf = pd.DataFrame({"day": list(days) * 2,
                    "rupees": [float(ui.rupee_number(p)) for p in paid] +
                              [float(ui.rupee_number(r["credits"] - p)) for r, p in zip(trends, paid, strict=True)],
                    "text": [ui.rupees(p) for p in paid]
                            + [ui.rupees(r["credits"] - p) for r, p in zip(trends, paid, strict=True)],
                    "kind": ["Recharges (paid)"] * len(trends) + ["Credits given (free, refunds)"] * len(trends)})
c1, c2 = st.columns(2)
with c1:
    fig = px.bar(tdf, x="day", y="spent", custom_data=["spent_text"])
    fig.update_traces(hovertemplate="%{x|%d %b}: %{customdata[0]}<extra></extra>")
    ui.rupee_axis(fig, max(used + [0]))
    ui.day_axis(fig, d0, d1)
    ui.chart(fig, key="an_spent", title="Spent on calls per day", height=320)
with c2:
    fig = px.bar(adf, x="day", y="rupees", color="kind", custom_data=["text"], barmode="stack")
    fig.update_traces(hovertemplate="%{x|%d %b}: %{customdata[0]}<extra></extra>")
    ui.rupee_axis(fig, max([r["credits"] for r in trends] + [0]))
    ui.day_axis(fig, d0, d1)
    ui.chart(fig, key="an_added", title="Money added per day", height=320)
udf = pd.DataFrame({"day": list(days) * 2,
                    "count": [r["active_users"] for r in trends] + [r["calls"] for r in trends],
                    "measure": ["Active customers"] * len(trends) + ["Calls"] * len(trends)})
fig = px.bar(udf, x="day", y="count", color="measure", barmode="group", labels={"day": "", "count": ""})
ui.day_axis(fig, d0, d1)
ui.chart(fig, key="an_users", title="Active customers and calls per day", height=300)


EXPORT_PREFIX = "wallet-export-"
EXPORT_KEEP_SECONDS = 6 * 3600


def _sweep() -> None:
    """Exports of sessions that ended are not tied to anything: drop ones older than a few hours."""
    now = time.time()
    for p in glob.glob(os.path.join(tempfile.gettempdir(), EXPORT_PREFIX + "*.csv")):
        try:
            if now - os.path.getmtime(p) > EXPORT_KEEP_SECONDS:
                os.unlink(p)
        except OSError:
            pass


def _read(path: str) -> bytes:
    # Read at click time only (a deferred download), never on each rerun.
    with open(path, "rb") as fh:
        return fh.read()


st.subheader("Exports")
e1, e2 = st.columns(2)
with e1, st.container(border=True):
    st.markdown("**Per-customer summary** for the dates above")
    st.caption("Name, e-mail, paid recharges and free credits apart, spending, calls and balance; staff "
               "accounts are left out.")

    def _summary_csv() -> str:
        return "".join(csvout.dicts_csv(reports.user_summary(db, d0, d1), list(reports.SUMMARY_COLUMNS)))

    st.download_button("Download per-customer summary", data=_summary_csv, mime="text/csv",
                       file_name=ui.csv_name("per-customer-summary", first=d0, last=d1), on_click="ignore",
                       icon=":material/download:")

with e2, st.container(border=True):
    st.markdown("**Every transaction** of every user for the dates above")
    if st.button("Prepare the export", icon=":material/construction:"):
        start, end = reports.day_range(d0, d1)
        old = st.session_state.pop("an_export", None)
        if old and os.path.exists(old["path"]):
            os.unlink(old["path"])
        _sweep()
        bar = st.progress(0.0, text="Reading the ledger…")
        fd, path = tempfile.mkstemp(prefix=EXPORT_PREFIX, suffix=".csv")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                rows = 0

                def _progress(frac, n):
                    bar.progress(frac, text=f"{n:,} transactions written…")

                for line in reports.export_csv(db, start=start, end=end, progress=_progress):
                    fh.write(line)
                    rows += 1
        except Exception as exc:
            os.unlink(path)
            ui.show_error(exc)
        else:
            bar.progress(1.0, text=f"Done: {rows - 1:,} transactions.")
            st.session_state["an_export"] = {"path": path, "rows": rows - 1, "d0": d0, "d1": d1}
    ex = st.session_state.get("an_export")
    if ex and os.path.exists(ex["path"]):
        size = os.path.getsize(ex["path"])
        st.caption(f"{ex['rows']:,} transactions, {size / 1e6:.1f} MB, {ex['d0']:%d %b} – {ex['d1']:%d %b %Y}")
        st.download_button("Download transactions CSV", data=lambda p=ex["path"]: _read(p),
                           mime="text/csv", file_name=ui.csv_name("transactions", "all-customers", first=ex["d0"],
                                                                 last=ex["d1"]),
                           on_click="ignore", icon=":material/download:", key="an_dl")

breakage_section(db)
