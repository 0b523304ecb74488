"""Account: the team on this wallet and the keys its voice platform uses. Members and their roles (owners
change them; anyone may leave, except the last owner), invitations by e-mail, API keys (made once, shown
once; revoked at once; rotated with an overlap) with what each spent against its caps, and for owners the
account's audit trail. An invitation link (`/account?invite=...`) is accepted here."""
import streamlit as st

import app_ui as ui
from app_pages import account_ui

user = ui.require_role("user")
db = ui.get_db()
st.title("Account")
ui.show_flash()
account_ui.invitation(db, user)  # before the membership check: a person with no account may join one here
acct = ui.customer_page("members:read")

name = ui.memberships(user["username"])
here = next((a["name"] for a in name if a["id"] == acct.account), acct.account)
st.caption(f"**{here}** (`{acct.account}`) · your role: **{ui.MEMBER_ROLE_LABELS[acct.role]}**. The wallet, "
           "calls, documents and keys belong to the account; each person signs in as themselves.")

tabs = ["Members", "API keys"] + (["Audit"] if acct.may("audit") else [])
view = st.segmented_control("Section", tabs, default="Members", key="acct_view", label_visibility="collapsed") \
    or "Members"
if view == "Members":
    account_ui.members(db, acct)
    account_ui.invitations(db, acct)
elif view == "API keys":
    account_ui.keys(db, acct)
else:
    account_ui.audit(db, acct)
