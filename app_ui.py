"""The dashboard's small shared helpers: the database, the signed-in user, role checks, error display,
money display and the few cached reads (each cleared by the writes that change it).

Pages stay thin: read input, call one service function, render. Anything two pages need lives here.
"""
from __future__ import annotations

import logging
import re
import uuid
from datetime import date, datetime, timedelta, timezone

import jwt
import pandas as pd
import streamlit as st

from services import (accounts, clock, config, db as dbmod, errors, files, names, payments, reports, schema, settings,
                      tokens, users, wallet)
from services.accounts import Acting
from services.money import format_rupees, format_rupees_short, to_rupees

log = logging.getLogger("wallet.dashboard")

ROLE_LABELS = names.ROLE
CATEGORY_LABELS = names.CATEGORY
SANDBOX_BADGE = ":orange-badge[:material/science: Sandbox — no real money]"

# Tests may hand the app a database object directly; otherwise the configuration decides.
TEST_DB = None


# ------------------------------------------------------------------------------------------ database

@st.cache_resource(show_spinner=False)
def _open(uri: str, name: str, path: str):
    db = dbmod.open_db(uri=uri, name=name, path=path or None)
    schema.ensure_schema(db)
    return db


def get_db():
    """One client per process (and per configured target), shared by every session."""
    if TEST_DB is not None:
        return TEST_DB
    # The same choice services.db.get_db() makes, keyed on the configuration so a changed target reopens.
    cfg = config.get()
    path = ""
    if not cfg.mongodb_uri:
        path = str(files.private_dir(cfg.data_dir) / "wallet.sqlite")
    return _open(cfg.mongodb_uri, cfg.mongodb_db, path)


# -------------------------------------------------------------------------------------- cached reads

@st.cache_data(ttl=10, show_spinner=False)
def _settings(_db, key: str) -> dict:
    return settings.get(_db)


def app_settings() -> dict:
    """Global settings, cached for a few seconds (other processes may change them; ours clear it)."""
    return _settings(get_db(), str(id(get_db())))


def credentials(cookie_name: str, cookie_key: str) -> dict:
    """What streamlit-authenticator needs to restore this session: the users its cookie and this session
    name, read by key (two reads, not the users collection). A new dict each call: the library mutates it."""
    return users.credentials(get_db(), {st.session_state.get("username"), cookie_user(cookie_name, cookie_key)})


def cookie_user(cookie_name: str, cookie_key: str) -> str | None:
    """The username a valid sign-in cookie carries (None: no cookie, or one that does not verify)."""
    token = st.context.cookies.get(cookie_name) if cookie_name in st.context.cookies else None
    return (decode_cookie(token, cookie_key) or {}).get("username")


