"""Routes for honeytoken parcels: the admin plants decoys and lists them. Thin: parse, call, shape."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.shipments import honeytokens
from parcelguard.shipments.models import Shipment

router = APIRouter(tags=["honeytokens"])
Admin = Annotated[Actor, require(Role.ADMIN)]
Reader = Annotated[Actor, require(Role.ADMIN, Role.HQ_SECURITY)]


class PlantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    origin_station_id: uuid.UUID
    destination_station_id: uuid.UUID
    count: int = Field(default=1, description=f"1 to {honeytokens.MAX_PLANT}.")


class HoneytokenOut(BaseModel):
    shipment_id: uuid.UUID
    waybill_no: str | None
    planted_at: datetime


@router.post("/honeytokens", response_model=list[HoneytokenOut], status_code=201,
             summary="Plant decoy parcels: touching one raises the alert `honeytoken` at once")
def plant(body: PlantIn, request: Request, actor: Admin, db_session: SessionDep) -> list[HoneytokenOut]:
    """Decoys are made exactly as real parcels are, so nothing but this list tells them apart. Any reveal
    (allowed or refused), label print, staff lookup or public tracking lookup of one raises an alert for HQ
    security. Logged with the count only."""
    made = honeytokens.plant(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                             origin_station_id=body.origin_station_id,
                             destination_station_id=body.destination_station_id, count=body.count)
    assert actor.carrier_id is not None
    audit.log_event(db_session=db_session, keyring=request.app.state.keyring, carrier_id=actor.carrier_id,
                    actor=actor, subject=f"honeytokens:{len(made)}", purpose="honeytoken_plant",
                    request_id=getattr(request.state, "request_id", None))
    return _listed(db_session, actor, set(made))


@router.get("/honeytokens", response_model=list[HoneytokenOut], summary="The decoys planted (admin, HQ security)")
def list_planted(actor: Reader, db_session: SessionDep) -> list[HoneytokenOut]:
    return _listed(db_session, actor, None)


def _listed(db_session: SessionDep, actor: Actor, only: set[uuid.UUID] | None) -> list[HoneytokenOut]:
    rows = honeytokens.planted(db_session=db_session, actor=actor)
    numbers = dict(db_session.execute(select(Shipment.id, Shipment.waybill_no)
                                      .where(Shipment.id.in_([r.shipment_id for r in rows]))).tuples().all())
    return [HoneytokenOut(shipment_id=r.shipment_id, waybill_no=numbers.get(r.shipment_id), planted_at=r.planted_at)
            for r in rows if only is None or r.shipment_id in only]
