"""Notifications: where low-balance alerts reach the customer outside the app (e-mail, webhook), when they
fire (the platform's line, up to three of their own, the runway), the webhook's secret, a test event, the
delivery log and the alerts sent."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import alerts, names
from services.errors import WalletError
from services.money import to_rupees

acct = ui.customer_page("alerts:read")
uid = acct.account
can_change = acct.may("alerts:write")
db = ui.get_db()

st.title("Notifications")
ui.times_note()
ui.show_flash()
p = alerts.get_prefs(db, uid)
st.caption("An alert goes out once each time your balance falls below a line, and again only after a "
           "recharge takes it back above. Zero always alerts. Each alert carries a payment link for your "
           "usual recharge, valid 7 days.")

with st.form("alert_settings", enter_to_submit=can_change):
    st.subheader("When")
    st.markdown(f"Platform alert: below **{ui.rupees(ui.app_settings()['low_balance_paise'])}**.")
    cols = st.columns(3)
    own = [cols[i].text_input(f"Your alert {i + 1} (Rs.)", key=f"thr{i}", placeholder="e.g. 500",
                              value=str(to_rupees(p.thresholds[i])) if i < len(p.thresholds) else "")
           for i in range(3)]
    runway = st.number_input("Runway alert: when fewer days than this are left at your spend of the last "
                             "7 days (0 = off)", min_value=0, max_value=60, value=p.runway_days, step=1)
    st.subheader("Where")
    send_mail = st.checkbox("E-mail me", value=bool(p.emails))
    emails = st.text_area("E-mail addresses, one per line (e.g. finance and ops)", value="\n".join(p.emails),
                          help="Up to 5. Left empty: your account's address.")
    url = st.text_input("Webhook URL", value=p.webhook_url, placeholder="https://example.com/wallet-hook",
                        help="We POST a JSON event signed with HMAC-SHA256 (header X-Wallet-Signature).")
    if st.form_submit_button("Save", type="primary", icon=":material/save:", disabled=not can_change):
        listed = [e for e in emails.splitlines() if e.strip()] or alerts.get_prefs(db, uid).emails or []
        try:
            alerts.update(db, uid, thresholds=[t for t in own if t.strip()], runway_days=int(runway),
                          emails=listed if send_mail else [], webhook_url=url.strip())
        except WalletError as exc:
            ui.show_error(exc)
        else:
            ui.flash("Notification settings saved.")
            st.rerun()

if p.webhook_url and can_change:
    st.subheader("Webhook")
    st.caption("Verify each delivery: HMAC-SHA256 of the raw body with this secret, in hex, prefixed "
               "`sha256=`, equals the X-Wallet-Signature header. X-Wallet-Event-Id repeats on retries.")
    st.code(p.webhook_secret, language=None)
    c1, c2 = st.columns(2)
    if c1.button("Send test event", icon=":material/send:"):
        try:
            res = alerts.send_test(db, uid)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            if res["ok"]:
                st.success(f"Delivered: your endpoint answered {res['status_code']}.", icon=":material/check:")
            else:
                st.error(f"Not delivered: {res['error']}", icon=":material/error:")
    if c2.button("Rotate secret", icon=":material/key:"):
        alerts.rotate_secret(db, uid)
        ui.flash("A new secret signs every delivery from now on.")
        st.rerun()
    log = alerts.delivery_log(db, uid, 50)
    st.markdown("**Delivery log**")
    if not log:
        st.caption("No deliveries yet.")
    else:
        st.dataframe(pd.DataFrame([{
            "When": ui.when(r["at"], "%d %b %Y, %H:%M:%S"), "Event": r["type"], "Try": r["attempt"],
            "Result": "Delivered" if r["ok"] else "Failed", "Answer": r["status_code"] or "—",
            "Error": r["error"] or "", "ms": r["ms"]} for r in log]), hide_index=True, width="stretch")

st.subheader("Alerts sent")
sent = alerts.of_user(db, uid, 50)
if not sent:
    st.caption("None yet.")
else:
    st.dataframe(pd.DataFrame([{
        "When": ui.when(a["created_at"]), "Alert": a["headline"] or names.label(names.ALERT_KIND, a["kind"]),
        "Line": ui.rupees(a["threshold_paise"]) if a["kind"] != "notice" and a["threshold_paise"] else "—",
        "Balance": ui.rupees(a["balance_paise"]), "Details": a["text"] or "",
        "E-mail": names.label(names.DELIVERY, a["email_state"]),
        "Webhook": names.label(names.DELIVERY, a["webhook_state"]),
        "Recharge link": a["link_url"] or ""}
        for a in sent]), hide_index=True, width="stretch",
        column_config={"Recharge link": st.column_config.LinkColumn()})
