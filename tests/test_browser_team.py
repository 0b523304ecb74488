"""Issue 27's Account page in a real browser (`make run` on free ports, Debian's Chromium through Playwright),
at 1280×800 and at 390×844: the owner invites by e-mail from the Account page; the e-mail reaches `make
run`'s local SMTP sink through the worker; the invitee opens its link, accepts, finds the account in the
sidebar's switcher, makes an API key (shown once: it works on the API), revokes it (the API refuses it),
and switches back to their own account; the owner reads the audit trail. A screenshot per step (the test's
tmp dir; UPDATE_SCREENSHOTS=1 copies them to docs/screenshots/)."""
from __future__ import annotations

import os
import re
import shutil
import time

import httpx
import pytest

from tests.support.browser import (LAPTOP, PASSWORD, PHONE, ROOT, WAIT, failing, new_page, playwright_or_skip, settle,
                                   sidebar, sign_in_at)

pytestmark = pytest.mark.browser
sync_api = playwright_or_skip()


def _sink(product) -> str:
    m = re.search(r"smtp-sink\s+(http://127\.0\.0\.1:\d+)/", product["log"].read_text())
    assert m, "make run printed no smtp-sink line"
    return m.group(1)


def _invitation_link(product, email: str) -> str:
    """The link in the invitation e-mail the worker delivered to make run's sink."""
    deadline = time.time() + WAIT / 1000
    while time.time() < deadline:
        for m in httpx.get(_sink(product) + "/messages", timeout=10, trust_env=False).json():
            if email in m.get("to", "") and "invited you" in m.get("subject", ""):
                return re.search(r"(http://\S+/account\?invite=\S+)", m["text"]).group(1)
        time.sleep(0.5)
    raise AssertionError(f"no invitation e-mail to {email} reached the sink")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_account_page_at_both_sizes(product, chromium, viewport):
    owner, invitee = new_page(chromium, viewport), new_page(chromium, viewport)
    try:
        _walk(product, owner, invitee, viewport)
    except BaseException:
        failing(product, owner.context.pages + invitee.context.pages, f"team-{viewport['width']}")
        for i, pg in enumerate(owner.context.pages + invitee.context.pages):
            try:
                pg.screenshot(path=str(product["tmp"] / f"team-{viewport['width']}-full-{i}.png"), full_page=True)
            except Exception:
                pass
        raise


def _walk(product, owner, invitee, viewport):
    base, api, phone = product["base"], product["api"], viewport["width"] < 768
    tag = "phone" if phone else "laptop"
    shots = product["tmp"] / f"team-{tag}"
    shots.mkdir(exist_ok=True)
    taken = []

    def snap(page, name: str) -> None:
        page.wait_for_timeout(300)
        page.screenshot(path=str(shots / f"ux-{tag}-{name}.png"), full_page=False)
        taken.append(f"ux-{tag}-{name}.png")

    def go(page, title: str, wait_for: str) -> None:
        if phone:
            sidebar(page, True)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        settle(page, wait_for)
        if phone:
            sync_api.expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")

    name, email = f"ravi_{tag}", f"ravi_{tag}@example.com"
    r = httpx.post(f"{api}/api/auth/signup", json={"username": name, "password": PASSWORD, "name": f"Ravi {tag}",
                                                  "email": email}, trust_env=False, timeout=60)
    assert r.status_code == 201, r.text

    sign_in_at(owner, base, "demo", phone)
    owner.goto(base)
    settle(owner, "Your payments")
    go(owner, "Account", "Send invitation")
    owner.get_by_label("E-mail address").fill(email)
    owner.get_by_role("button", name="Send invitation").click()
    settle(owner, f"Invitation e-mailed to {email}")
    snap(owner, "10-account-members")
    link = _invitation_link(product, email)

    sign_in_at(invitee, base, name, phone)
    invitee.goto(link)
    settle(invitee, "Accept the invitation")
    snap(invitee, "11-account-invitation")
    invitee.get_by_role("button", name="Accept the invitation").click()
    settle(invitee, "You joined Demo User as Developer")
    if phone:
        sidebar(invitee, True)
    switcher = invitee.get_by_test_id("stSidebar").get_by_role("combobox", name="Account")
    sync_api.expect(switcher).to_have_value("Demo User · Developer")
    if phone:
        sidebar(invitee, False)
    invitee.get_by_text("API keys", exact=True).click()
    settle(invitee, "Create an API key")
    invitee.get_by_text("Create an API key").click()
    invitee.get_by_label("Name").fill(f"voice-{tag}")
    cap = invitee.get_by_label("Daily cap (Rs., empty: none)")
    cap.fill("100")
    # Leaving the field hides its "Press Enter to submit" hint and moves the button up: a click that
    # blurs the field on mouse-down can land where the button was (streamlit/streamlit#8725).
    cap.blur()
    invitee.get_by_role("button", name="Create key").click()
    settle(invitee, "Copy the key")
    secret = invitee.get_by_test_id("stCode").first.inner_text().strip()
    assert secret.startswith("wk_test_")
    snap(invitee, "12-account-new-key")
    h = {"Authorization": f"Bearer {secret}"}
    r = httpx.get(f"{api}/api/account", headers=h, trust_env=False, timeout=60)
    assert r.status_code == 200 and r.json()["id"] == "demo", r.text  # the key acts on the account joined
    invitee.get_by_role("button", name="I have copied it").click()
    settle(invitee, "Revoke now")
    sync_api.expect(invitee.get_by_test_id("stCode")).to_have_count(0)  # never shown again
    # "I have copied it" reruns the page twice (st.rerun): until the second run ends, the first run's
    # button can still be on the page beside the new one.
    sync_api.expect(invitee.get_by_role("button", name="Revoke now")).to_have_count(1)
    invitee.get_by_role("button", name="Revoke now").click()
    settle(invitee, "Key revoked")
    snap(invitee, "13-account-keys")
    deadline = time.time() + 1.5  # every API worker refuses it within a second
    while httpx.get(f"{api}/api/account", headers=h, trust_env=False, timeout=60).status_code != 401:
        assert time.time() < deadline, "the revoked key still worked"
        time.sleep(0.1)

    # Back to their own account in the sidebar: its wallet, not the one joined.
    if phone:
        sidebar(invitee, True)
    switcher.click()
    invitee.get_by_role("option", name=f"Ravi {tag} · Owner").click()
    sync_api.expect(switcher).to_have_value(f"Ravi {tag} · Owner")
    settle(invitee, "Account")
    if phone:
        sidebar(invitee, False)
    go(invitee, "Wallet", "Your payments")
    sync_api.expect(invitee.get_by_test_id("stMetricValue").first).to_have_text("Rs. 0.00")

    go(owner, "Account", "Send invitation")
    owner.get_by_text("Audit", exact=True).click()
    sync_api.expect(owner.get_by_role("button", name="Change role")).to_have_count(0)  # the members' view is gone
    settle(owner, "Audit")
    snap(owner, "14-account-audit")

    if os.environ.get("UPDATE_SCREENSHOTS"):
        out = ROOT / "docs" / "screenshots"
        for n in taken:
            shutil.copy(shots / n, out / n)
