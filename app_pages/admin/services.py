"""Admin services: the catalogue of services billed besides calls (SMS, a rented number...): each with its
price now and its price changes ahead; a form to add or change one now, or to schedule its new price (the
customers who use it are told ahead, services.alerts.service_prices); a change ahead can be withdrawn."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import clock, usage
from services.errors import WalletError
from services.money import parse_rupees

me = ui.admin_page("Services")["username"]
db = ui.get_db()


def price_text(terms: dict, unit: str) -> str:
    return usage.prices.describe(terms, unit)


def terms_of(s) -> dict:
    return {"price_paise": s.price_paise, "per_units": s.per_units, "tiers": s.tiers}


rows = usage.prices.listing(db)
ui.times_note()
if not rows:
    st.caption("No services yet: add the first one below.")
else:
    ui.table(pd.DataFrame([{
        "Name": r["service"].name, "Display name": r["service"].display_name, "Unit": r["service"].unit,
        "Price now": price_text(terms_of(r["service"]), r["service"].unit),
        "Grace days": r["service"].grace_days,
        "Changes ahead": " | ".join(f"{price_text(c['terms'], c['unit'])} from {ui.when(c['at'])}"
                                   for c in r["ahead"]) or "—"} for r in rows]),
        pinned=("Name",))

with st.form("service", clear_on_submit=True):
    st.markdown("**Add or change a service** (empty fields stay as the service has them; a new service needs "
                "a display name and a unit)")
    c1, c2, c3 = st.columns(3)
    name = c1.text_input("Name", placeholder="sms", help="1-32 lowercase letters, digits, '-' or '_'")
    display = c2.text_input("Display name", placeholder="SMS")
    unit = c3.text_input("Unit", placeholder="message")
    c4, c5, c6 = st.columns(3)
    price = c4.text_input("Price, Rs.", placeholder="0.25")
    per = c5.number_input("Per how many units", min_value=1, max_value=usage.catalogue.MAX_PER_UNITS, value=None,
                          placeholder="1")
    grace = c6.number_input("Grace days (monthly fees)", min_value=0, max_value=365, value=None, placeholder="7")
    tiers = st.text_input("Volume tiers (optional): units a month past which, and the price then, Rs.",
                          placeholder="10000: 0.20, 100000: 0.15",
                          help="Each tier's price is below the one before it; empty keeps the service's tiers, "
                               "'none' removes them")
    d, t = st.columns(2)
    day = d.date_input(f"New price takes effect on ({clock.abbr()}; empty = now)", value=None, format=ui.DATE_INPUT,
                       help="A scheduled change moves the price only; customers who use the service are told ahead")
    at = t.time_input(f"at ({clock.abbr()})", value=None)
    if st.form_submit_button("Save service"):
        when = None if day is None else clock.at_local(day, at)
        try:
            out = usage.prices.define_at(
                db, me, name.strip().lower(), price_paise=parse_rupees(price, allow_zero=True, what="Price",
                                                                       maximum=usage.catalogue.MAX_PRICE_PAISE),
                display_name=display.strip() or None, unit=unit.strip() or None,
                per_units=None if per is None else int(per), grace_days=None if grace is None else int(grace),
                tiers=None if not tiers.strip() else [] if tiers.strip().lower() == "none"
                else usage.catalogue.parse_tiers(tiers), effective_at=when)
        except WalletError as exc:
            ui.show_error(exc)
        else:
            s = out["service"]
            ui.flash(f"{s.display_name} saved: {price_text(terms_of(s), s.unit)} now." if when is None
                     else f"{s.display_name}: new price from {ui.when(when, '%H:%M on %d %b %Y')} {clock.abbr()}; "
                          "its customers are told ahead.")
            st.rerun()

st.subheader("Price changes ahead")
ahead = [c for r in rows for c in r["ahead"]]
if not ahead:
    st.caption("None scheduled.")
for ch in sorted(ahead, key=lambda c: c["at"]):
    x, y = st.columns([6, 1], vertical_alignment="center")
    x.markdown(f"**{ui.when(ch['at'], '%H:%M on %d %b %Y')}** · {ch['display_name']} → "
               f"{price_text(ch['terms'], ch['unit'])} (now {price_text(ch['before'], ch['unit'])})")
    if y.button("Withdraw", key=f"cancel_{ch['id']}"):
        try:
            usage.prices.cancel(db, me, ch["service"], ch["id"])
        except WalletError as exc:
            ui.show_error(exc)
        else:
            ui.flash("Price change withdrawn.")
            st.rerun()
