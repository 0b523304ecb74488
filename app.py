"""The wallet dashboard's entrypoint: sign-in, the role's navigation, and the sidebar every page shares.

Run with `streamlit run app.py` (or `make run`). Set the cookie key first: `cookie_key` in
.streamlit/secrets.toml or the WALLET_COOKIE_KEY environment variable (32+ random characters), both
read by services.config.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

import streamlit as st
import streamlit_authenticator as stauth
from extra_streamlit_components.CookieManager import CookieManager
from extra_streamlit_components.CookieManager import _component_func as cookie_component
from streamlit_authenticator.models import cookie_model
from streamlit_authenticator.utilities.exceptions import LoginError

import app_ui as ui
from services import accounts, config, users
from services.errors import AuthError, Forbidden, RateLimited, WalletError

st.set_page_config(page_title="Wallet · Voice AI", page_icon=":material/account_balance_wallet:",
                   layout="wide")
# Rupee amounts with paise need more room than the default metric size leaves in a 4-6 column row. A table's
# toolbar (search, download, full screen) shows in the 44 px above it on hover: room is kept there, so it no
# longer covers the filter, the dropdown arrow or the date picker's icon drawn right above a table.
st.html("<style>[data-testid='stMetricValue']{font-size:1.55rem}"
        "[data-testid='stMainBlockContainer']{padding-top:2.5rem}"
        "[data-testid='stDataFrame']{margin-top:1.75rem}</style>")

# The page scripts live in app_pages/, not pages/: a pages/ folder switches a fresh server into the legacy
# multipage mode until the first st.navigation call, and that first visitor would get every page listed
# in the sidebar and run directly, with no sign-in gate in front.
# url_path (the deep link, e.g. /admin-users) -> (script, title, icon, roles that may open it). A page not
# listed for a role is unreachable for it (and each page checks the role again, for anyone who types its URL).
PAGES = {
    "wallet": ("app_pages/wallet.py", "Wallet", ":material/account_balance_wallet:", ("user",)),
    "transactions": ("app_pages/transactions.py", "Transactions", ":material/receipt_long:", ("user",)),
    "calls": ("app_pages/calls.py", "Calls", ":material/call:", ("user",)),
    "insights": ("app_pages/insights.py", "Insights", ":material/insights:", ("user",)),
    "notifications": ("app_pages/notifications.py", "Notifications", ":material/notifications:", ("user",)),
    "account": ("app_pages/account.py", "Account", ":material/group:", ("user",)),
    "admin": ("app_pages/admin/overview.py", "Overview", ":material/dashboard:", ("admin",)),
    "admin-users": ("app_pages/admin/users.py", "Users", ":material/group:", ("admin",)),
    "admin-credits": ("app_pages/admin/credits.py", "Credits & refunds", ":material/redeem:", ("admin",)),
    "admin-rates": ("app_pages/admin/rates.py", "Call rates", ":material/price_change:", ("admin",)),
    "admin-services": ("app_pages/admin/services.py", "Services", ":material/sms:", ("admin",)),
    "admin-payments": ("app_pages/admin/payments.py", "Payments", ":material/credit_card_off:", ("admin",)),
    "admin-audit": ("app_pages/admin/audit.py", "Ledger audit", ":material/rule:", ("admin",)),
    "admin-log": ("app_pages/admin/audit_log.py", "Audit log", ":material/history:", ("admin",)),
    "admin-alerts": ("app_pages/admin/alerts.py", "Alerts", ":material/notifications_active:", ("admin",)),
    "admin-documents": ("app_pages/admin/documents.py", "Customer documents", ":material/receipt:", ("admin",)),
    "admin-business": ("app_pages/admin/business.py", "Business & GST", ":material/storefront:", ("admin",)),
    "admin-autorecharge": ("app_pages/admin/autorecharge.py", "Auto-recharge", ":material/autorenew:", ("admin",)),
    "admin-settlements": ("app_pages/admin/settlements.py", "Settlements & TDS", ":material/account_balance:",
                          ("admin",)),
    "analyst": ("app_pages/analyst.py", "Analytics", ":material/analytics:", ("analyst", "admin")),
}
# What a member's role must allow for a customer page to be listed (services.accounts.roles); each page checks too.
NEEDS = {"wallet": "balance", "transactions": "transactions", "calls": "usage", "insights": "usage",
         "notifications": "alerts:read", "account": "members:read"}
SECTIONS = {"Your wallet": ("wallet", "transactions", "calls", "insights", "notifications", "account"),
            "Admin": ("admin", "admin-users", "admin-credits", "admin-rates", "admin-services", "admin-payments",
                      "admin-audit",
                      "admin-log",
                      "admin-alerts", "admin-documents", "admin-business",
                      "admin-autorecharge", "admin-settlements"),
            "Reports": ("analyst",)}
HERE = os.path.dirname(os.path.abspath(__file__))


def cookie_key() -> str:
    key = config.get().cookie_key
    if not key or len(key) < 32:
        st.error("The dashboard has no sign-in cookie key, so nobody can sign in safely yet.\n\n"
                 "Set one of 32 or more random characters, either as `cookie_key = \"...\"` in "
                 "`.streamlit/secrets.toml` or as the `WALLET_COOKIE_KEY` environment variable, e.g. "
                 "`export WALLET_COOKIE_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`, "
                 "then restart.", icon=":material/key_off:")
        st.stop()
    return key


def navigation_for(role: str | None, acting=None) -> dict[str, list]:
    """The pages `role` may open, by section (`None`: every page, for the signed-out URL registry); for a
    customer, those their role on the chosen account allows (`acting`; None: only the Account page)."""
    nav = {}
    for section, names in SECTIONS.items():
        pages = [st.Page(os.path.join(HERE, PAGES[n][0]), title=PAGES[n][1], icon=PAGES[n][2], url_path=n)
                 for n in names if role is None or (role in PAGES[n][3] and _member_may(n, role, acting))]
        if pages:
            nav[section] = pages
    return nav


def _member_may(page: str, role: str, acting) -> bool:
    if role != "user" or page not in NEEDS:
        return True
    return acting.may(NEEDS[page]) if acting is not None else page == "account"


def sign_in_page() -> None:
    ui.signed_out_layout()
    st.title(":material/account_balance_wallet: Voice AI wallet")
    st.caption("Prepaid balance for your AI voice calls: recharge, see every rupee, never guess.")
    notice = ui.signin_notice()
    if notice:
        st.warning(notice, icon=":material/logout:")
    tab_in, tab_up = st.tabs(["Sign in", "Create an account"])
    with tab_in:
        sign_in_form()
    with tab_up:
        sign_up_form()


def sign_in_form() -> None:
    """Our own form (not the library's): it signs in through services.tokens, so the dashboard and the API
    share one throttle, and a refusal shows exactly one message."""
    with st.form("signin"):
        st.subheader("Sign in")
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")  # the label the browser tests click
    if not submitted:
        return
    try:
        ui.sign_in(username, password)
    except RateLimited as exc:
        st.error(exc.message, icon=":material/lock_clock:")
    except (AuthError, Forbidden) as exc:
        st.error(exc.message, icon=":material/lock:")
    else:
        st.session_state[COOKIE_PENDING] = True  # written by keep_cookie() on the runs that follow
        st.rerun()


COOKIE_NAME = "wallet_session"
COOKIE_PENDING = "_cookie_pending"  # signed in, and the browser has not yet confirmed the session cookie


def keep_cookie() -> None:
    """Write the session cookie on every run until its component reports it stored. A rerun that comes
    before the component has run in the browser unmounts it, and the write is lost: a reload then signs
    the person out. Drawn in the sidebar, at the same place every run, so a run that comes after it has
    reported does not mount it again."""
    if not st.session_state.get(COOKIE_PENDING) or not st.session_state.get("authentication_status"):
        return  # (signed out in this very run: the sidebar's button comes first)
    with st.sidebar:
        auth.cookie_controller.set_cookie()
    if auth.cookie_controller.cookie_model.cookie_manager.written:
        del st.session_state[COOKIE_PENDING]


def sign_up_form() -> None:
    with st.form("signup", clear_on_submit=False):
        st.subheader("Create an account")
        st.caption("Your wallet starts at Rs. 0.00; recharge it once you are in.")
        username = st.text_input("Choose a username", help="3-32 lowercase letters, digits, _ or -")
        name = st.text_input("Your name")
        email = st.text_input("Email")
        pw = st.text_input("Choose a password", type="password",
                           help="At least 8 characters; not a common password, not containing the username")
        pw2 = st.text_input("Repeat the password", type="password")
        if not st.form_submit_button("Create account", type="primary"):
            return
    found = users.signup_problems(username, pw, name, email)
    if pw != pw2:
        found.append("The two passwords differ.")
    if found:  # every problem at once, not one per try
        st.error("\n".join(f"- {p}" for p in found), icon=":material/error:")
        return
    try:
        u = accounts.create_user(ui.get_db(), username, pw, name, email, "user")
    except WalletError as exc:
        ui.show_error(exc)
    else:
        st.success(f"Account **{u['username']}** created with a Rs. 0.00 wallet. Sign in on the first tab.")


def sidebar(user: dict, acting) -> None:
    with st.sidebar:
        st.markdown(f"**{user['name']}**  \n`{user['username']}` · {ui.ROLE_LABELS.get(user['role'], user['role'])}")
        if user["role"] == "user" and acting is not None:  # staff wallets sit at zero by design: no balance
            account_switcher(user, acting)
            b = ui.balance_of(acting.account)
            st.metric("Balance", ui.rupees(b.balance),
                      help=f"Held for calls in progress: {ui.rupees(b.held)}; available: {ui.rupees(b.available)}")
            if b.low:
                st.caption(f":orange[:material/warning: Below {ui.rupees(b.low_threshold)}]")
        ui.sandbox_badge()  # the one place it shows: once per screen
        ui.phone_layout()
        auth.logout("Sign out", location="sidebar", key="logout_btn", callback=lambda _info: ui.end_session())


def account_switcher(user: dict, acting) -> None:
    """The account this person acts on: a choice when they belong to several, else its name."""
    mine = ui.memberships(user["username"])
    label = {a["id"]: f"{a['name']} · {ui.MEMBER_ROLE_LABELS.get(a['role'], a['role'])}" for a in mine}
    if len(mine) < 2:
        st.caption(f":material/group: {label.get(acting.account, acting.account)}")
        return
    ids = [a["id"] for a in mine]
    if acting.account not in ids:  # joined a moment ago: the cached list is older
        ids.append(acting.account)
    st.session_state["account_pick"] = acting.account  # what is chosen now (a fallback may have moved it)
    st.selectbox("Account", ids, format_func=lambda i: label.get(i, i), key="account_pick",
                 on_change=lambda: ui.choose_account(st.session_state["account_pick"]),
                 help="The account you act on: its wallet, calls, team and keys. Your role may differ on each.")


class CookieWriter(CookieManager):
    """The library's cookie manager without its "getAll" component, and with a write that reports back.
    streamlit-authenticator reads the session cookie from st.context.cookies; the stock manager also
    mounts a component on every page load whose first report reruns the script a moment later, and under
    load that rerun raced the person (a Login click lost its cookie write, a page link bounced back)."""

    def __init__(self) -> None:  # not super().__init__(): that mounts the component
        self.cookie_manager = cookie_component  # set() and delete() still write through it
        self.cookies = dict(st.context.cookies)
        self.written = False

    def set(self, cookie, val, key="set", expires_at=None, **_):
        self.written = self.cookie_manager(method="set", cookie=cookie, value=val, key=key, default=False,
                                           options={"path": "/", "expires": expires_at.isoformat(),
                                                    "sameSite": "strict"})
        self.cookies[cookie] = val

    def delete(self, cookie, key="delete"):
        self.cookies.setdefault(cookie, "")  # a cookie written in this session is not in st.context yet
        super().delete(cookie, key)


cookie_model.stx = SimpleNamespace(CookieManager=CookieWriter)  # only the sign-in library's manager changes


# The library's cookie check without its print() of every cookie that does not verify (none at all included).
cookie_model.CookieModel._token_decode = lambda self: ui.decode_cookie(self.token, self.cookie_key) or False


ui.get_db()  # open (and index) the database before anything reads it
# Created once per run, here (the library keeps state on it). The library
# only keeps the sign-in cookie; passwords are checked by services.tokens (sign_in_form).
KEY = cookie_key()
auth = stauth.Authenticate(ui.credentials(COOKIE_NAME, KEY), cookie_name=COOKIE_NAME, cookie_key=KEY,
                           cookie_expiry_days=ui.COOKIE_EXPIRY_DAYS, login_sleep_time=0, auto_hash=False)
# Restore a session from the cookie before navigation is built, so a reload stays on its page.
try:
    auth.login(location="unrendered")
except LoginError:  # a cookie for a user that no longer exists: sign in again
    pass

me = None
if st.session_state.get("authentication_status"):
    try:
        me = ui.session_user(auth.cookie_controller.get_cookie())
    except AuthError as exc:  # password, role or account changed since this session began: it ends
        auth.logout(location="unrendered")
        ui.end_session(exc.message)
if me is None:
    # Every page is registered (hidden) so a deep link such as the payment callback's /wallet?... keeps
    # its URL through sign-in, but nothing except the sign-in form runs until someone is signed in.
    signin = st.Page(sign_in_page, title="Sign in", icon=":material/login:", url_path="signin", default=True)
    st.navigation([signin] + [p for ps in navigation_for(None).values() for p in ps], position="hidden")
    sign_in_page()
else:
    acting = ui.acting(me) if me["role"] == "user" else None
    nav = navigation_for(me["role"], acting)
    first = next(n for names in SECTIONS.values() for n in names
                 if me["role"] in PAGES[n][3] and _member_may(n, me["role"], acting))
    # The default page answers only at "/", so a real page as default would make /wallet (the payment
    # callback's URL) "not found". A hidden home page runs the role's first page script at "/" instead.
    home = st.Page(os.path.join(HERE, PAGES[first][0]), title=PAGES[first][1], icon=PAGES[first][2],
                   url_path="home", default=True, visibility="hidden")
    # expanded: an admin has more pages than the sidebar lists before folding the rest under "View more"
    page = st.navigation({"": [home], **nav}, expanded=True)
    sidebar(me, acting)
    keep_cookie()
    page.run()
