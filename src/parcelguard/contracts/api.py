"""Routes for agreements with contract customers (协议客户). Thin: parse, call, shape."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from parcelguard.contracts import draws, service
from parcelguard.contracts.schemas import AgreementIn, AgreementOut, DrawResultsOut, InspectionShareIn
from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import ServiceUnavailable

router = APIRouter(tags=["agreements"])
Signer = Annotated[Actor, require(Role.STATION_MANAGER, Role.ADMIN)]
Reader = Annotated[Actor, require(Role.ENTERPRISE, Role.STATION_MANAGER, Role.HQ_SECURITY, Role.AUDITOR, Role.ADMIN)]


@router.post("/agreements", response_model=AgreementOut, status_code=201,
             summary="Verify a contract customer once: the organisation and its responsible person")
def create(body: AgreementIn, request: Request, actor: Signer, db_session: SessionDep) -> AgreementOut:
    """The organisation's unified social credit code and the responsible person's document are checked
    and sealed to the regulator; the carrier keeps the masked view. 422 `agreement_invalid` with a code
    per field; 409 `agreement_exists` when the customer has one in force."""
    key = request.app.state.regulator_public_key
    if key is None:
        raise ServiceUnavailable("Agreements are off: no regulator public key is configured.",
                                 code="regulator_key_missing")
    row = service.create(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                         regulator_public_key=key, request_id=getattr(request.state, "request_id", None),
                         agreement=new_agreement(body))
    return AgreementOut.of(row)


def new_agreement(body: AgreementIn) -> service.NewAgreement:
    """The request as the service takes it (the station console's form goes through this too)."""
    return service.NewAgreement(
        customer_id=body.customer_id, station_id=body.station_id, organisation_name=body.organisation.name,
        uscc=body.organisation.uscc, responsible_doc_type=body.responsible.document.type,
        responsible_number=body.responsible.document.number, responsible_name=body.responsible.document.name,
        inspection_permille=body.inspection_permille)


@router.get("/agreements", response_model=list[AgreementOut],
            summary="Agreements: an enterprise's own, a station manager's station's, or the carrier's")
def list_agreements(actor: Reader, db_session: SessionDep, include_revoked: bool = False) -> list[AgreementOut]:
    return [AgreementOut.of(row) for row in service.list_for(db_session=db_session, actor=actor,
                                                               include_revoked=include_revoked)]


@router.get("/agreements/{agreement_id}", response_model=AgreementOut)
def get(agreement_id: uuid.UUID, actor: Reader, db_session: SessionDep) -> AgreementOut:
    return AgreementOut.of(service.get(db_session=db_session, actor=actor, agreement_id=agreement_id))


@router.get("/agreements/{agreement_id}/draws", response_model=DrawResultsOut,
            summary="The draw's results: the customer's parcels drawn for inspection, inspected, still waiting")
def draw_results(agreement_id: uuid.UUID, actor: Reader, db_session: SessionDep,
                 latest: Annotated[int, Query(ge=0, le=draws.MAX_LATEST)] = draws.DEFAULT_LATEST) -> DrawResultsOut:
    """Counts over every parcel sent under the agreement, and its `latest` drawn parcels by waybill number
    with their status. Scoped as `GET /agreements/{id}`: another station's agreement is 404."""
    return DrawResultsOut.of(draws.draw_results_of(db_session=db_session, actor=actor, agreement_id=agreement_id,
                                                   latest=latest))


@router.put("/agreements/{agreement_id}/inspection-share", response_model=AgreementOut,
            summary="Change the share of the customer's parcels drawn for inspection")
def set_share(agreement_id: uuid.UUID, body: InspectionShareIn, request: Request, actor: Signer,
              db_session: SessionDep) -> AgreementOut:
    return AgreementOut.of(service.set_inspection_share(
        db_session=db_session, keyring=request.app.state.keyring, actor=actor, agreement_id=agreement_id,
        permille=body.inspection_permille, request_id=getattr(request.state, "request_id", None)))


@router.post("/agreements/{agreement_id}/revoke", response_model=AgreementOut,
             summary="End an agreement: the customer's parcels are refused until a new one is made")
def revoke(agreement_id: uuid.UUID, request: Request, actor: Signer, db_session: SessionDep) -> AgreementOut:
    return AgreementOut.of(service.revoke(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                          agreement_id=agreement_id,
                                          request_id=getattr(request.state, "request_id", None)))
