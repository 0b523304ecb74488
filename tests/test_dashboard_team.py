"""The dashboard's side of issue 27 under AppTest: an owner invites from the Account page, the invitee opens
the e-mailed link and accepts, then switches accounts in the sidebar and sees that account's wallet; what
each member role is offered (a viewer no forms, a developer keys but no notifications); a key made on the
page is shown once and revoked from it. The real-browser walk at both sizes is tests/test_browser_team.py."""
from __future__ import annotations

import pytest

from services import accounts, ledger
from services.accounts import invitations, keys, teams
from tests.support.dashboard import PW, markdown, signed_in, texts


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def _labels(at) -> list[str]:
    return [b.label for b in at.button] + [b.label for b in at.get("form_submit_button")]


def _page(at, name: str):
    at.switch_page(f"app_pages/{name}.py").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def team(adb):
    accounts.create_user(adb, "ravi", PW, "Ravi K", "ravi@example.com", "user")
    ledger.post(adb, "asha", key="seed", type="credit", category="promo_credit", amount=123_400)
    return adb


def test_invite_accept_and_switch_accounts_in_the_sidebar(team):
    db = team
    at = _page(signed_in("asha", "user"), "account")
    assert "Members" in markdown(at) or at.dataframe
    box = next(t for t in at.text_input if t.label == "E-mail address")
    box.input("ravi@example.com")
    next(s for s in at.selectbox if s.label == "Role").set_value("finance")
    next(b for b in at.get("form_submit_button") if b.label == "Send invitation").click().run()
    assert not at.exception, at.exception
    assert "Invitation e-mailed to ravi@example.com" in texts(at.success)
    [inv] = invitations.pending(db, "asha")
    mail = db.alerts.find_one({"event_type": "account.invitation"})
    token = mail["action_url"].split("invite=", 1)[1]

    ravi = signed_in("ravi", "user")
    ravi.query_params["invite"] = token
    _page(ravi, "account")
    assert "invites **ravi@example.com** to the account **Asha Rao** as **Finance**" in markdown(ravi)
    _button(ravi, "Accept the invitation").click().run()
    assert not ravi.exception, ravi.exception
    assert "You joined Asha Rao as Finance" in texts(ravi.success)
    assert teams.role_of(db, "asha", "ravi") == "finance" and inv["id"]
    # The sidebar now offers both accounts; the one just joined is chosen, with its balance.
    pick = ravi.sidebar.selectbox(key="account_pick")
    assert pick.value == "asha" and set(pick.options) == {"Ravi K · Owner", "Asha Rao · Finance"}
    assert ravi.sidebar.metric[0].value == "Rs. 1,234.00"
    _page(ravi, "wallet")
    assert ravi.main.metric[0].value == "Rs. 1,234.00"
    pick = ravi.sidebar.selectbox(key="account_pick")
    pick.set_value("ravi").run()
    assert not ravi.exception, ravi.exception
    assert ravi.sidebar.metric[0].value == "Rs. 0.00" and ravi.main.metric[0].value == "Rs. 0.00"


def test_each_member_role_is_offered_what_it_may_do(team):
    db = team
    for who, role in (("ravi", "viewer"),):
        teams.add(db, "asha", who, role, by="asha")
    at = signed_in("ravi", "user")
    at.sidebar.selectbox(key="account_pick").set_value("asha").run()
    _page(at, "wallet")
    assert at.main.metric[0].value == "Rs. 1,234.00"
    assert not any(lbl.startswith("Pay") for lbl in _labels(at))  # a viewer recharges nothing
    assert "Recharges are made by the account's owners and finance team." in markdown(at)
    _page(at, "calls")
    assert at.get("segmented_control")[0].options == ["Call history"]
    _page(at, "account")
    assert "Send invitation" not in _labels(at) and "Change role" not in _labels(at)
    _page(at, "notifications")
    save = next(b for b in at.get("form_submit_button") if b.label == "Save")
    assert save.disabled

    teams.set_role(db, "asha", "ravi", "developer", by="asha")
    dev = signed_in("ravi", "user")
    dev.sidebar.selectbox(key="account_pick").set_value("asha").run()
    with pytest.raises(ValueError):  # a developer's navigation has no Notifications page
        dev.switch_page("app_pages/notifications.py").run()
    _page(dev, "calls")
    assert "Make a call" in dev.get("segmented_control")[0].options


def test_a_key_made_on_the_page_is_shown_once_and_revoked_from_it(team):
    db = team
    at = _page(signed_in("asha", "user"), "account")
    at.get("segmented_control")[0].set_value("API keys").run()
    next(t for t in at.text_input if t.label == "Name").input("voice-prod")
    next(t for t in at.text_input if t.label.startswith("Daily cap")).input("100")
    next(b for b in at.get("form_submit_button") if b.label == "Create key").click().run()
    assert not at.exception, at.exception
    [k] = keys.list_keys(db, "asha")
    shown = [c.value for c in at.code]
    assert len(shown) == 1 and shown[0].startswith(k.prefix + "_") and keys.resolve(db, shown[0]).id == k.id
    assert k.daily_cap_paise == 10_000 and k.scopes == ("calls",)
    _button(at, "I have copied it").click().run()
    assert not at.code  # never shown again
    _button(at, "Revoke now").click().run()
    assert not at.exception, at.exception
    assert keys.list_keys(db, "asha")[0].state == "revoked"
    at.get("segmented_control")[0].set_value("Audit").run()
    assert not at.exception, at.exception
    trail = at.dataframe[-1].value
    assert list(trail["Action"]) == ["Revoked an API key", "Created an API key"]


def test_insights_show_spend_per_key(team):
    from services import calls
    db = team
    k, _ = keys.create(db, teams.acting(db, "asha", "asha"), "voice-prod", ["calls"], daily_cap="500")
    for seconds in (60, 90):
        c = calls.start_call(db, "asha", "+919876543210", "kb1", 5, key_id=k.id)
        calls.end_call(db, "asha", c["call_id"], seconds)
    c = calls.start_call(db, "asha", "+919876543210", "kb1", 5)  # from the dashboard: no key
    calls.end_call(db, "asha", c["call_id"], 30)
    at = _page(signed_in("asha", "user"), "insights")
    assert "Spend by API key" in [h.value for h in at.subheader]
    table = at.dataframe[-1].value
    assert list(table["API key"]) == [f"voice-prod ({k.prefix})"]
    assert list(table["Last 30 days"]) == ["Rs. 25.00"] and list(table["Today"]) == ["Rs. 25.00"]
    assert list(table["Caps"]) == ["Rs. 500.00 a day"]
    assert "Spent without a key (calls from the dashboard or a person's sign-in, refunds): Rs. 5.00" in markdown(at)
