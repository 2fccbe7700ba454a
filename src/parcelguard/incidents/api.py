"""Routes for incidents: open, contain, assess, remedy, report to the regulator (JSON and PDF), dismiss. HQ
security and the admin act; auditors read. Thin: parse, call the service, shape."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from parcelguard.core.auth import Actor, forget_cached_actors, require
from parcelguard.core.db import SessionDep
from parcelguard.incidents import pdf, reporting, service
from parcelguard.regulator.incident_protocol import MAX_TEXT

router = APIRouter(tags=["incidents"])
Reader = Annotated[Actor, require(*service.READERS)]
Officer = Annotated[Actor, require(*service.ACTORS)]


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(max_length=MAX_TEXT, description="What happened, without personal data.")
    accounts: list[str] = Field(default=[], max_length=service.MAX_ACCOUNTS,
                                description="Usernames or ids of the accounts it concerns.")
    alert_id: uuid.UUID | None = Field(default=None, description="The alert it is opened from: its kind, its "
                                       "account.")


class AccountsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accounts: list[str] = Field(min_length=1, max_length=service.MAX_ACCOUNTS)


class AssessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | None = Field(default=None, description="The window's start (default 90 days before the "
                                   "incident opened); it ends now.")


class RemedyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actions: list[str] = Field(max_length=16, description="What was done: codes of docs/api.md#incidents.")
    note: str = Field(default="", max_length=MAX_TEXT)


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=MAX_TEXT)


class AccountOut(BaseModel):
    user_id: uuid.UUID
    username: str
    role: str
    active: bool
    disabled_at: datetime | None


class ReportStateOut(BaseModel):
    report_id: uuid.UUID
    created_at: datetime
    attempts: int
    last_error: str | None
    receipt_at: datetime | None


class IncidentOut(BaseModel):
    id: uuid.UUID
    reference: str
    kind: str
    source: str
    status: str
    summary: str
    opened_at: datetime
    opened_by: uuid.UUID | None
    contained_at: datetime | None
    assessed_at: datetime | None
    assessment: dict[str, Any] | None
    remedied_at: datetime | None
    remedy_actions: list[str] | None
    remedy_note: str | None
    reported_at: datetime | None
    dismissed_at: datetime | None
    dismiss_reason: str | None
    accounts: list[AccountOut]
    alert_ids: list[uuid.UUID]
    report: ReportStateOut | None = None

    @classmethod
    def of(cls, view: service.View, sent: reporting.Sent | None = None) -> IncidentOut:
        i = view.incident
        return cls(
            id=i.id, reference=i.reference, kind=i.kind, source=i.source, status=i.status, summary=i.summary,
            opened_at=i.opened_at, opened_by=i.opened_by, contained_at=i.contained_at, assessed_at=i.assessed_at,
            assessment=i.assessment, remedied_at=i.remedied_at, remedy_actions=i.remedy_actions,
            remedy_note=i.remedy_note, reported_at=i.reported_at, dismissed_at=i.dismissed_at,
            dismiss_reason=i.dismiss_reason, alert_ids=view.alert_ids,
            accounts=[AccountOut(user_id=a.user_id, username=a.username, role=a.role, active=a.active,
                                 disabled_at=view.disabled.get(a.user_id)) for a in view.accounts],
            report=None if sent is None else ReportStateOut(
                report_id=sent.row.id, created_at=sent.row.created_at, attempts=sent.row.attempts,
                last_error=sent.row.last_error, receipt_at=sent.row.receipt_at))


class IncidentsOut(BaseModel):
    incidents: list[IncidentOut]


class ReportOut(BaseModel):
    report: dict[str, Any] = Field(description="The signed report as sent (regulator.incident_protocol).")
    receipt: dict[str, Any] | None = Field(description="The regulator's signed receipt, once it answered.")
    attempts: int
    last_error: str | None

    @classmethod
    def of(cls, sent: reporting.Sent) -> ReportOut:
        return cls(report=sent.wire, receipt=sent.receipt, attempts=sent.row.attempts, last_error=sent.row.last_error)


@router.get("/incidents", response_model=IncidentsOut, summary="The carrier's incidents, newest first")
def list_incidents(actor: Reader, db_session: SessionDep,
                   status: Annotated[str | None, Query(max_length=16, description="`active` (not yet reported "
                                                       "or dismissed) or one status")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> IncidentsOut:
    views = service.list_incidents(db_session=db_session, actor=actor, status=status, limit=limit)
    return IncidentsOut(incidents=[IncidentOut.of(v) for v in views])


@router.post("/incidents", response_model=IncidentOut, status_code=201,
             summary="Open an incident by hand or from an alert (logged)",
             responses={409: {"description": "alert_in_incident"},
                        422: {"description": "text_personal_data, account_unknown, alert_unknown: nothing written"}})
def open_incident(request: Request, body: OpenIn, actor: Officer, db_session: SessionDep) -> IncidentOut:
    view = service.open_by_hand(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                summary=body.summary, accounts=body.accounts, alert_id=body.alert_id,
                                request_id=_request_id(request))
    return IncidentOut.of(view)


@router.get("/incidents/{incident_id}", response_model=IncidentOut, summary="One incident")
def get_incident(incident_id: uuid.UUID, actor: Reader, db_session: SessionDep) -> IncidentOut:
    view = service.get(db_session=db_session, actor=actor, incident_id=incident_id)
    sent = _sent_or_none(db_session, actor, view)
    return IncidentOut.of(view, sent)


@router.post("/incidents/{incident_id}/accounts", response_model=IncidentOut,
             summary="Name more accounts the incident concerns (logged); contain and assess again after")
def add_accounts(request: Request, incident_id: uuid.UUID, body: AccountsIn, actor: Officer,
                 db_session: SessionDep) -> IncidentOut:
    return IncidentOut.of(service.add_accounts(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                               incident_id=incident_id, accounts=body.accounts,
                                               request_id=_request_id(request)))


@router.post("/incidents/{incident_id}:contain", response_model=IncidentOut,
             summary="Contain: disable the incident's accounts and revoke their tokens (logged)",
             responses={403: {"description": "contain_self: another officer contains an incident about you"}})
def contain(request: Request, incident_id: uuid.UUID, actor: Officer, db_session: SessionDep) -> IncidentOut:
    view = service.contain(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                           incident_id=incident_id, request_id=_request_id(request))
    forget_cached_actors(request)  # which cached tokens are theirs is not known here: drop all
    return IncidentOut.of(view)


@router.post("/incidents/{incident_id}:assess", response_model=IncidentOut,
             summary="Assess: count what the accounts revealed, from the gate's log (logged)")
def assess(request: Request, incident_id: uuid.UUID, actor: Officer, db_session: SessionDep,
           body: AssessIn | None = None) -> IncidentOut:
    return IncidentOut.of(service.assess(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                         incident_id=incident_id, since=(body or AssessIn()).since,
                                         request_id=_request_id(request)))


@router.post("/incidents/{incident_id}:remedy", response_model=IncidentOut,
             summary="Record the remedy: what was done, as codes and a note (logged)",
             responses={409: {"description": "incident_not_assessed"}})
def remedy(request: Request, incident_id: uuid.UUID, body: RemedyIn, actor: Officer,
           db_session: SessionDep) -> IncidentOut:
    return IncidentOut.of(service.remedy(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                         incident_id=incident_id, actions=body.actions, note=body.note,
                                         request_id=_request_id(request)))


@router.post("/incidents/{incident_id}:report", response_model=ReportOut, status_code=201,
             summary="Sign the report to the regulator; the uploader sends it (logged)",
             responses={409: {"description": "incident_not_remedied, incident_not_contained, incident_reported"}})
def report(request: Request, incident_id: uuid.UUID, actor: Officer, db_session: SessionDep) -> ReportOut:
    sent = reporting.report(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                            incident_id=incident_id, request_id=_request_id(request))
    return ReportOut.of(sent)


@router.post("/incidents/{incident_id}:dismiss", response_model=IncidentOut,
             summary="Dismiss: it was no leak, with the reason (logged); the record stays")
def dismiss(request: Request, incident_id: uuid.UUID, body: DismissIn, actor: Officer,
            db_session: SessionDep) -> IncidentOut:
    return IncidentOut.of(service.dismiss(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                          incident_id=incident_id, reason=body.reason,
                                          request_id=_request_id(request)))


@router.get("/incidents/{incident_id}/report", response_model=ReportOut,
            summary="The signed report as sent, and the regulator's receipt once it answered")
def get_report(incident_id: uuid.UUID, actor: Reader, db_session: SessionDep) -> ReportOut:
    sent = reporting.report_of(db_session=db_session, actor=actor, incident_id=incident_id)
    return ReportOut.of(sent)


@router.get("/incidents/{incident_id}/report.pdf", summary="The signed report as a PDF to print and file",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def get_report_pdf(incident_id: uuid.UUID, actor: Reader, db_session: SessionDep,
                   lang: Annotated[str, Query(pattern="^(zh|en)$")] = "zh") -> Response:
    sent = reporting.report_of(db_session=db_session, actor=actor, incident_id=incident_id)
    return Response(pdf.render(sent.wire, sent.receipt, lang=lang), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{sent.wire["incident"]}.pdf"', "Cache-Control": "no-store"})


def _sent_or_none(db_session: Any, actor: Actor, view: service.View) -> reporting.Sent | None:
    if view.incident.reported_at is None:
        return None
    return reporting.report_of(db_session=db_session, actor=actor, incident_id=view.incident.id)
