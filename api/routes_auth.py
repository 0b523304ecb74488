"""Sign up, sign in, sign out: bearer tokens from services.tokens."""
from __future__ import annotations

from fastapi import APIRouter

from api import links
from api.deps import DB, CurrentUser, ExactRoute, Token
from api.schemas import LoginIn, MeOut, OkOut, SignupIn, TokenOut
from services import tokens, users

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=ExactRoute)


def _token_out(token: str) -> TokenOut:
    return TokenOut(token=token, expires_in_minutes=int(tokens.ttl().total_seconds() // 60))


@router.post("/signup", response_model=TokenOut, status_code=201, responses=links.SIGNUP)
def signup(body: SignupIn, db: DB):
    """Create a user (role `user`) with a wallet at Rs. 0 and sign them in."""
    user = users.create_user(db, body.username, body.password, body.name, body.email)
    return _token_out(tokens.issue(db, user["username"]))


@router.post("/login", response_model=TokenOut, responses=links.LOGIN)
def login(body: LoginIn, db: DB):
    """A token for a username and password; 429 after 5 failures in 15 minutes for that username."""
    return _token_out(tokens.login(db, body.username, body.password))


@router.post("/logout", response_model=OkOut)
def logout(token: Token, _user: CurrentUser, db: DB):
    return OkOut(ok=tokens.revoke(db, token))


@router.get("/me", response_model=MeOut)
def me(user: CurrentUser):
    return MeOut.model_validate(user)
