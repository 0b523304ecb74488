"""Admin users: every account with its balance (searched, sorted and paged in the database), roles, disabled
accounts, password resets, and sign-ins being held back (with a way to clear them). A role change, a disabled
account and a password reset end every session and API token of that user (services.users)."""
import pandas as pd
import streamlit as st

import app_ui as ui
from services import accounts, names, reports, tokens, users
from services.errors import WalletError

me = ui.admin_page("Users")["username"]
db = ui.get_db()

a, b, c, d = st.columns([3, 2, 1.4, 1], vertical_alignment="bottom")
q = a.text_input("Search by name, username, e-mail or phone", key="adm_search")
sort = b.selectbox("Sort by", list(reports.USER_SORTS), key="adm_sort",
                   format_func=lambda k: k.replace("_", " ").capitalize())
desc = c.toggle("Descending", value=True, key="adm_desc")  # largest, latest or Z first
page_no = d.number_input("Page", min_value=1, value=1, step=1, key="adm_page")
try:
    page = reports.user_page(db, search=q, sort=sort, descending=desc, page=int(page_no))
except WalletError as exc:
    ui.show_error(exc)
    page = reports.UserPage([], 0, 1, 1)
off = users.disabled_accounts(db)
held = tokens.locked(db)
access = {u["username"]: "disabled" for u in off} | {r["username"]: "held" for r in held
                                                     if r["username"] not in {u["username"] for u in off}}
more = " (the first found)" if page.more else ""
found = ui.plural(page.total, "account") + (f" matching {q.strip()!r}{more}" if q.strip() else "")
st.caption(f"{found} · page {page.page} of {page.pages}")
ui.money_table([dict(r, role=names.label(names.ROLE, r["role"]), last=ui.when(r["last_activity"]) or "never",
                     access=names.label(names.ACCESS, access.get(r["username"], "active"))) for r in page.rows],
               {"username": "Username", "name": "Name", "balance_paise": "Balance", "available_paise": "Available",
                "access": "Access", "last": "Last activity", "role": "Role", "email": "E-mail", "phone": "Phone",
                "held_paise": "Held"}, pinned=("Username", "Balance"))


def _apply(action, done: str) -> None:
    """Run one account change, then redraw with its outcome (errors shown in place)."""
    try:
        action()
    except WalletError as exc:
        ui.show_error(exc)
    else:
        ui.flash(done)
        st.rerun()


left, right = st.columns(2)
with left.form("role_form", clear_on_submit=True):
    st.subheader("Role or access")
    who = st.text_input("Username", key="acc_user").strip().lower()
    change = st.selectbox("Change", ["make a customer (user)", "make an analyst", "make an admin",
                                     "disable the account", "enable the account"], key="acc_change")
    if st.form_submit_button("Apply", icon=":material/manage_accounts:"):
        verb = change.split()[0]
        if verb == "make":
            role = {"customer": "user", "analyst": "analyst", "admin": "admin"}[change.split()[2]]
            _apply(lambda: accounts.set_role(db, who, role, by=me),
                   f"{who} is now {ui.ROLE_LABELS[role].lower()}; their sessions were ended.")
        elif verb == "disable":
            _apply(lambda: accounts.disable(db, who, by=me), f"{who} is disabled and signed out everywhere.")
        else:
            _apply(lambda: accounts.enable(db, who, by=me), f"{who} may sign in again.")

with right.form("reset_pw", clear_on_submit=True):
    st.subheader("Reset a password")
    pw_who = st.text_input("Username", key="pw_user").strip().lower()
    pw = st.text_input("New password (at least 8 characters)", type="password", key="pw_new")
    if st.form_submit_button("Set password", icon=":material/key:"):
        _apply(lambda: accounts.set_password(db, pw_who, pw, by=me),
               f"Password for {pw_who} changed, and their sessions ended. Tell them through a channel you trust.")

st.subheader("Sign-ins held back")
if not held:
    st.caption("No username is being slowed down now.")
else:
    ui.table(pd.DataFrame([{
        "Username": r["username"], "Failures (15 min)": r["failures"],
        "Guarded until": ui.when(r["guarded_until"], "%d %b %Y, %H:%M:%S") if r["guarded_until"] else "—",
        "Addresses waiting": ", ".join(f"{x['address']} ({x['wait_seconds']} s)" for x in r["addresses"]) or "—"}
        for r in held]), pinned=("Username",))
    with st.form("unlock_form", clear_on_submit=True):
        who_lock = st.selectbox("Username", [r["username"] for r in held], key="unlock_user")
        if st.form_submit_button("Clear the lock", icon=":material/lock_open:"):
            _apply(lambda: tokens.unlock(db, who_lock, by=me),
                   f"Sign-ins for {who_lock} are no longer held back.")
