"""Admin users: every account with its balance (searched and sorted), and password resets."""
import streamlit as st

import app_ui as ui
from services import reports, users
from services.errors import WalletError

me = ui.admin_page("Users")["username"]
db = ui.get_db()

a, b, c = st.columns([3, 1, 1])
q = a.text_input("Search by username, name or email", key="adm_search")
sort = b.selectbox("Sort by", ["balance", "available", "username", "name", "role"], key="adm_sort")
desc = c.toggle("Descending", value=True, key="adm_desc")
try:
    rows = reports.user_balances(db, search=q, sort=sort, descending=desc)
except WalletError as exc:
    ui.show_error(exc)
    rows = []
ui.money_table(rows, {"username": "Username", "name": "Name", "email": "Email", "role": "Role",
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
