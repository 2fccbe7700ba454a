"""Routes for retention: the plan (what goes when), the signed destruction records, and legal holds on an
investigation case. HQ security and the admin place and release holds; they and auditors read. Thin."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.clock import now
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import Invalid
from parcelguard.retention import holds, records, service

router = APIRouter(tags=["retention"])
Reader = Annotated[Actor, require(*holds.READERS)]
Holder = Annotated[Actor, require(*holds.HOLDERS)]


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


class MonthOut(BaseModel):
    data_class: str
    retained_as: str
    period: str
    months: int
    expires_at: datetime
    live_data_keys: int
    held: bool
    due: bool


class PlanOut(BaseModel):
    at: datetime
    key_store: str = Field(description="`separate` (shredding reaches backups taken before) or `database`")
    months: list[MonthOut]
    rows: list[MonthOut] = Field(description="For each class whose rows are deleted, the oldest month that still "
                                             "has rows (the months after it go one a month)")


class RecordOut(BaseModel):
    record: dict[str, Any]
    signature: str
    key_id: int
    log_index: int


class HoldOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    shipment_id: uuid.UUID
    moved_period: str
    placed_at: datetime
    released_at: datetime | None


@router.get("/retention/plan", response_model=PlanOut, summary="Every class's month the carrier holds keys for, "
            "its retention and the day it goes")
def get_plan(request: Request, actor: Reader, db_session: SessionDep,
             at: Annotated[datetime | None, Query(description="Which months are due at this time (ISO 8601 with "
                                                               "offset); default now")] = None) -> PlanOut:
    if at is not None and at.tzinfo is None:
        raise Invalid("A time with its offset, e.g. 2029-01-01T00:00:00+08:00.", code="time_offset_missing",
                      field="#query/at")
    moment = at or now()
    keyring = request.app.state.keyring
    carrier_id = holds.readable_carrier(actor)
    months = service.plan(db_session=db_session, keyring=keyring, carrier_id=carrier_id)
    rows = service.row_plan(db_session=db_session, carrier_id=carrier_id)

    def out(m: service.Month) -> MonthOut:
        return MonthOut(data_class=m.data_class, retained_as=m.retained_as, period=m.period, months=m.months,
                        expires_at=m.expires_at, live_data_keys=m.live_data_keys, held=m.held, due=m.due(moment))

    return PlanOut(at=moment, key_store="separate" if keyring.keystore.separate else "database",
                   months=[out(m) for m in months], rows=[out(m) for m in rows])


@router.get("/retention/settings", response_model=dict[str, int],
            summary="The carrier's retention of every data class, in months (its own setting, else the default)")
def get_settings(actor: Reader, db_session: SessionDep) -> dict[str, int]:
    return service.retention_months(db_session=db_session, carrier_id=holds.readable_carrier(actor))


@router.patch("/retention/settings", response_model=dict[str, int],
              summary="Set the retention of some classes, in months (admin; each change logged)",
              responses={422: {"description": "retention_invalid naming each class: class_unknown, "
                                              "months_out_of_range (below the class's minimum, above 120)"}})
def change_settings(request: Request, actor: Annotated[Actor, require(Role.ADMIN)], db_session: SessionDep,
                    months: Annotated[dict[str, int], Body(description="`{class: months}`")]) -> dict[str, int]:
    return service.change_months(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                 months=months, request_id=_request_id(request))


@router.get("/retention/records", response_model=list[RecordOut],
            summary="The signed destruction records, oldest first (verify with the carrier's `retention` key)")
def get_records(actor: Reader, db_session: SessionDep) -> list[RecordOut]:
    signed = records.listed(db_session=db_session, carrier_id=holds.readable_carrier(actor))
    return [RecordOut(**s.wire()) for s in signed]


@router.get("/retention/holds", response_model=list[HoldOut], summary="Legal holds, newest first")
def get_holds(actor: Reader, db_session: SessionDep,
              active_only: Annotated[bool, Query(description="Only holds in force")] = True) -> list[HoldOut]:
    return [HoldOut.model_validate(h, from_attributes=True)
            for h in holds.listed(db_session=db_session, actor=actor, active_only=active_only)]


@router.post("/audit/cases/{case_id}/holds", response_model=list[HoldOut], status_code=201,
             summary="Hold parcels for an open case: their data outlives its retention while held (logged)",
             responses={404: {"description": "case_unknown"}, 410: {"description": "data_destroyed: too late"},
                        422: {"description": "shipment_unknown (naming the position), hold_count"}})
def place_holds(request: Request, case_id: uuid.UUID, actor: Holder, db_session: SessionDep,
                shipment_ids: Annotated[list[uuid.UUID], Body(embed=True, max_length=holds.MAX_HOLD)]
                ) -> list[HoldOut]:
    placed = holds.place(db_session=db_session, keyring=request.app.state.keyring, actor=actor, case_id=case_id,
                         shipment_ids=shipment_ids, request_id=_request_id(request))
    return [HoldOut.model_validate(h, from_attributes=True) for h in placed]


@router.delete("/audit/cases/{case_id}/holds", summary="Release every hold of the case (logged)")
def release_holds(request: Request, case_id: uuid.UUID, actor: Holder, db_session: SessionDep) -> dict[str, int]:
    return {"released": holds.release(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                      case_id=case_id, request_id=_request_id(request))}
