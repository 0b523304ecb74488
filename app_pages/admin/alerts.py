"""Admin alerts: every low-balance alert sent, failing or failed, with each channel's last error; and,
when `make run` started the local SMTP sink, the e-mails it received."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import alerts, names

ui.admin_page("Alerts")
ui.times_note()
db = ui.get_db()

n = alerts.counts(db)
m = st.columns(3)
m[0].metric("Sent", f"{n['sent']:,}", border=True)
m[1].metric("Failed", f"{n['failed']:,}", border=True)
m[2].metric("Being delivered", f"{n['pending']:,}", border=True)
shown = st.segmented_control("Show", ["failed", "pending", "sent", "all"], default="failed", key="adm_alerts",
                             format_func=lambda k: "All" if k == "all" else names.label(names.DELIVERY, k)) or "failed"
rows = alerts.recent(db, status=None if shown == "all" else shown, limit=200)
if not rows:
    st.caption(f"No alerts {names.label(names.DELIVERY, shown).lower()}." if shown != "all" else "No alerts yet.")
else:
    ui.table(pd.DataFrame([{
        "When": ui.when(a["created_at"]), "User": a["user_id"], "Alert": names.label(names.ALERT_KIND, a["kind"]),
        "Line": ui.rupees(a["threshold_paise"]) if a["threshold_paise"] else "—",
        "Balance": ui.rupees(a["balance_paise"]),
        "Status": names.label(names.DELIVERY, a["status"]), "E-mail": names.label(names.DELIVERY, a["email_state"]),
        "E-mail error": a["email_last_error"] or "", "Webhook": names.label(names.DELIVERY, a["webhook_state"]),
        "Webhook tries": a["webhook_attempts"], "Webhook error": a["webhook_last_error"] or "",
        "Link": a["link_url"] or a["link_error"] or ""} for a in rows]), pinned=("When", "User"))

st.subheader("Outbox / sent mail (local SMTP sink)")
try:
    mails = alerts.sink_messages(100)
except Exception as exc:  # the sink is a development aid: say it is away, keep the page
    st.warning(f"The local SMTP sink does not answer: {exc}", icon=":material/mail_off:")
    mails = None
if mails == []:
    st.caption("No e-mails received yet, or a real SMTP server is configured (SMTP_HOST): then they went out.")
elif mails:
    st.dataframe(pd.DataFrame([{
        "Received": ui.when(x["received_at"], "%d %b %H:%M:%S"), "To": ", ".join(x["rcpt_tos"]),
        "Subject": x["subject"], "Message-ID": x["message_id"]} for x in mails]), hide_index=True, width="stretch")
