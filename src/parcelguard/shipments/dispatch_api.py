"""Routes for a station's dispatch board and the station's staff. Thin: parse, call, shape."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from parcelguard.accounts import staff
from parcelguard.core.auth import Actor, Role, forget_cached_actors, require
from parcelguard.core.db import SessionDep
from parcelguard.shipments import dispatch
from parcelguard.shipments.schemas import ItemProblemOut

router = APIRouter(tags=["station"])
Manager = Annotated[Actor, require(Role.STATION_MANAGER)]
StaffKeeper = Annotated[Actor, require(Role.STATION_MANAGER, Role.HQ_SECURITY, Role.ADMIN)]


class WaitingOut(BaseModel):
    shipment_id: uuid.UUID
    waybill_no: str | None
    district: str
    status: str
    created_at: datetime


class OpenTaskOut(BaseModel):
    assignment_id: uuid.UUID
    shipment_id: uuid.UUID
    waybill_no: str | None
    district: str
    status: str
    task: str
    courier_id: uuid.UUID
    opened_at: datetime
    late: bool = Field(description="Open longer than PARCELGUARD_TASK_LATE_HOURS.")


class BoardOut(BaseModel):
    waiting: list[WaitingOut] = Field(description="Parcels for the station to deliver that no courier holds.")
    open_tasks: list[OpenTaskOut]


class DistrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    district: str = Field(max_length=32)
    courier_id: uuid.UUID


class DistrictRefusedOut(BaseModel):
    shipment_id: uuid.UUID
    problem: ItemProblemOut


class DistrictOut(BaseModel):
    assigned: int
    refused: list[DistrictRefusedOut]


class StaffOut(BaseModel):
    user_id: uuid.UUID
    username: str
    role: str
    name: str = Field(description="Masked.")
    active: bool
    last_sign_in: datetime | None
    last_terminal: str | None


def board_out(board: dispatch.Board) -> BoardOut:
    return BoardOut(waiting=[WaitingOut(**w.__dict__) for w in board.waiting],
                    open_tasks=[OpenTaskOut(**t.__dict__) for t in board.open_tasks])


@router.get("/station/board", response_model=BoardOut, summary="The station's dispatch board")
def get_board(actor: Manager, request: Request, db_session: SessionDep) -> BoardOut:
    """Parcels waiting for a courier (oldest first) and every open task on the station's parcels, late
    ones marked. Waybill numbers, districts and statuses only."""
    late = timedelta(hours=request.app.state.settings.task_late_hours)
    return board_out(dispatch.board(db_session=db_session, actor=actor, late_after=late))


@router.post("/station/assignments:district", response_model=DistrictOut,
             summary="Give one courier every waiting parcel of a district")
def assign_district(body: DistrictIn, actor: Manager, db_session: SessionDep) -> DistrictOut:
    done = dispatch.assign_district(db_session=db_session, actor=actor, district=body.district,
                                    courier_id=body.courier_id)
    return DistrictOut(assigned=done.assigned, refused=[DistrictRefusedOut(shipment_id=sid, problem=ItemProblemOut(
        code=e.code, detail=e.detail, errors=[x.as_dict() for x in e.errors])) for sid, e in done.refused])


def staff_out(member: staff.StaffMember) -> StaffOut:
    return StaffOut(**member.__dict__)


@router.get("/station/staff", response_model=list[StaffOut], summary="The station's couriers and sorters")
def list_staff(actor: StaffKeeper, db_session: SessionDep, station_id: uuid.UUID | None = None) -> list[StaffOut]:
    """Masked names, whether the account may work, and when and on which terminal it last signed in."""
    return [staff_out(m) for m in staff.station_staff(db_session=db_session, actor=actor, station_id=station_id)]


@router.post("/users/{user_id}/retire", response_model=StaffOut, summary="Retire a courier or sorter")
def retire(user_id: uuid.UUID, actor: StaffKeeper, request: Request, db_session: SessionDep) -> StaffOut:
    """The account can no longer sign in, and every token it holds stops at once (on every terminal)."""
    member = staff.set_active(db_session=db_session, actor=actor, user_id=user_id, active=False)
    forget_cached_actors(request)  # its tokens may be cached in this process
    return staff_out(member)
