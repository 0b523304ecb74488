"""Liveness for load balancers and `make run`: is the database reachable, which payment mode is on."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import DB
from api.schemas import HealthOut
from services import db as dbmod

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(db: DB):
    from services import payments
    return HealthOut(database=dbmod.ping(db), payment_mode=payments.mode())
