"""The Account page's sections: an invitation to accept, members, invitations, API keys, the audit trail.
Each reads input, calls one service function (services.accounts, services.invites), and renders."""
from __future__ import annotations

from datetime import time as dtime

import pandas as pd
import streamlit as st

import app_ui as ui
from services import clock, invites
from services.accounts import ROLES, SCOPES, Acting, invitations as invs, keys as apikeys, roles, teams, trail
from services.errors import WalletError

_SECRET = "_new_key_secret"  # a key's secret, shown until its maker says it is copied


def _done(message: str) -> None:
    ui.invalidate("accounts")
    ui.flash(message)
    st.rerun()


# ------------------------------------------------------------------------------------- invitations

def invitation(db, user: dict) -> None:
    """An invitation link opened here (`?invite=`): what it offers, and the button that accepts it."""
    token = st.query_params.get("invite")
    if not token:
        return
    try:
        inv = invs.peek(db, token)
    except WalletError as exc:
        ui.show_error(exc)
        if st.button("Dismiss", key="inv_dismiss", type="tertiary"):
            del st.query_params["invite"]
            st.rerun()
        return
    with st.container(border=True):
        st.markdown(f":material/mail: **{inv['invited_by']}** invites **{inv['email']}** to the account "
                    f"**{inv['account_name']}** as **{roles.ROLE_LABELS[inv['role']]}** "
                    f"({roles.ROLE_HELP[inv['role']]}).")
        a, b = st.columns(2)
        if a.button("Accept the invitation", type="primary", icon=":material/group_add:", key="inv_accept"):
            try:
                got = invs.accept(db, token, user["username"], address=ui.client_address())
            except WalletError as exc:
                ui.show_error(exc)
                return
            del st.query_params["invite"]
            ui.choose_account(got["account"])
            _done(f"You joined {got['name']} as {roles.ROLE_LABELS[got['role']]}: it is chosen in the sidebar.")
        if b.button("Not now", key="inv_later", type="tertiary"):
            del st.query_params["invite"]
            st.rerun()


def invitations(db, acct: Acting) -> None:
    st.subheader("Invitations")
    if acct.may("members:write"):
        with st.form("invite", clear_on_submit=True):
            a, b = st.columns([3, 2])
            email = a.text_input("E-mail address", placeholder="ravi@example.com")
            role = b.selectbox("Role", ROLES, index=ROLES.index("developer"),
                               format_func=lambda r: f"{roles.ROLE_LABELS[r]}: {roles.ROLE_HELP[r]}")
            go = st.form_submit_button("Send invitation", icon=":material/send:")
        if go:
            try:
                inv = invites.invite(db, acct, email, role, address=ui.client_address())
            except WalletError as exc:
                ui.show_error(exc)
            else:
                _done(f"Invitation e-mailed to {inv['email']}: the link works once, for 7 days.")
    rows = invs.pending(db, acct.account)
    if not rows:
        st.caption("No invitations waiting.")
        return
    ui.table(pd.DataFrame([{"E-mail": r["email"], "Role": roles.ROLE_LABELS[r["role"]], "Invited by": r["invited_by"],
                            "Expires": ui.when(r["expires_at"])} for r in rows]), pinned=("E-mail",), key="inv_table")
    if acct.may("members:write"):
        pick = st.selectbox("Invitation", [r["id"] for r in rows], key="inv_pick",
                            format_func=lambda i: next(r["email"] for r in rows if r["id"] == i))
        if st.button("Withdraw", key="inv_withdraw", icon=":material/cancel:"):
            _try(lambda: invs.revoke(db, acct, pick, address=ui.client_address()), "Invitation withdrawn.")


def _try(action, message: str) -> None:
    try:
        action()
    except WalletError as exc:
        ui.show_error(exc)
    else:
        _done(message)


# ----------------------------------------------------------------------------------------- members

def members(db, acct: Acting) -> None:
    st.subheader("Members")
    rows = teams.members(db, acct.account)
    ui.table(pd.DataFrame([{"Name": m["name"], "Username": m["username"], "Role": roles.ROLE_LABELS[m["role"]],
                            "E-mail": m["email"], "Since": ui.when(m["added_at"]) if m["added_at"] else ""}
                           for m in rows]), pinned=("Name",), key="members_table")
    if acct.may("members:write"):
        others = [m["username"] for m in rows]
        a, b = st.columns([3, 2])
        who = a.selectbox("Member", others, key="mem_pick")
        role = b.selectbox("New role", ROLES, key="mem_role", format_func=lambda r: roles.ROLE_LABELS[r])
        c, d = st.columns(2)
        if c.button("Change role", key="mem_set", icon=":material/manage_accounts:"):
            _try(lambda: teams.set_role(db, acct.account, who, role, by=acct.actor, address=ui.client_address()),
                 f"{who} is now {roles.ROLE_LABELS[role]}.")
        if who != acct.person and d.button("Remove from the account", key="mem_remove",
                                           icon=":material/person_remove:"):
            _try(lambda: teams.remove(db, acct.account, who, by=acct.actor, address=ui.client_address()),
                 f"{who} no longer belongs to this account.")
    with st.expander("Leave this account", icon=":material/logout:"):
        st.caption("You lose access to its wallet, calls and keys at once; an owner can invite you again.")
        if st.button("Leave", key="mem_leave", type="secondary"):
            _try(lambda: teams.remove(db, acct.account, acct.person, by=acct.person, address=ui.client_address()),
                 "You left the account.")


