"""Analytics: spending trends across all users, a per-user summary CSV, and full transaction and call
exports written to a temporary file in chunks (memory stays flat while it runs; progress shows how far it
got)."""
import glob
import os
import tempfile
import time
from datetime import timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

import app_ui as ui
from app_pages.documents_ui import gstr1_section
from app_pages.grants_ui import breakage_section
from services import csvout, reports
from services.errors import WalletError

user = ui.require_role("analyst", "admin")
db = ui.get_db()

st.title("Analytics")
ui.times_note()
today = reports.today()
picked = st.date_input("Dates", value=(today - timedelta(days=29), today), max_value=today,
                       key="an_dates", format=ui.DATE_INPUT)
if not isinstance(picked, (tuple, list)) or len(picked) != 2:
    st.info("Pick an end date.")
    st.stop()
d0, d1 = picked
try:
    trends = reports.spending_trends(db, d0, d1)
except WalletError as exc:
    ui.show_error(exc)
    st.stop()

spent = sum(r["spent"] for r in trends)  # usage only (services.spending): refunds are not spending
refunded = sum(r["other_out"] for r in trends)
added = sum(r["credits"] for r in trends)
recharged = sum(int(r["cat"].get("recharge", 0)) for r in trends)
m = st.columns(4)
m[0].metric("Spent (calls and services)", ui.rupees(spent), border=True,
            help="Calls, campaign calls and other services (SMS, numbers...); refunds are not spending.")
m[1].metric("Money added", ui.rupees(added), border=True)
m[2].metric("Calls", f"{sum(r['calls'] for r in trends):,}", border=True)
m[3].metric(ui.BILLED_TIME, ui.duration(sum(r["call_seconds"] for r in trends)), border=True)
st.caption(f"Money added: {ui.rupees(recharged)} paid recharges, {ui.rupees(added - recharged)} credits given "
           f"(manual, promotional, refunds back). Refunded to customers' banks: {ui.rupees(refunded)}.")

st.subheader("Spending trends across all users")
# Spent and added on charts of their own: one Rs. 1 lakh recharge would flatten a day's spending to zero.
days = pd.to_datetime([r["day"] for r in trends])
paid = [int(r["cat"].get("recharge", 0)) for r in trends]
tdf = pd.DataFrame({"day": days, "spent": [float(ui.rupee_number(r["spent"])) for r in trends],
                    "spent_text": [ui.rupees(r["spent"]) for r in trends]})
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
    ui.rupee_axis(fig, max([r["spent"] for r in trends] + [0]))
    ui.day_axis(fig, d0, d1)
    ui.chart(fig, key="an_spent", title="Spent per day (calls and services)", height=320)
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

def _prepare(kind: str, lines) -> None:
    """Write an export to a temporary file in chunks, with progress (memory stays flat)."""
    old = st.session_state.pop(f"an_{kind}", None)
    if old and os.path.exists(old["path"]):
        os.unlink(old["path"])
    _sweep()
    bar = st.progress(0.0, text="Reading…")
    fd, path = tempfile.mkstemp(prefix=EXPORT_PREFIX, suffix=".csv")
    rows = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            for line in lines(lambda frac, n: bar.progress(frac, text=f"{n:,} rows written…")):
                fh.write(line)
                rows += 1
    except Exception as exc:
        os.unlink(path)
        ui.show_error(exc)
    else:
        bar.progress(1.0, text=f"Done: {rows - 1:,} rows.")
        st.session_state[f"an_{kind}"] = {"path": path, "rows": rows - 1, "d0": d0, "d1": d1}


def _ready(kind: str, what: str, label: str) -> None:
    ex = st.session_state.get(f"an_{kind}")
    if ex and os.path.exists(ex["path"]):
        size = os.path.getsize(ex["path"])
        st.caption(f"{ex['rows']:,} {what}, {size / 1e6:.1f} MB, {ui.day(ex['d0'])} – {ui.day(ex['d1'])}")
        st.download_button(label, data=lambda p=ex["path"]: _read(p), mime="text/csv",
                           file_name=ui.csv_name(kind, "all-customers", first=ex["d0"], last=ex["d1"]),
                           on_click="ignore", icon=":material/download:", key=f"an_dl_{kind}")


with e2, st.container(border=True):
    st.markdown("**Every transaction** of every customer for the dates above")
    if st.button("Prepare the transactions export", icon=":material/construction:", key="an_prep_tx"):
        start, end = reports.day_range(d0, d1)
        _prepare("transactions", lambda progress: reports.export_csv(db, start=start, end=end, progress=progress))
    _ready("transactions", "transactions", "Download transactions CSV")

with st.container(border=True):
    st.markdown("**Every call** of every customer for the dates above")
    st.caption("Start time, customer, number, status, outcome, billed seconds, rate and cost of each call.")
    if st.button("Prepare the calls export", icon=":material/construction:", key="an_prep_calls"):
        _prepare("calls", lambda progress: reports.all_calls_csv(db, d0, d1, progress=progress))
    _ready("calls", "calls", "Download calls CSV")

breakage_section(db)
gstr1_section(db, key="analyst")