def decode_cookie(token, cookie_key: str) -> dict | None:
    """The sign-in cookie's contents if it verifies, else None. A visitor with no cookie, or an old or
    foreign one, is ordinary (they sign in again): nothing for anyone to act on, so nothing is logged."""
    if not isinstance(token, str) or not token:
        return None
    try:
        return jwt.decode(token, cookie_key, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None


def invalidate(*what: str) -> None:
    """Clear cached reads after a write: "settings", "summary", "accounts" (or everything)."""
    targets = {"settings": [_settings], "summary": [_summary], "accounts": [_memberships]}
    for name in (what or targets):
        for fn in targets[name]:
            fn.clear()


@st.cache_data(ttl=30, show_spinner=False)
def _summary(_db, key: str, top: int, period_days: int) -> dict:
    return reports.admin_summary(_db, top=top, period_days=period_days)


def admin_summary(top: int = 10, period_days: int = 30) -> dict:
    return _summary(get_db(), str(id(get_db())), top, period_days)


# ----------------------------------------------------------------------------------------- identity

def current_user() -> dict | None:
    """The signed-in user as stored now, or None (signed out, or a session that has ended)."""
    if not st.session_state.get("authentication_status") or not st.session_state.get("username"):
        return None
    try:
        return session_user(None)
    except errors.AuthError:
        return None


def require_role(*roles: str) -> dict:
    """Stop the page unless the signed-in user has one of `roles` (URL access included)."""
    user = current_user()
    if user is None:
        st.error("Please sign in to see this page.")
        st.stop()
    if roles and user["role"] not in roles:
        st.error(f"This page is for {' and '.join(ROLE_LABELS.get(r, r).lower() + 's' for r in roles)} only.")
        st.stop()
    return user


# ------------------------------------------------------------------------------- the chosen account

_ACCOUNT = "_account"  # the account picked in the sidebar (services.accounts: people act on one at a time)
MEMBER_ROLE_LABELS = accounts.roles.ROLE_LABELS


@st.cache_data(ttl=10, show_spinner=False)
def _memberships(_db, key: str, username: str) -> list[dict]:
    return accounts.teams.memberships(_db, username)


def memberships(username: str) -> list[dict]:
    """The accounts a person belongs to (cached for a few seconds; a change made here clears it)."""
    return _memberships(get_db(), str(id(get_db())), username)


def acting(user: dict) -> Acting | None:
    """`user` acting on the account chosen in the sidebar (else their default), in their role there; None
    when they belong to no account."""
    me = user["username"]
    chosen = st.session_state.get(_ACCOUNT) or me
    try:
        a = accounts.teams.acting(get_db(), chosen, me)
    except errors.NotFound:  # left it, removed, or never had it: their default instead
        other = accounts.teams.default_account(get_db(), me)
        if other is None:
            return None
        a = accounts.teams.acting(get_db(), other, me)
    st.session_state[_ACCOUNT] = a.account
    return Acting(a.account, a.role, person=me, person_role=user["role"])


def choose_account(account_id: str) -> None:
    st.session_state[_ACCOUNT] = account_id


def customer_page(capability: str) -> Acting:
    """The head of every customer page: a person acting on an account whose role may do `capability`
    (a typed URL included), else the page stops with why."""
    user = require_role("user")
    a = acting(user)
    if a is None:
        st.info("You are not a member of any account now. An owner can invite you; open the link in the e-mail "
                "to join.", icon=":material/group_off:")
        st.stop()
    try:
        return a.require(capability)
    except errors.Forbidden as exc:
        show_error(exc)
        st.stop()


def admin_page(section: str) -> dict:
    """The head of every admin page: the role check first (a typed URL included), then its title."""
    admin = require_role("admin")
    st.title("Admin" if section == "Overview" else f"{section} · Admin")
    show_flash()
    return admin


# ------------------------------------------------------------------------------------------- errors

_HINTS = {
    errors.InsufficientBalance: "Recharge your wallet on the Wallet page, then try again.",
    errors.SpendCapReached: f"Your daily spending cap is reached; it resets at midnight {clock.abbr()}.",
    errors.PaymentUnavailable: "No money was taken. Please try again in a few minutes.",
    errors.Forbidden: "Ask an owner of the account (or an administrator) if you need this.",
}


def show_error(exc: BaseException) -> None:
    """THE one place that turns an exception into what a person sees."""
    if isinstance(exc, errors.WalletError):
        hint = next((h for cls, h in _HINTS.items() if isinstance(exc, cls)), "")
        icon = ":material/account_balance_wallet:" if isinstance(exc, errors.InsufficientBalance) \
            else ":material/error:"
        st.error(f"{exc.message} {hint}".strip(), icon=icon)
        return
    ref = uuid.uuid4().hex[:8]
    log.exception("dashboard error ref=%s", ref)
    st.error(f"Something went wrong on our side (reference {ref}). Nothing you entered was lost; please "
             "try again, and tell support the reference if it keeps happening.", icon=":material/error:")


# -------------------------------------------------------------------------------------------- money

def rupees(paise: int | None) -> str:
    return "—" if paise is None else format_rupees(paise)


def split_words(charged: int, wallet_paise: int) -> str:
    """Where a payment goes: `all of it for your wallet`, or `Rs. 500.00 for your wallet + Rs. 90.00 GST`."""
    if charged == wallet_paise:
        return "all of it for your wallet"
    return f"{rupees(wallet_paise)} for your wallet + {rupees(charged - wallet_paise)} GST"


def pay_words(charged: int, wallet_paise: int) -> str:
    """What a payer pays and what reaches the wallet, in one phrase, for every payment message:
    `Rs. 590.00 (Rs. 500.00 for your wallet + Rs. 90.00 GST)`."""
    return f"{rupees(charged)} ({split_words(charged, wallet_paise)})"


def received(charged: int, credited: int) -> str:
    """The message of a payment credited: what was paid, and what reached the wallet."""
    paid = f"you paid {rupees(charged)}; " if charged != credited else ""
    return f"Payment received: {paid}{rupees(credited)} added to your wallet."


def rupee_number(paise: int):
    """Rupees for a chart axis or a NumberColumn: display only, never computed with again."""
    return to_rupees(paise)


def money_table(rows: list[dict], columns: dict[str, str], *, pinned: tuple[str, ...] = ()) -> None:
    """Rows with *_paise fields shown as formatted rupees under friendly column names."""
    out = [{label: (rupees(r[k]) if k.endswith("_paise") else r[k]) for k, label in columns.items()}
           for r in rows]
    table(pd.DataFrame(out, columns=list(columns.values())), pinned=pinned)


def table(df: pd.DataFrame, *, pinned: tuple[str, ...] = (), wrap: tuple[str, ...] = (), key: str | None = None,
          column_config: dict | None = None) -> None:
    """A table that reads on a phone too: the `pinned` columns (who, money, status) stay in view while the
    rest scrolls sideways; `wrap` columns (notes) get room for their text."""
    cfg = {c: st.column_config.Column(pinned=True) for c in pinned if c in df.columns}
    cfg |= {c: st.column_config.TextColumn(width="large") for c in wrap if c in df.columns}
    cfg |= column_config or {}
    st.dataframe(df, hide_index=True, width="stretch", column_config=cfg, key=key)


def recharge_link(paise: int) -> None:
    """"Recharge Rs. X": the Wallet page's recharge form with X filled in (whole rupees, at least the
    smallest recharge)."""
    rupees_ = max(-(-int(paise) // 100), app_settings()["min_recharge_paise"] // 100)
    st.page_link("app_pages/wallet.py", label=f"Recharge {format_rupees(rupees_ * 100)}",
                 query_params={"recharge": str(rupees_)}, icon=":material/add_card:")


# ------------------------------------------------------------------------------------- words, charts

def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 day`, `2 days`, `1,234 calls`."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


BILLED_TIME = "Billed call time"


def duration(seconds: int) -> str:
    """Billed call time as people read it: `4 min 55 s`, `1,234 min 05 s` (never minutes rounded away)."""
    m, s = divmod(max(0, int(seconds)), 60)
    return f"{m:,} min {s:02d} s" if m else f"{s} s"


def lower_first(text: str) -> str:
    """A label inside a sentence: `Sent to Razorpay` -> `sent to Razorpay`."""
    return text[:1].lower() + text[1:]


def days_text(n: int) -> str:
    """How long something lasts in days, as a person says it (`less than a day` for 0)."""
    return "less than a day" if n <= 0 else plural(n, "day")


CHART_CONFIG = {"displayModeBar": False, "responsive": True}  # no toolbar over a legend or a title


def chart(fig, *, key: str, title: str, height: int = 300) -> None:
    """Every chart the same way: its title on top, the legend underneath, no plotly toolbar."""
    fig.update_layout(height=height, title=dict(text=title, x=0, xanchor="left", font=dict(size=15)),
                      margin=dict(l=0, r=0, t=36, b=0), legend=dict(orientation="h", yanchor="top", y=-0.12, x=0,
                                                                   title_text=""))
    st.plotly_chart(fig, width="stretch", key=key, config=CHART_CONFIG)


def rupee_axis(fig, max_paise: int, *, axis: str = "y", title: str = "") -> None:
    """A rupee axis in the app's style (`Rs. 75,000`, `Rs. 1.5 lakh`, `Rs. 2 crore`), ticks at round steps."""
    top = max(int(max_paise), 100)
    raw = top / 4
    mag = 10 ** (len(str(int(raw))) - 1)
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks = [int(i * step) for i in range(0, int(top // step) + 2)]
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    update(tickmode="array", tickvals=[t / 100 for t in ticks], ticktext=[format_rupees_short(t) for t in ticks],
           title_text=title, range=[0, ticks[-1] / 100], rangemode="tozero")


def day_axis(fig, first: date, last: date) -> None:
    """Days from `first` to `last` with half a day either side: the first and today's bars in full."""
    fig.update_xaxes(range=[datetime.combine(first, datetime.min.time()) - timedelta(hours=12),
                            datetime.combine(last, datetime.min.time()) + timedelta(hours=12)], title_text="")


def csv_name(*parts, first: date | None = None, last: date | None = None) -> str:
    """A CSV file name that says what it holds: `calls-asha-completed-20250601-20250630.csv`."""
    words = [re.sub(r"[^A-Za-z0-9_-]+", "-", str(p)).strip("-").lower() for p in parts if p not in (None, "")]
    if first is not None and last is not None:
        words.append(f"{first:%Y%m%d}-{last:%Y%m%d}")
    return "-".join(w for w in words if w) + ".csv"


DATE_INPUT = "DD/MM/YYYY"  # every date picker, for every audience


def day(d) -> str:
    """A business day as people here read it, on every page: `07 Dec 2026` (a date or an ISO day)."""
    if isinstance(d, str):
        d = date.fromisoformat(d[:10])
    return f"{d:%d %b %Y}"


def when(t, pattern: str = "%d %b %Y, %H:%M") -> str:
    """A stored time as people here read it: in the business time zone (services.clock)."""
    return clock.fmt(t, pattern)


def times_note() -> None:
    """Once per screen that shows times: which zone they are in."""
    st.caption(f":material/schedule: {clock.note()}")


def payment_mode() -> str:
    """live | test | sandbox | off."""
    return payments.mode()


def sandbox_badge() -> None:
    if payment_mode() == "sandbox":
        st.markdown(SANDBOX_BADGE)


# On a narrow screen the sidebar closes after a page is picked in it (Streamlit does so only for a phone's
# user agent, not for a narrow window), and after "Sign out" (else the sign-in form opens under an empty
# sidebar, and Streamlit remembers it open for the next visit). Installed once per browser tab.
_PHONE_JS = """<script>
(() => {
  const w = window;
  if (w.__walletNavCloser) return;
  w.__walletNavCloser = true;
  const close = () => setTimeout(() => {
    const open = w.document.querySelector('[data-testid="stSidebar"][data-collapsed="false"]');
    const btn = w.document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (open && btn) btn.click();
  }, 50);
  w.document.addEventListener("click", (ev) => {
    if (w.innerWidth >= 768) return;
    const t = ev.target;
    if (t.closest('[data-testid="stSidebarNav"] a')) close();
    const b = t.closest('[data-testid="stSidebar"] button');
    if (b && b.innerText.trim() === "Sign out") close();
  }, true);
})();
</script>"""


def phone_layout() -> None:
    """What a phone needs: the sidebar closes after choosing a page, and on signing out."""
    st.html(_PHONE_JS, unsafe_allow_javascript=True)


# Signed out there is nothing in the sidebar: none is drawn (a phone's remembered open sidebar is closed,
# so the next visit starts closed too).
_SIGNED_OUT = """<style>[data-testid="stSidebar"],[data-testid="stExpandSidebarButton"]{display:none}</style>
<script>
(() => {
  const w = window;
  if (w.innerWidth >= 768) return;
  const open = w.document.querySelector('[data-testid="stSidebar"][data-collapsed="false"]');
  const btn = w.document.querySelector('[data-testid="stSidebarCollapseButton"] button');
  if (open && btn) btn.click();
})();
</script>"""


def signed_out_layout() -> None:
    st.html(_SIGNED_OUT, unsafe_allow_javascript=True)


def flash(message: str) -> None:
    """A success message that survives the st.rerun() a write needs to redraw what it changed."""
    st.session_state["_flash"] = message


def show_flash() -> None:
    msg = st.session_state.pop("_flash", None)
    if msg:
        st.success(msg, icon=":material/check_circle:")


def new_key(name: str) -> str:
    """An idempotency key kept in session_state until `done_key(name)`: a double click reuses it."""
    k = f"_idem_{name}"
    if k not in st.session_state:
        st.session_state[k] = uuid.uuid4().hex
    return st.session_state[k]


def done_key(name: str) -> None:
    st.session_state.pop(f"_idem_{name}", None)


# ------------------------------------------------------------------------------------------ sign-in

COOKIE_EXPIRY_DAYS = 1
_EPOCH = "_session_epoch"   # the user's session epoch when this browser session began (services.users)
_NOTICE = "_signin_notice"  # why a session was ended, shown once on the sign-in page


def client_address() -> str | None:
    """The browser's IP address (None on localhost, and under AppTest): the sign-in throttle's key."""
    try:
        ip = st.context.ip_address
    except Exception:  # no script run context (bare mode)
        return None
    return ip if isinstance(ip, str) else None  # AppTest hands a mock


def sign_in(username: str, password: str) -> dict:
    """Check a password through THE throttle the API uses (services.tokens.sign_in) and, if right, mark
    this browser session signed in the way streamlit-authenticator does, so its cookie keeps it.
    Raises what tokens.sign_in raises."""
    user = tokens.sign_in(get_db(), username, password, client=client_address())
    epoch = users.session_start(get_db(), user["username"])
    st.session_state.update({"authentication_status": True, "username": user["username"], "name": user["name"],
                             "email": user["email"], "roles": [user["role"]], "logout": None, _EPOCH: epoch})
    return user


def session_user(cookie: dict | None) -> dict:
    """The signed-in user as stored now (a role change ends the session, so a role is never stale).

    A session restored from the library's cookie this run has no epoch yet: the cookie's issue time
    (its expiry less its lifetime) must be after the user's sessions last ended. Raises AuthError when
    the session must end (password, role or account changed, account disabled or gone)."""
    name = st.session_state.get("username")
    epoch = st.session_state.get(_EPOCH)
    if epoch is None:
        issued = None
        if cookie and cookie.get("exp_date"):
            issued = datetime.fromtimestamp(float(cookie["exp_date"]), timezone.utc) - \
                timedelta(days=COOKIE_EXPIRY_DAYS)
        epoch = users.session_start(get_db(), name, issued_at=issued)
        st.session_state[_EPOCH] = epoch
    return users.signed_in(get_db(), name, epoch)


def end_session(message: str = "") -> None:
    """Forget this session's epoch (sign-out, or a session that had to end) and keep why, for the form."""
    st.session_state.pop(_EPOCH, None)
    if message:
        st.session_state[_NOTICE] = message


def signin_notice() -> str | None:
    return st.session_state.pop(_NOTICE, None)


def balance_of(user_id: str) -> wallet.Balance:
    return wallet.balance(get_db(), user_id)
