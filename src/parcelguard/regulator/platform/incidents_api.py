"""The platform's routes for carriers' incident reports: a carrier sends one signed (its signature is its
authentication, as a batch's), officials list them and read one with its signature verified again.
Thin: `incidents` does the rest."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from parcelguard.core.db import SessionDep
from parcelguard.regulator.platform import incidents
from parcelguard.regulator.platform.api import Keys, Official

router = APIRouter(tags=["incident reports"])


class WindowOut(BaseModel):
    since: datetime
    until: datetime


class RemedyOut(BaseModel):
    actions: list[str] = Field(description="What the carrier did: codes of `incident_protocol.REMEDY_ACTIONS`")
    note: str


class IncidentReportOut(BaseModel):
    report_id: uuid.UUID
    carrier: str = Field(description="The carrier's code")
    carrier_name: str
    incident: str = Field(description="The carrier's reference")
    kind: str = Field(description="What raised it: honeytoken, manual, an alert's kind, ...")
    reported_at: datetime = Field(description="When the carrier signed it")
    received_at: datetime = Field(description="When the platform first took it in")
    opened_at: datetime
    contained_at: datetime | None
    window: WindowOut = Field(description="The time the counts cover")
    accounts: int = Field(description="Staff accounts involved")
    accounts_contained: int = Field(description="Of them disabled")
    stations: list[str]
    reveals: int = Field(description="Reveals of personal data by those accounts in the window")
    subjects: int = Field(description="Distinct parcels revealed")
    fields: dict[str, int] = Field(description="Reveals by field")
    denied: int = Field(description="Reveals refused")
    remedy: RemedyOut
    summary: str
    key_id: str = Field(description="The carrier key that signed it")
    verified: bool = Field(description="The stored body verifies again with the stored signature under that key, "
                                       "and says what this answer says")

    @classmethod
    def of(cls, view: incidents.ReportView) -> IncidentReportOut:
        return cls(report_id=view.report_id, carrier=view.carrier, carrier_name=view.carrier_name,
                   incident=view.incident, kind=view.kind, reported_at=view.reported_at,
                   received_at=view.received_at, opened_at=view.opened_at, contained_at=view.contained_at,
                   window=WindowOut(since=view.since, until=view.until), accounts=view.accounts,
                   accounts_contained=view.accounts_contained, stations=list(view.stations), reveals=view.reveals,
                   subjects=view.subjects, fields=view.fields, denied=view.denied,
                   remedy=RemedyOut(actions=list(view.actions), note=view.note), summary=view.summary,
                   key_id=view.key_id, verified=view.verified)


class IncidentReportsOut(BaseModel):
    reports: list[IncidentReportOut] = Field(description="Newest first, by when they arrived")
    next_before: uuid.UUID | None = Field(description="`before` for the next page; null on the last page")


class SignedIncidentReportOut(IncidentReportOut):
    body: str = Field(description="The canonical JSON the carrier signed (without `signature`), as stored")
    signature: str = Field(description="Its Ed25519 signature (base64), over `parcelguard/regulator/incident/v1` "
                                       "+ a newline + `body`")
    receipt: dict[str, Any] = Field(description="The signed receipt the platform answered")

    @classmethod
    def of_signed(cls, view: incidents.ReportView) -> SignedIncidentReportOut:
        return cls(**IncidentReportOut.of(view).model_dump(), body=view.body.decode(),
                   signature=base64.b64encode(view.signature).decode(), receipt=json.loads(view.receipt))


@router.post("/incident-reports",
             summary="Take in a carrier's signed incident report; answer a signed receipt",
             responses={403: {"description": "carrier_key_unknown, report_signature: nothing stored"},
                        409: {"description": "report_conflict: another report is stored under this report id"},
                        422: {"description": "The report does not follow the format (the protocol's code and "
                                             "pointer): nothing stored"}})
def post_incident_report(report: Annotated[Any, Body(description="A report, as docs/regulator.md describes it")],
                         db_session: SessionDep, keys: Keys) -> JSONResponse:
    """Stored once by `report_id`: the same report again is answered with the same receipt, signed with the key
    `GET /receipt-keys` publishes."""
    return JSONResponse(incidents.receive(db_session=db_session, keys=keys, wire=report))


@router.get("/incident-reports", response_model=IncidentReportsOut,
            summary="Carriers' incident reports, newest first",
            responses={422: {"description": "carrier_unknown, before_unknown"}})
def get_incident_reports(actor: Official, db_session: SessionDep,
                         carrier: Annotated[str | None, Query(max_length=32, description="One carrier's code")] = None,
                         limit: Annotated[int, Query(ge=1, le=incidents.MAX_LIST)] = incidents.DEFAULT_LIST,
                         before: Annotated[uuid.UUID | None, Query(description="The last report id of the page "
                                                                               "before")] = None,
                         ) -> IncidentReportsOut:
    views = incidents.list_reports(db_session=db_session, carrier=carrier, limit=limit, before=before)
    return IncidentReportsOut(reports=[IncidentReportOut.of(v) for v in views],
                              next_before=views[-1].report_id if len(views) == limit else None)


@router.get("/incident-reports/{report_id}", response_model=SignedIncidentReportOut,
            summary="One incident report with its signed bytes, verified again",
            responses={404: {"description": "report_unknown"}})
def get_incident_report(report_id: Annotated[uuid.UUID, Path()], actor: Official,
                        db_session: SessionDep) -> SignedIncidentReportOut:
    """`body` and `signature` as the carrier sent them, so anyone holding the carrier's public key can check
    them; `verified` is the platform's own check."""
    return SignedIncidentReportOut.of_signed(incidents.get_report(db_session=db_session, report_id=report_id))
