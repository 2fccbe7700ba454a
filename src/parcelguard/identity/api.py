"""Routes for the courier QR: a courier shows a signed token; anyone can check it. Thin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.identity import service
from parcelguard.identity.schemas import CourierCheckOut, CourierTokenOut

router = APIRouter(tags=["couriers"])
Courier = Annotated[Actor, require(Role.COURIER)]


@router.post("/couriers/me/qr-token", response_model=CourierTokenOut,
             summary="A short-lived signed token for the courier's QR code")
def courier_token(request: Request, actor: Courier, db_session: SessionDep) -> CourierTokenOut:
    issued = service.courier_token(db_session=db_session, keyring=request.app.state.keyring, actor=actor)
    return CourierTokenOut(token=issued.token, expires_at=issued.expires_at)


@router.get("/public/couriers/verify", response_model=CourierCheckOut,
            summary="Is this courier genuine? (public: no sign-in; the same answer shape either way)")
def verify_courier(request: Request, db_session: SessionDep,
                   token: Annotated[str, Query(max_length=400)]) -> CourierCheckOut:
    check = service.verify_courier(db_session=db_session, keyring=request.app.state.keyring, token=token)
    return CourierCheckOut(genuine=check.genuine, reason=check.reason, carrier=check.carrier, station=check.station,
                           courier=check.courier, status=check.status)
