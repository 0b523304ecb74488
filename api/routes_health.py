"""Liveness for load balancers and `make run`: is the database reachable, which payment mode is on."""
from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import DB
from api.schemas import HealthOut
from services import db as dbmod, payments

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", response_model=HealthOut)
def check(db: DB):
    return HealthOut(database=dbmod.ping(db), payment_mode=payments.mode())


# Load balancers and uptime probes often send HEAD: the GET's status (always 200: the body says what is
# down), no body. Kept out of the schema, where a body-less twin operation would only be noise.
@router.head("/health", include_in_schema=False)
def check_head(_db: DB):
    return Response(status_code=200, media_type="application/json")
