"""Routes for assigning shipments to couriers. Thin: parse, call, shape."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.shipments import service
from parcelguard.shipments.schemas import AssignmentIn, AssignmentOut

router = APIRouter(tags=["assignments"])
Dispatcher = Annotated[Actor, require(Role.STATION_MANAGER, Role.HQ_SECURITY, Role.ADMIN)]
TaskHolder = Annotated[Actor, require(Role.COURIER, Role.STATION_MANAGER, Role.HQ_SECURITY, Role.ADMIN)]


@router.post("/shipments/{shipment_id}/assignments", response_model=AssignmentOut, status_code=201,
             summary="Give a courier a pickup or delivery task (what lets them reveal that shipment's fields)")
def assign(shipment_id: uuid.UUID, body: AssignmentIn, actor: Dispatcher, db_session: SessionDep) -> AssignmentOut:
    return AssignmentOut.model_validate(service.assign(db_session=db_session, actor=actor, shipment_id=shipment_id,
                                                       courier_id=body.courier_id, task=body.task))


@router.get("/assignments", response_model=list[AssignmentOut],
            summary="A courier's own tasks; a station manager's: those on the station's shipments")
def list_assignments(actor: TaskHolder, db_session: SessionDep, open_only: bool = True) -> list[AssignmentOut]:
    return [AssignmentOut.model_validate(a)
            for a in service.list_assignments(db_session=db_session, actor=actor, open_only=open_only)]


@router.post("/assignments/{assignment_id}/close", response_model=AssignmentOut,
             summary="Close a task: the grace period for reveals starts now")
def close_assignment(assignment_id: uuid.UUID, actor: TaskHolder, db_session: SessionDep) -> AssignmentOut:
    return AssignmentOut.model_validate(service.close_assignment(db_session=db_session, actor=actor,
                                                                 assignment_id=assignment_id))
