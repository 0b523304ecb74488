"""Sign up, sign in, sign out: bearer tokens from services.tokens."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import ExactRoute, bearer_token, current_user, get_db
from api.schemas import LoginIn, MeOut, OkOut, SignupIn, TokenOut
from services import tokens, users

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=ExactRoute)


def _token_out(token: str) -> TokenOut:
    return TokenOut(token=token, expires_in_minutes=int(tokens.ttl().total_seconds() // 60))


@router.post("/signup", response_model=TokenOut, status_code=201)
def signup(body: SignupIn, db=Depends(get_db)):
    """Create a user (role `user`) with a wallet at Rs. 0 and sign them in."""
    user = users.create_user(db, body.username, body.password, body.name, body.email)
    return _token_out(tokens.issue(db, user["username"]))


@router.post("/login", response_model=TokenOut)
def login(body: LoginIn, db=Depends(get_db)):
    """A token for a username and password; 429 after 5 failures in 15 minutes for that username."""
    return _token_out(tokens.login(db, body.username, body.password))


@router.post("/logout", response_model=OkOut)
def logout(token: str = Depends(bearer_token), _user=Depends(current_user), db=Depends(get_db)):
    return OkOut(ok=tokens.revoke(db, token))


@router.get("/me", response_model=MeOut)
def me(user=Depends(current_user)):
    return MeOut(**{k: user[k] for k in ("username", "name", "email", "role")})
