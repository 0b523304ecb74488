"""Insights: where the money goes and how long it lasts, from the daily rollups (never the raw ledger)."""
from datetime import timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

import app_ui as ui
from services import reports

CATEGORY_LABELS = {"call": "Calls", "campaign": "Campaign calls"}

user = ui.require_role("user")
uid = user["username"]
db = ui.get_db()

st.title("Insights")
ui.times_note()
days = st.segmented_control("Period", [30, 90], default=30, format_func=lambda d: f"Last {d} days",
                            key="ins_days") or 30
end = reports.today()
start = end - timedelta(days=days - 1)
rows = reports.daily(db, uid, start, end)
b = ui.balance_of(uid)
run = reports.runway(db, uid, available=b.available)

spent = sum(r["debits"] for r in rows)
added = sum(r["credits"] for r in rows)
calls = sum(r["calls"] for r in rows)
minutes = sum(r["call_seconds"] for r in rows) // 60
m1, m2, m3, m4 = st.columns(4)
m1.metric(f"Spent, {days} days", ui.rupees(spent), border=True)
m2.metric(f"Added, {days} days", ui.rupees(added), border=True)
m3.metric("Calls", f"{calls:,}", border=True)
m4.metric("Call minutes", f"{minutes:,}", border=True)

if run["days"] is None:
    st.info(f"No spending in the last {run['window_days']} day(s), so your balance is not running down.",
            icon=":material/savings:")
else:
    msg = (f"At this rate (about {ui.rupees(run['avg_daily_paise'])} a day over the last "
           f"{run['window_days']} days) your balance lasts about **{run['days']:,} days**.")
    (st.warning if run["days"] < 7 else st.info)(msg, icon=":material/hourglass_bottom:")

df = pd.DataFrame({"day": pd.to_datetime([r["day"] for r in rows]),
                   "spent": [ui.rupee_number(r["debits"]) for r in rows],
                   "calls": [r["calls"] for r in rows],
                   "minutes": [r["call_seconds"] / 60 for r in rows]})
df["spent"] = df["spent"].astype(float)  # plotly needs floats; display only
bal = reports.balance_series(db, uid, start, end, rows=rows)
bdf = pd.DataFrame({"day": pd.to_datetime([r["day"] for r in bal]),
                    "balance": [float(ui.rupee_number(r["balance"])) for r in bal]})

c1, c2 = st.columns(2)
with c1:
    st.subheader("Daily spend")
    fig = px.bar(df, x="day", y="spent", labels={"day": "", "spent": "Spent (₹)"})
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=10, b=0))
    st.plotly_chart(fig, width="stretch", key="ch_spend")
with c2:
    st.subheader("Balance over time")
    fig = px.area(bdf, x="day", y="balance", labels={"day": "", "balance": "Balance (₹)"})
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=10, b=0))
    st.plotly_chart(fig, width="stretch", key="ch_balance")

c3, c4 = st.columns(2)
with c3:
    st.subheader("Spend by category")
    cats = reports.category_totals(rows, "debit")
    if cats:
        cdf = pd.DataFrame({"category": [CATEGORY_LABELS.get(k, k) for k in cats],
                            "spent": [float(ui.rupee_number(v)) for v in cats.values()]})
        fig = px.pie(cdf, names="category", values="spent", hole=0.5)
        fig.update_layout(height=300, margin=dict(l=0, r=0, t=10, b=0))
        st.plotly_chart(fig, width="stretch", key="ch_cat")
    else:
        st.caption("No spending in this period.")
with c4:
    st.subheader("Calls and minutes per day")
    long = df.melt(id_vars="day", value_vars=["calls", "minutes"], var_name="measure", value_name="count")
    fig = px.line(long, x="day", y="count", color="measure", markers=True, labels={"day": "", "count": ""})
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=10, b=0), legend_title_text="")
    st.plotly_chart(fig, width="stretch", key="ch_calls")
