"""Sign up, sign in, sign out, change one's password: bearer tokens from services.tokens."""
from __future__ import annotations

from fastapi import APIRouter

from api import links
from api.deps import DB, Address, CurrentUser, ExactRoute, Token
from api.schemas import LoginIn, MeOut, OkOut, PasswordChangeIn, SignupIn, TokenOut
from services import accounts, tokens

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=ExactRoute)


def _token_out(token: str) -> TokenOut:
    return TokenOut(token=token, expires_in_minutes=int(tokens.ttl().total_seconds() // 60))


@router.post("/signup", response_model=TokenOut, status_code=201, responses=links.SIGNUP)
def signup(body: SignupIn, db: DB):
    """Create a user (role `user`) with a wallet at Rs. 0 and sign them in. A refusal (400) names every
    problem of the input at once."""
    user = accounts.create_user(db, body.username, body.password, body.name, body.email)
    return _token_out(tokens.issue(db, user["username"]))


@router.post("/login", response_model=TokenOut, responses=links.LOGIN)
def login(body: LoginIn, db: DB, address: Address):
    """A token for a username and password. 429 with Retry-After while this address must wait (3 wrong
    passwords, then 2, 4, 8 ... s) or, when the username is under attack from elsewhere, while a new
    address waits 30 s; 403 for a disabled account (docs/api.md, "Sign-in throttle")."""
    return _token_out(tokens.login(db, body.username, body.password, client=address))


@router.post("/logout", response_model=OkOut)
def logout(token: Token, _user: CurrentUser, db: DB):
    return OkOut(ok=tokens.revoke(db, token))


@router.get("/me", response_model=MeOut)
def me(user: CurrentUser):
    return MeOut.model_validate(user)


@router.post("/password", response_model=TokenOut)
def change_password(body: PasswordChangeIn, user: CurrentUser, db: DB):
    """Change your password (the current one first). Every token and dashboard session of the account
    ends, this token included; the answer carries a new one. API keys are the account's: they keep working."""
    accounts.change_password(db, user["username"], body.current_password, body.new_password)
    return _token_out(tokens.issue(db, user["username"]))
