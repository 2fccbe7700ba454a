"""Routes for detection (issue 14): its thresholds (HQ security changes them, each change logged), a run now, the
latest runs, and the departure reports (HQ security and auditors). Thin: parse, call the service, shape."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from parcelguard.core.auth import Actor, require
from parcelguard.core.db import SessionDep
from parcelguard.detection import departures, service, thresholds
from parcelguard.detection.schemas import (
    DepartureDetailOut,
    DepartureOut,
    RunDoneOut,
    RunIn,
    RunOut,
    SettingsOut,
    ThresholdsDoc,
)

router = APIRouter(prefix="/detection", tags=["detection"])
Reader = Annotated[Actor, require(*service.READERS)]
Officer = Annotated[Actor, require(*service.RUNNERS)]


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


@router.get("/settings", response_model=SettingsOut, summary="The carrier's detection thresholds")
def get_settings(actor: Reader, db_session: SessionDep) -> SettingsOut:
    """The carrier's own set, or the defaults (`source`). docs/detection.md says what each does."""
    return SettingsOut.of(thresholds.effective(db_session=db_session, carrier_id=service.carrier_of(actor)))


@router.put("/settings", response_model=SettingsOut,
            summary="Replace the carrier's detection thresholds (logged in the audit log)")
def put_settings(body: ThresholdsDoc, request: Request, actor: Officer, db_session: SessionDep) -> SettingsOut:
    """Every knob at once; one left out takes its default. Out of its bounds: 422 `validation_failed` with nothing
    written. The change is an entry of the carrier's audit log (subject `detection:settings`, purpose
    `detection_settings_change`)."""
    return SettingsOut.of(thresholds.replace(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                             thresholds=body, request_id=_request_id(request)))


@router.delete("/settings", response_model=SettingsOut,
               summary="Drop the carrier's own thresholds: the defaults apply (logged in the audit log)")
def reset_settings(request: Request, actor: Officer, db_session: SessionDep) -> SettingsOut:
    return SettingsOut.of(thresholds.reset(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                           request_id=_request_id(request)))


@router.post("/runs", response_model=RunDoneOut, status_code=201,
             summary="Run detection now over the carrier's log; new findings become alerts")
def run_now(actor: Officer, db_session: SessionDep, body: RunIn | None = None) -> RunDoneOut:
    """The window ends now. Each finding is an alert of the carrier (`GET /api/v1/alerts`) once per rule, account
    and Beijing day: a second run over the same window raises nothing new (`new` false, `alerts_raised` 0)."""
    return RunDoneOut.of(service.run_for(db_session=db_session, actor=actor, hours=(body or RunIn()).hours))


@router.get("/runs", response_model=list[RunOut], summary="The carrier's latest detection runs, newest first")
def list_runs(actor: Reader, db_session: SessionDep,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[RunOut]:
    return [RunOut.model_validate(r) for r in service.list_runs(db_session=db_session, actor=actor, limit=limit)]


@router.get("/departures", response_model=list[DepartureOut],
            summary="Departure reports: a retired account's last 90 days of access, newest first")
def list_departures(actor: Reader, db_session: SessionDep,
                    limit: Annotated[int, Query(ge=1, le=departures.MAX_LIST)] = 100) -> list[DepartureOut]:
    return [DepartureOut.model_validate(r)
            for r in departures.list_reports(db_session=db_session, actor=actor, limit=limit)]


@router.get("/departures/{user_id}", response_model=DepartureDetailOut,
            summary="The newest departure report on one account, with its counts by purpose, day and hour",
            responses={404: {"description": "`departure_report_unknown`: the account was never retired here"}})
def get_departure(user_id: uuid.UUID, actor: Reader, db_session: SessionDep) -> DepartureDetailOut:
    return DepartureDetailOut.model_validate(departures.latest_report(db_session=db_session, actor=actor,
                                                                      user_id=user_id))
