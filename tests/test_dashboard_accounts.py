"""The dashboard's side of accounts: a session ends on the next run after a password reset, a role change
or a disabled account (streamlit-authenticator's cookie cannot be revoked: the session's epoch and the
cookie's issue time are checked instead), a disabled user is told so, sign-up names every problem at
once, and the admin Users page changes roles, disables accounts and clears sign-in locks."""
from __future__ import annotations

from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from services import accounts, clock, tokens, users
from services.errors import AuthError
from tests.support.dashboard import PW, app, login, signed_in, texts

ENDS = {
    "password reset": lambda db: accounts.set_password(db, "asha", "a-brand-new-secret", by="boss"),
    "role change": lambda db: accounts.set_role(db, "asha", "analyst", by="boss"),
    "disabled account": lambda db: accounts.disable(db, "asha", by="boss"),
}


@pytest.mark.parametrize("change", list(ENDS))
def test_a_signed_in_session_ends_on_its_next_run(adb, change):
    at = login(app().run(), "asha", PW).run()  # the second run stands for the cookie component's rerun
    assert at.session_state["authentication_status"] is True and "Wallet" in texts(at.title)
    ENDS[change](adb)
    at.run()
    assert at.session_state["authentication_status"] is not True
    assert "Wallet" not in texts(at.title) and at.text_input  # the sign-in form again
    shown = texts(at.warning)
    assert ("disabled" if change == "disabled account" else "session has ended") in shown, shown


def test_an_unrelated_change_leaves_the_session_alone(adb):
    at = login(app().run(), "asha", PW).run()
    accounts.set_password(adb, "ana", "a-brand-new-secret", by="boss")  # someone else's
    accounts.set_role(adb, "asha", "user", by="boss")                    # the same role: nothing changes
    at.run()
    assert at.session_state["authentication_status"] is True and "Wallet" in texts(at.title)


def _cookie_check(exp_date: float) -> None:
    """A session restored from a cookie (as the library restores it) on its first run."""
    import streamlit as st

    import app_ui as ui
    from services.errors import AuthError
    st.session_state.update({"authentication_status": True, "username": "asha"})
    try:
        st.write("accepted " + ui.session_user({"username": "asha", "exp_date": exp_date})["username"])
    except AuthError as exc:
        st.write("refused: " + exc.message)


def _restore(exp_date: float) -> str:
    at = AppTest.from_function(_cookie_check, kwargs={"exp_date": exp_date}, default_timeout=60).run()
    assert not at.exception, at.exception
    return texts(at.markdown)


def test_a_cookie_issued_before_the_sessions_ended_is_refused(adb):
    import app_ui
    life = timedelta(days=app_ui.COOKIE_EXPIRY_DAYS)
    issued = clock.now() - timedelta(minutes=5)
    assert _restore((issued + life).timestamp()) == "accepted asha"
    accounts.set_password(adb, "asha", "a-brand-new-secret", by="boss")
    assert _restore((issued + life).timestamp()).startswith("refused: Your session has ended")
    assert _restore((clock.now() + timedelta(seconds=1) + life).timestamp()) == "accepted asha"  # a later sign-in


def test_a_disabled_user_is_told_so_and_wrong_passwords_are_not(adb):
    accounts.disable(adb, "asha", by="boss")
    at = login(app().run(), "asha", PW)
    assert len(at.error) == 1 and "disabled" in texts(at.error), texts(at.error)
    at = login(app().run(), "asha", "not-the-password")
    assert texts(at.error) == "Wrong username or password."
    accounts.enable(adb, "asha", by="boss")
    assert login(app().run(), "asha", PW).session_state["authentication_status"] is True


def test_sign_up_names_every_problem_at_once(adb):
    at = app().run()
    form = {"Choose a username": "X!", "Your name": "Evil\u202eName", "Email": "not-an-email",
            "Choose a password": "        ", "Repeat the password": "       "}
    for ti in at.text_input:
        if ti.label in form:
            ti.input(form[ti.label])
    next(b for b in at.button if b.label == "Create account").click().run()
    assert len(at.error) == 1
    shown = texts(at.error)
    for part in ("Username must be", "U+202E", "valid email", "only spaces", "passwords differ"):
        assert part in shown, (part, shown)
    assert adb.users.count_documents({}) == 3


def test_admin_changes_a_role_and_disables_an_account(adb):
    at = signed_in("boss", "admin", "admin/users")
    at.text_input(key="acc_user").input("asha")
    at.selectbox(key="acc_change").select("make an analyst")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert not at.exception, at.exception
    assert "asha is now analyst" in texts(at.success) and users.get(adb, "asha")["role"] == "analyst"
    at.text_input(key="acc_user").input("asha")
    at.selectbox(key="acc_change").select("disable the account")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert users.get(adb, "asha")["disabled"] is True
    access = dict(zip(at.dataframe[0].value["Username"], at.dataframe[0].value["Access"], strict=True))
    assert access == {"asha": "Disabled", "boss": "Can sign in", "ana": "Can sign in"}  # one column says who is off
    at.text_input(key="acc_user").input("boss")  # not yourself
    at.selectbox(key="acc_change").select("disable the account")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert "your own account" in texts(at.error) and users.get(adb, "boss")["disabled"] is False


def test_admin_sees_held_back_sign_ins_and_clears_them(adb, monkeypatch):
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now)
    for _ in range(tokens.FREE_FAILURES):
        with pytest.raises(AuthError):
            tokens.sign_in(adb, "asha", "wrong-password!", client="203.0.113.5")
    at = signed_in("boss", "admin", "admin/users")
    table = at.dataframe[-1].value
    assert list(table["Username"]) == ["asha"] and "203.0.113.5 (2 s)" in table["Addresses waiting"][0]
    next(b for b in at.button if b.label == "Clear the lock").click().run()
    assert "no longer held back" in texts(at.success)
    assert tokens.locked(adb) == [] and tokens.sign_in(adb, "asha", PW, client="203.0.113.5")
