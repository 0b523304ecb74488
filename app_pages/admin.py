"""Admin: money held, who is running low, who spends most, call rates, audited credits, failed payments,
password resets and the ledger audit."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import ledger, reports, settings, users, wallet
from services.errors import WalletError

admin = ui.require_role("admin")
me = admin["username"]
db = ui.get_db()

st.title("Admin")
ui.sandbox_badge()
ui.show_flash()

# One section at a time: a page reads only what it shows.
VIEWS = ["Overview", "Users", "Credits & refunds", "Call rates", "Payments", "Ledger audit"]
view = st.segmented_control("Section", VIEWS, default="Overview", key="adm_view",
                            label_visibility="collapsed") or "Overview"


def money_table(rows: list[dict], columns: dict[str, str]) -> None:
    """Rows with *_paise fields shown as formatted rupees under friendly column names."""
    out = [{label: (ui.rupees(r[k]) if k.endswith("_paise") else r[k]) for k, label in columns.items()}
           for r in rows]
    st.dataframe(pd.DataFrame(out, columns=list(columns.values())), hide_index=True, width="stretch")


# ------------------------------------------------------------------------------------------ overview
if view == "Overview":
    period = st.segmented_control("Top spenders over", [1, 7, 30, 90], default=30, key="adm_period",
                                  format_func=lambda d: "Today" if d == 1 else f"{d} days") or 30
    s = ui.admin_summary(top=10, period_days=period)
    m = st.columns(3) + st.columns(3)
    m[0].metric("Total balance held", ui.rupees(s["total_balance_paise"]), border=True)
    m[1].metric("Reserved for live calls", ui.rupees(s["total_held_paise"]), border=True)
    m[2].metric("Users", f"{s['users']:,}", border=True)
    m[3].metric("Credits today", ui.rupees(s["today_credits_paise"]), border=True)
    m[4].metric("Debits today", ui.rupees(s["today_debits_paise"]), border=True)
    m[5].metric("Transactions today", f"{s['today_count']:,}", border=True)
    c1, c2, c3 = st.columns(3)
    with c1:
        st.subheader("Top spenders")
        money_table(s["top_spenders"], {"username": "User", "spent_paise": "Spent"})
    with c2:
        st.subheader("Largest balances")
        money_table(s["top_balances"], {"username": "User", "balance_paise": "Balance"})
    with c3:
        st.subheader(f"Low balance ({s['low_balance_count']})")
        st.caption(f"Customers with less than {ui.rupees(s['low_balance_paise'])} available")
        money_table(s["low_balance_users"], {"username": "User", "available_paise": "Available"})
    st.subheader("Today's transactions")
    today_rows = reports.today_transactions(db, limit=200)
    if not today_rows:
        st.caption("None yet today.")
    else:
        if len(today_rows) == 200:
            st.caption("Showing the latest 200; the Analytics page exports all of them.")
        st.dataframe(pd.DataFrame([{
            "Time (UTC)": e["created_at"].strftime("%H:%M:%S"), "User": e["user_id"], "Type": e["type"],
            "Category": e["category"], "Amount": ui.rupees(e["amount"]), "Note": e.get("note", "")}
            for e in today_rows[:200]]), hide_index=True, width="stretch")
    if st.button("Refresh", icon=":material/refresh:"):
        ui.invalidate("summary")
        st.rerun()

# --------------------------------------------------------------------------------------------- users
if view == "Users":
    a, b, c = st.columns([3, 1, 1])
    q = a.text_input("Search by username, name or email", key="adm_search")
    sort = b.selectbox("Sort by", ["balance", "available", "username", "name", "role"], key="adm_sort")
    desc = c.toggle("Descending", value=True, key="adm_desc")
    try:
        rows = reports.user_balances(db, search=q, sort=sort, descending=desc)
    except WalletError as exc:
        ui.show_error(exc)
        rows = []
    money_table(rows, {"username": "Username", "name": "Name", "email": "Email", "role": "Role",
                       "balance_paise": "Balance", "held_paise": "Held", "available_paise": "Available"})
    st.subheader("Reset a password")
    with st.form("reset_pw", clear_on_submit=True):
        who = st.text_input("Username")
        pw = st.text_input("New password (at least 8 characters)", type="password")
        if st.form_submit_button("Set password", icon=":material/key:"):
            try:
                users.set_password(db, who.strip().lower(), pw, by=me)
            except WalletError as exc:
                ui.show_error(exc)
            else:
                ui.invalidate("users")
                st.success(f"Password for {who.strip().lower()} changed. Tell them through a channel you trust.")

# ------------------------------------------------------------------------------- credits and refunds
CREDIT_KINDS = {"manual_credit": "Manual credit", "promo_credit": "Promotional credit", "refund": "Refund"}
if view == "Credits & refunds":
    st.caption("Every credit needs a reason and is recorded with your name in the ledger and the audit log.")
    pending = st.session_state.get("adm_credit")
    if pending is None:
        with st.form("credit_form"):
            who = st.text_input("Username")
            kind = st.selectbox("Kind", list(CREDIT_KINDS), format_func=CREDIT_KINDS.get)
            amount = st.text_input("Amount in rupees", placeholder="e.g. 250 or 99.50")
            reason = st.text_area("Reason (required)", max_chars=300)
            if st.form_submit_button("Review", icon=":material/fact_check:"):
                st.session_state["adm_credit"] = {"user_id": who.strip().lower(), "category": kind,
                                                  "amount": amount.strip(), "reason": reason.strip()}
                ui.done_key("credit")  # a new form is a new operation: a fresh idempotency key
                st.rerun()
    else:
        with st.container(border=True):
            st.markdown(f"**Confirm:** {CREDIT_KINDS[pending['category']]} of **Rs. {pending['amount']}** to "
                        f"**{pending['user_id']}**")
            st.markdown(f"Reason: {pending['reason']}")
            key = ui.new_key("credit")  # same key across reruns and double clicks: credits once
            ok, cancel = st.columns([1, 4])
            if ok.button("Confirm credit", type="primary", key="credit_confirm"):
                try:
                    e = wallet.admin_credit(db, admin=me, key=key, **pending)
                except WalletError as exc:
                    ui.show_error(exc)
                else:
                    st.session_state["adm_credit_done"] = e
                    st.session_state.pop("adm_credit", None)
                    ui.invalidate("summary")
                    st.rerun()
            if cancel.button("Cancel", key="credit_cancel"):
                st.session_state.pop("adm_credit", None)
                ui.done_key("credit")
                st.rerun()
    done = st.session_state.get("adm_credit_done")
    if done:
        st.success(f"Credited {ui.rupees(done['amount'])} to {done['user_id']} "
                   f"({CREDIT_KINDS.get(done['category'], done['category'])}); their balance is now "
                   f"{ui.rupees(done['balance_after'])}.", icon=":material/check_circle:")

# ----------------------------------------------------------------------------------------- call rates
if view == "Call rates":
    cfg = settings.get(db)  # fresh: this tab is where it changes
    st.metric("Global call rate", f"{ui.rupees(cfg['call_rate_paise'])} / minute", border=True)
    a, b = st.columns(2)
    with a, st.form("rate_global", clear_on_submit=True):
        st.markdown("**Change the global rate**")
        r = st.text_input("Rupees per minute", placeholder="e.g. 12 or 9.50")
        if st.form_submit_button("Set global rate"):
            try:
                settings.set_call_rate(db, r, by=me)
            except WalletError as exc:
                ui.show_error(exc)
            else:
                ui.invalidate("settings")
                ui.flash("Global rate changed; the next call is priced at it.")
                st.rerun()
    with b, st.form("rate_user", clear_on_submit=True):
        st.markdown("**A user's own rate**")
        who = st.text_input("Username")
        r = st.text_input("Rupees per minute (empty = back to the global rate)")
        if st.form_submit_button("Set user rate"):
            try:
                settings.set_call_rate(db, r.strip() or None, by=me, user_id=who.strip().lower())
            except WalletError as exc:
                ui.show_error(exc)
            else:
                ui.flash(f"Rate for {who.strip().lower()} updated.")
                st.rerun()
    st.subheader("Change history")
    hist = settings.history(db)

    def _val(name, v):
        return "—" if v is None else (ui.rupees(v) if name.endswith("_paise") else str(v))

    st.dataframe(pd.DataFrame([{"When (UTC)": h["at"].strftime("%d %b %Y, %H:%M"),
                                "Scope": "Global" if h["scope"] == "global" else h["scope"].removeprefix("user:"),
                                "Setting": h["name"], "Old": _val(h["name"], h["old"]),
                                "New": _val(h["name"], h["new"]), "By": h["by"]} for h in hist],
                              columns=["When (UTC)", "Scope", "Setting", "Old", "New", "By"]),
                 hide_index=True, width="stretch")

# ------------------------------------------------------------------------------------------ payments
if view == "Payments":
    st.subheader("Failed and suspicious payments")
    try:
        from services import payments
        failed = payments.failed_payments(db, limit=100)
    except ImportError:
        failed = []
    except Exception as exc:
        ui.show_error(exc)
        failed = []
    if not failed:
        st.success("No failed or suspicious payments.", icon=":material/verified:")
    else:
        KIND = {"failed": "Failed", "suspicious": "Suspicious", "unmatched": "Unmatched webhook"}
        st.dataframe(pd.DataFrame([{
            "When (UTC)": f["at"].strftime("%d %b %Y, %H:%M") if f.get("at") else "",
            "Kind": KIND.get(f["kind"], f["kind"]), "User": f.get("user_id") or "",
            "Amount": ui.rupees(f.get("amount_paise")), "Reason": f.get("reason", ""),
            "Times": f.get("count", 1),
            "Reference": f.get("payment_id") or f.get("payment_link_id") or f.get("reference_id") or ""}
            for f in failed]), hide_index=True, width="stretch")

# --------------------------------------------------------------------------------------------- audit
if view == "Ledger audit":
    st.caption("Recomputes every wallet from its ledger entries. It reads the whole ledger: run it when "
               "you need it, not on every visit.")
    if st.button("Run ledger audit", icon=":material/rule:"):
        with st.spinner("Checking every wallet against its ledger…"):
            bad = ledger.audit(db)
        if not bad:
            st.success("Every wallet reconciles with its ledger.", icon=":material/verified:")
        else:
            st.error(f"{len(bad)} wallet(s) do not reconcile.", icon=":material/report:")
            st.dataframe(pd.DataFrame([{"User": b["user_id"], "Balance": ui.rupees(b["balance"]),
                                        "Ledger says": ui.rupees(b["ledger"]), "Problems": "; ".join(b["problems"])}
                                       for b in bad]), hide_index=True, width="stretch")
