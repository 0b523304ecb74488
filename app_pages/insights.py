"""Insights: where the money goes and how long it lasts, from the daily rollups (never the raw ledger).
A chart with nothing to draw says so instead of drawing empty axes."""
from datetime import timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

import app_ui as ui
from services import accounts, reports, spending

CATEGORY_LABELS = {"call": "Calls", "campaign": "Campaign calls", "usage": "Other services", "fee": "Monthly fees"}

acct = ui.customer_page("usage")
uid = acct.account
db = ui.get_db()

st.title("Insights")
ui.times_note()
days = st.segmented_control("Period", [30, 90], default=30, format_func=lambda d: f"Last {d} days",
                            key="ins_days") or 30
end = reports.today()
start = end - timedelta(days=days - 1)
rows = spending.daily(db, uid, start, end)
b = ui.balance_of(uid)
run = spending.runway(db, uid, available=b.available)

spent = sum(r["spent"] for r in rows)  # usage only (services.spending): a refund is not spending
refunded = sum(r["other_out"] for r in rows)
added = sum(r["credits"] for r in rows)
calls = sum(r["calls"] for r in rows)
m1, m2, m3, m4 = st.columns(4)
m1.metric(f"Spent, {days} days", ui.rupees(spent), border=True, help="Calls and campaign calls.")
m2.metric(f"Added, {days} days", ui.rupees(added), border=True)
m3.metric("Calls", f"{calls:,}", border=True)
m4.metric(ui.BILLED_TIME, ui.duration(sum(r["call_seconds"] for r in rows)), border=True,
          help="The seconds you were charged for, summed over your calls.")
if refunded:
    st.caption(f":material/undo: {ui.rupees(refunded)} went back to your bank as refunds (or paid an amount due) "
               f"in these {days} days: not spending, so not counted above.")

def _window(days: int) -> str:
    return "today" if days == 1 else f"in the last {days} days"  # a new wallet's window is its first day


if run["days"] is None:
    st.info(f"No spending {_window(run['window_days'])}, so your balance is not running down.",
            icon=":material/savings:")
else:
    msg = (f"At this rate (about {ui.rupees(run['avg_daily_paise'])} a day over the last "
           f"{ui.days_text(run['window_days'])}) your balance lasts "
           + (f"about **{ui.days_text(run['days'])}**." if run["days"] else "**less than a day**."))
    (st.warning if run["days"] < 7 else st.info)(msg, icon=":material/hourglass_bottom:")

if not calls and not spent and not refunded and not added and not b.balance:
    st.info("No calls yet: your charts fill in from your first recharge and call.", icon=":material/insights:")
    st.stop()

df = pd.DataFrame({"day": pd.to_datetime([r["day"] for r in rows]),
                   "spent": [float(ui.rupee_number(r["spent"])) for r in rows],  # display only
                   "spent_text": [ui.rupees(r["spent"]) for r in rows],
                   "calls": [r["calls"] for r in rows],
                   "minutes": [round(r["call_seconds"] / 60, 1) for r in rows]})  # display only
bal = spending.balance_series(db, uid, start, end, rows=rows)
bdf = pd.DataFrame({"day": pd.to_datetime([r["day"] for r in bal]),
                    "balance": [float(ui.rupee_number(r["balance"])) for r in bal],
                    "balance_text": [ui.rupees(r["balance"]) for r in bal]})

c1, c2 = st.columns(2)
with c1:
    if spent:
        fig = px.bar(df, x="day", y="spent", custom_data=["spent_text"])
        fig.update_traces(hovertemplate="%{x|%d %b}: %{customdata[0]}<extra></extra>")
        ui.rupee_axis(fig, max(r["spent"] for r in rows))
        ui.day_axis(fig, start, end)
        ui.chart(fig, key="ch_spend", title="Daily spend")
    else:
        st.info(f"Daily spend: nothing spent in the last {ui.days_text(days)}.", icon=":material/bar_chart:")
with c2:
    fig = px.area(bdf, x="day", y="balance", custom_data=["balance_text"])
    fig.update_traces(hovertemplate="%{x|%d %b}: %{customdata[0]}<extra></extra>")
    ui.rupee_axis(fig, max(r["balance"] for r in bal))
    ui.day_axis(fig, start, end)
    ui.chart(fig, key="ch_balance", title="Balance at the end of each day")

c3, c4 = st.columns(2)
with c3:
    cats = spending.category_totals(rows, "debit")
    if cats:
        cdf = pd.DataFrame({"category": [CATEGORY_LABELS.get(k, k) for k in cats],
                            "spent": [float(ui.rupee_number(v)) for v in cats.values()],
                            "spent_text": [ui.rupees(v) for v in cats.values()]})
        fig = px.pie(cdf, names="category", values="spent", hole=0.5, custom_data=["spent_text"])
        fig.update_traces(hovertemplate="%{label}: %{customdata[0]}<extra></extra>")
        ui.chart(fig, key="ch_cat", title="Spend by category")
    else:
        st.info("Spend by category: no spending in this period.", icon=":material/donut_large:")
with c4:
    if calls:
        long = df.melt(id_vars="day", value_vars=["calls", "minutes"], var_name="measure", value_name="count")
        long["measure"] = long["measure"].map({"calls": "Calls", "minutes": "Billed minutes"})
        fig = px.line(long, x="day", y="count", color="measure", markers=True, labels={"day": "", "count": ""})
        fig.update_yaxes(rangemode="tozero")
        ui.day_axis(fig, start, end)
        ui.chart(fig, key="ch_calls", title="Calls and billed minutes per day")
    else:
        st.info(f"Calls and minutes per day: no calls in the last {ui.days_text(days)}.", icon=":material/call:")

# Spend per API key over the period (the day rollups count each key's billed calls), with what each has
# spent today and this month against its caps.
def _caps(k) -> str:
    caps = [f"{ui.rupees(k.daily_cap_paise)} a day" if k.daily_cap_paise else "",
            f"{ui.rupees(k.monthly_cap_paise)} a month" if k.monthly_cap_paise else ""]
    return " / ".join(c for c in caps if c) or "none"


by_service = spending.service_totals(rows)
if by_service:
    st.subheader("Spend by service")
    ui.money_table([{"service": k, "period_paise": v} for k, v in by_service.items()],
                   {"service": "Service", "period_paise": f"Last {days} days"}, pinned=("Service",))

by_key = spending.key_totals(rows)
if by_key:
    st.subheader("Spend by API key")
    keys = {k.id: k for k in accounts.keys.list_keys(db, uid)}
    ui.money_table([{"key": f"{keys[k].name} ({keys[k].prefix})", "period_paise": v,
                     "today_paise": keys[k].spent_today_paise, "month_paise": keys[k].spent_month_paise,
                     "caps": _caps(keys[k])} if k in keys else
                    {"key": k, "period_paise": v, "today_paise": None, "month_paise": None, "caps": ""}
                    for k, v in by_key.items()],
                   {"key": "API key", "period_paise": f"Last {days} days", "today_paise": "Today",
                    "month_paise": "This month", "caps": "Caps"}, pinned=("API key",))
    st.caption(f"Spent without a key (calls from the dashboard or a person's sign-in, refunds): "
               f"{ui.rupees(max(0, spent - sum(by_key.values())))} in these {days} days.")
