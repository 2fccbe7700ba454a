"""Routes for staff obligations (confidentiality agreements, training) and partner organisations with their
security clauses. Thin: parse, call, shape."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from parcelguard.accounts import obligations as service
from parcelguard.accounts.models import PartnerOrganisation
from parcelguard.accounts.standing import Standing
from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep

router = APIRouter(tags=["staff obligations"])
Reader = Annotated[Actor, require(Role.HQ_SECURITY, Role.AUDITOR, Role.ADMIN, Role.STATION_MANAGER)]
Recorder = Annotated[Actor, require(Role.HQ_SECURITY, Role.ADMIN, Role.STATION_MANAGER)]
Keeper = Annotated[Actor, require(Role.HQ_SECURITY, Role.ADMIN)]


class TermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(max_length=64, description="The document's version, e.g. `2026-v2`.")
    signed_on: date = Field(description="The day it was signed or the training passed (Beijing).")
    expires_on: date = Field(description="The last day it is in force.")

    def terms(self) -> service.Terms:
        return service.Terms(version=self.version.strip(), signed_on=self.signed_on, expires_on=self.expires_on)


class ObligationIn(TermsIn):
    kind: Literal["confidentiality", "training"]


class ObligationOut(BaseModel):
    kind: str
    version: str
    signed_on: date
    expires_on: date


class ClauseOut(BaseModel):
    organisation_id: uuid.UUID
    kind: str
    name: str
    version: str
    signed_on: date
    expires_on: date
    scope: list[str]


class StandingOut(BaseModel):
    user_id: uuid.UUID
    username: str
    role: str
    station_id: uuid.UUID | None
    current: bool = Field(description="Whether the account may reveal personal data today.")
    missing: list[str] = Field(description="`confidentiality`, `training`, `clause`: missing or run out.")
    due_on: date | None = Field(description="The first day one of them runs out.")
    obligations: list[ObligationOut]
    clause: ClauseOut | None

    @classmethod
    def of(cls, s: Standing) -> StandingOut:
        clause = None if s.clause is None else ClauseOut(
            organisation_id=s.clause.organisation_id, kind=s.clause.kind, name=s.clause.name, version=s.clause.version,
            signed_on=s.clause.signed_on, expires_on=s.clause.expires_on, scope=list(s.clause.scope))
        return cls(user_id=s.user_id, username=s.username, role=s.role, station_id=s.station_id, current=s.current,
                   missing=list(s.missing), due_on=s.due_on, clause=clause,
                   obligations=[ObligationOut(kind=o.kind, version=o.version, signed_on=o.signed_on,
                                              expires_on=o.expires_on) for o in s.obligations.values()])


class OrganisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["franchisee", "third_party"]
    name: str = Field(max_length=400)
    clause: TermsIn
    scope: list[str] = Field(max_length=20, description="The purposes the clause covers, e.g. `[\"pickup\"]`.")


class ClauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clause: TermsIn
    scope: list[str] = Field(max_length=20)


class OrganisationOut(BaseModel):
    id: uuid.UUID
    kind: str
    name: str
    clause_version: str
    clause_signed_on: date
    clause_expires_on: date
    scope: list[str]

    @classmethod
    def of(cls, row: PartnerOrganisation) -> OrganisationOut:
        return cls(id=row.id, kind=row.kind, name=row.name, clause_version=row.clause_version,
                   clause_signed_on=row.clause_signed_on, clause_expires_on=row.clause_expires_on,
                   scope=[p for p in row.scope.split(",") if p])


class AttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_id: uuid.UUID | None


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


@router.get("/staff/obligations/due", response_model=list[StandingOut],
            summary="Staff missing a confidentiality agreement, training or clause, or running out soon")
def list_due(actor: Reader, db_session: SessionDep,
             within_days: Annotated[int, Query(ge=0, le=366)] = service.DEFAULT_DUE_DAYS) -> list[StandingOut]:
    return [StandingOut.of(s) for s in service.due(db_session=db_session, actor=actor, within_days=within_days)]


@router.get("/staff/{user_id}/obligations", response_model=StandingOut, summary="An account's standing")
def get_standing(user_id: uuid.UUID, actor: Reader, db_session: SessionDep) -> StandingOut:
    return StandingOut.of(service.standing(db_session=db_session, actor=actor, user_id=user_id))


@router.post("/staff/{user_id}/obligations", response_model=StandingOut, status_code=201,
             summary="Record a confidentiality agreement or a training (logged)")
def record(user_id: uuid.UUID, body: ObligationIn, request: Request, actor: Recorder,
           db_session: SessionDep) -> StandingOut:
    """Without a current agreement and training on record, an account's reveals are refused
    (`reveal_denied`, reason `obligations_missing`)."""
    return StandingOut.of(service.record(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                         user_id=user_id, kind=body.kind, terms=body.terms(),
                                         request_id=_request_id(request)))


@router.put("/staff/{user_id}/organisation", response_model=StandingOut,
            summary="Attach an account to a franchisee or third party (or detach it: null)")
def attach(user_id: uuid.UUID, body: AttachIn, request: Request, actor: Keeper, db_session: SessionDep) -> StandingOut:
    return StandingOut.of(service.attach(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                         user_id=user_id, organisation_id=body.organisation_id,
                                         request_id=_request_id(request)))


@router.get("/organisations", response_model=list[OrganisationOut], summary="Franchisees and third parties")
def list_organisations(actor: Reader, db_session: SessionDep) -> list[OrganisationOut]:
    return [OrganisationOut.of(o) for o in service.list_organisations(db_session=db_session, actor=actor)]


@router.post("/organisations", response_model=OrganisationOut, status_code=201,
             summary="Put a franchisee or third party on record with its security clause (logged)")
def add_organisation(body: OrganisationIn, request: Request, actor: Keeper, db_session: SessionDep) -> OrganisationOut:
    return OrganisationOut.of(service.add_organisation(
        db_session=db_session, keyring=request.app.state.keyring, actor=actor, kind=body.kind, name=body.name,
        terms=body.clause.terms(), scope=body.scope, request_id=_request_id(request)))


@router.put("/organisations/{organisation_id}/clause", response_model=OrganisationOut,
            summary="A new version of the organisation's security clause (logged)")
def renew_clause(organisation_id: uuid.UUID, body: ClauseIn, request: Request, actor: Keeper,
                 db_session: SessionDep) -> OrganisationOut:
    return OrganisationOut.of(service.renew_clause(
        db_session=db_session, keyring=request.app.state.keyring, actor=actor, organisation_id=organisation_id,
        terms=body.clause.terms(), scope=body.scope, request_id=_request_id(request)))
