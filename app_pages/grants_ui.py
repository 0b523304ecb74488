"""Admin sections about free credit (the credits page): a list of grants from a CSV file (previewed, then
credited line by line, each once), voiding what is left of one grant, and the order lots are spent in."""
from __future__ import annotations

from datetime import datetime, time

import streamlit as st

import app_ui as ui
from app_pages.lots_ui import rows as lot_rows
from services import clock, csvout, grants, ledger, reports, settings, wallet
from services.errors import WalletError

KINDS = {"promo_credit": "Promotional credit", "manual_credit": "Manual credit"}


def grant_list(db, me: str) -> None:
    st.subheader("Free credit to a list")
    st.caption("A CSV with columns `username,amount` and optionally `expires_at` (2027-01-15 or "
               "2027-01-15T18:30), `campaign`, `reason`; blank cells take the values below. Preview first: "
               "nothing is credited until you confirm, and the same file credits each line once.")
    up = st.file_uploader("CSV file", type=["csv"], key="gl_file")
    a, b, c = st.columns(3)
    kind = a.selectbox("Kind", list(KINDS), format_func=KINDS.get, key="gl_kind")
    day = b.date_input("Expires on (optional)", value=None, key="gl_day", format="DD/MM/YYYY")
    at = c.time_input(f"at ({clock.abbr()})", value=time(23, 59), key="gl_time", step=60)
    d, e = st.columns([1, 2])
    campaign = d.text_input("Campaign (optional)", max_chars=32, key="gl_campaign")
    reason = e.text_input("Reason", max_chars=300, key="gl_reason", placeholder="e.g. Diwali offer")
    if st.button("Preview list", icon=":material/preview:", key="gl_preview", disabled=up is None):
        try:
            st.session_state["gl_batch"] = grants.preview_csv(
                db, up.getvalue().decode("utf-8", errors="replace"), category=kind, reason=reason,
                expires_at=datetime.combine(day, at) if day else None, campaign=campaign)
        except WalletError as exc:
            ui.show_error(exc)
    batch = st.session_state.get("gl_batch")
    if batch is not None:
        _preview(db, me, batch)


def _preview(db, me: str, batch: grants.GrantBatch) -> None:
    bad = [g for g in batch.lines if not g.review.ok]
    st.markdown(f"**{len(batch.good)}** of {len(batch.lines)} lines can be credited, "
                f"**{ui.rupees(batch.total)}** in all.")
    ui.money_table([{"line": g.line, "who": g.review.user_id, "amount_paise": g.review.amount or 0,
                     "expires": ui.when(g.review.expires_at) if g.review.expires_at else "never",
                     "problem": "; ".join(p.message for p in g.review.problems.values())} for g in batch.lines],
                   {"line": "Line", "who": "Customer", "amount_paise": "Amount", "expires": "Expires",
                    "problem": "Problem"})
    if bad:
        st.caption(f"{ui.plural(len(bad), 'line')} with a problem will be skipped.")
    if batch.good and st.button(f"Credit {ui.plural(len(batch.good), 'customer')}", type="primary",
                                key=f"gl_apply_{batch.key}"):
        results = grants.apply(db, batch, admin=me)
        done = [r for r in results if r["entry_id"]]
        st.session_state.pop("gl_batch", None)
        ui.invalidate("summary")
        paise = sum(r["amount_paise"] for r in done)
        ui.flash(f"Credited {ui.plural(len(done), 'line')} of the list ({ui.rupees(paise)}).")
        st.rerun()


def void_grant(db, me: str) -> None:
    st.subheader("Void a grant")
    who = st.text_input("Whose grant (username)", key="vg_user").strip().lower()
    if not who:
        return
    try:
        found = grants.grants_of(db, who)
    except WalletError as exc:
        ui.show_error(exc)
        return
    if not found:
        st.caption("No promotional or manual credit left in this wallet.")
        return
    ui.money_table(lot_rows(found), {"lot": "Lot", "kind": "Credit", "remaining_paise": "Left",
                                     "amount_paise": "Of", "held_paise": "Held for calls", "expires": "Expires"})
    left = {v.lot: v.remaining for v in found}
    lot = st.selectbox("Grant", list(left), key="vg_lot", format_func=lambda n: f"Lot {n}: {ui.rupees(left[n])} left")
    why = st.text_input("Reason for voiding (required)", max_chars=300, key="vg_reason")
    if st.button("Void what is left", icon=":material/block:", key="vg_go"):
        try:
            res = grants.void(db, admin=me, user_id=who, lot=lot, reason=why)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            later = f"; {ui.rupees(res['held'])} held by calls leaves when they end" if res["held"] else ""
            ui.flash(f"Voided {ui.rupees(res['amount'])} of lot {lot} in {who}'s wallet{later}.")
            st.rerun()


def burn_order(db, me: str) -> None:
    st.subheader("Order of spending")
    now = wallet.burn_rule(db)
    names = list(ledger.BURN_RULES)
    pick = st.radio("Every debit and call draws on a wallet's lots in this order", names, index=names.index(now),
                    format_func=ledger.BURN_RULES.get, key="bo_rule")
    if pick != now and st.button("Save order", key="bo_save", icon=":material/save:"):
        wallet.set_burn_rule(db, pick, by=me)
        ui.flash("The order of spending is changed for every later debit and call.")
        st.rerun()
    days = ui.app_settings()["paid_validity_days"]
    new = st.number_input("Recharges expire after (days; 0: never)", 0, 3650, days, key="bo_validity")
    if new != days and st.button("Save validity", key="bo_validity_save", icon=":material/save:"):
        settings.set_value(db, "paid_validity_days", int(new), by=me)
        ui.invalidate("settings")
        ui.flash("Recharges from now on expire after " + (f"{new} days." if new else "never."))
        st.rerun()


def breakage_section(db) -> None:
    """Breakage (admins and analysts): free credit per month and campaign, granted, spent, expired, voided."""
    st.subheader("Free credit: granted, spent, expired")
    first, last = grants.this_year()
    rows = reports.breakage(db, first, last)
    tot = grants.breakage_totals(rows)
    m = st.columns(4)
    m[0].metric("Granted, 12 months", ui.rupees(tot["granted_paise"]), border=True)
    m[1].metric("Spent", ui.rupees(tot["spent_paise"]), border=True)
    m[2].metric("Expired or voided", ui.rupees(tot["expired_paise"] + tot["voided_paise"]), border=True)
    m[3].metric("Breakage", "—" if tot["breakage_percent"] is None else f"{tot['breakage_percent']}%", border=True,
                help="Expired and voided, of what was granted")
    if not rows:
        st.caption("No promotional or manual credit in the last twelve months.")
        return
    ui.money_table(rows, {"month": "Month", "campaign": "Campaign", "granted_paise": "Granted",
                          "spent_paise": "Spent", "expired_paise": "Expired", "voided_paise": "Voided"})
    cols = ["month", "campaign"] + [f"{k}_paise" for k in grants.BREAKAGE_FIELDS]
    st.download_button("Download breakage CSV", data="".join(csvout.dicts_csv(rows, cols)), mime="text/csv",
                       file_name=ui.csv_name("breakage", first=first, last=last), icon=":material/download:",
                       on_click="ignore", key="bk_csv")