# -------------------------------------------------------------------------------------------- keys

def keys(db, acct: Acting) -> None:
    _new_secret()
    if acct.may("keys:write"):
        _key_form(db, acct)
    rows = apikeys.list_keys(db, acct.account)
    st.subheader("API keys")
    if not rows:
        st.caption("No API keys yet. Your voice platform sends one as `Authorization: Bearer <key>`.")
        return
    ui.table(pd.DataFrame([_key_row(k) for k in rows]), pinned=("Name",), wrap=("Last used",), key="keys_table")
    if acct.may("keys:write"):
        _key_actions(db, acct, [k for k in rows if k.active])


def _key_row(k: apikeys.Key) -> dict:
    def of(spent: int, cap: int | None) -> str:
        return ui.rupees(spent) + (f" of {ui.rupees(cap)}" if cap else "")
    return {"Name": k.name, "Key": k.prefix + "…", "Scopes": ", ".join(k.scopes), "State": k.state,
            "Today": of(k.spent_today_paise, k.daily_cap_paise),
            "This month": of(k.spent_month_paise, k.monthly_cap_paise),
            "Calls now": f"{k.open_calls}" + (f" of {k.max_concurrent_calls}" if k.max_concurrent_calls else ""),
            "Last used": f"{ui.when(k.last_used_at)} from {k.last_used_from or 'here'}" if k.last_used_at else "never",
            "Created by": k.created_by, "Expires": ui.when(k.expires_at) if k.expires_at else "never"}


def _key_form(db, acct: Acting) -> None:
    with st.expander("Create an API key", icon=":material/key:"):
        with st.form("new_key", clear_on_submit=True):
            name = st.text_input("Name", placeholder="voice-prod")
            scopes = st.multiselect("Scopes", SCOPES, default=["calls"],
                                    format_func=lambda s: f"{s}: {roles.SCOPE_HELP[s]}")
            a, b, c = st.columns(3)
            daily = a.text_input("Daily cap (Rs., empty: none)", placeholder="e.g. 100")
            monthly = b.text_input("Monthly cap (Rs., empty: none)", placeholder="e.g. 2000")
            most = c.number_input("Calls at once (0: no limit)", min_value=0, max_value=apikeys.MAX_CONCURRENT, value=0)
            until = st.date_input("Expires (empty: never)", value=None, min_value=clock.today(), format="DD/MM/YYYY")
            go = st.form_submit_button("Create key", type="primary", icon=":material/add:")
        if go:
            expires = clock.at_local(until, dtime(23, 59)) if until else None  # to the end of that day
            try:
                k, secret = apikeys.create(db, acct, name, scopes, expires_at=expires, daily_cap=daily,
                                           monthly_cap=monthly, max_concurrent_calls=int(most) or None,
                                           address=ui.client_address())
            except WalletError as exc:
                ui.show_error(exc)
            else:
                st.session_state[_SECRET] = (k.name, secret)
                _done(f"API key {k.name} created.")


def _new_secret() -> None:
    shown = st.session_state.get(_SECRET)
    if not shown:
        return
    with st.container(border=True):
        st.warning(f"Copy the key **{shown[0]}** now: it is shown this once and stored only as a hash.",
                   icon=":material/key:")
        st.code(shown[1], language=None)
        if st.button("I have copied it", key="key_copied", icon=":material/check:"):
            st.session_state.pop(_SECRET, None)
            st.rerun()


def _key_actions(db, acct: Acting, active: list[apikeys.Key]) -> None:
    if not active:
        return
    a, b = st.columns([3, 2])
    kid = a.selectbox("Key", [k.id for k in active], key="key_pick",
                      format_func=lambda i: next(f"{k.name} ({k.prefix}…)" for k in active if k.id == i))
    overlap = b.number_input("Overlap when rotating (minutes)", min_value=0, max_value=7 * 24 * 60, value=10,
                             key="key_overlap", help="How long the old key keeps working after the new one is made.")
    c, d = st.columns(2)
    if c.button("Rotate", key="key_rotate", icon=":material/autorenew:"):
        try:
            new, secret, _old = apikeys.rotate(db, acct, kid, int(overlap), address=ui.client_address())
        except WalletError as exc:
            ui.show_error(exc)
        else:
            st.session_state[_SECRET] = (new.name, secret)
            _done(f"New key {new.prefix}… made; the old one works for {int(overlap)} more minutes.")
    if d.button("Revoke now", key="key_revoke", icon=":material/block:"):
        _try(lambda: apikeys.revoke(db, acct, kid, address=ui.client_address()),
             "Key revoked: every request with it is refused from now on.")


# ------------------------------------------------------------------------------------------- audit

def audit(db, acct: Acting) -> None:
    st.subheader("Audit")
    rows = trail.of_account(db, acct)
    if not rows:
        st.caption("No member or key changes yet.")
        return
    ui.table(pd.DataFrame([{"When": ui.when(r["at"]), "Who": r["actor"], "Action": r["action"], "On": r["target"],
                            "What": r["detail"], "From": r["address"] or "the dashboard"} for r in rows]),
             pinned=("When", "Who"), wrap=("What",), key="acct_audit")
