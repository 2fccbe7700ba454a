"""Routes for assigning shipments to couriers. Thin: parse, call, shape."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request

from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import ServiceUnavailable
from parcelguard.shipments import flows, service
from parcelguard.shipments.schemas import (
    AssignmentIn,
    AssignmentOut,
    IntakeIn,
    IntakeOut,
    MaskedRecipientOut,
    MaskedSenderOut,
)

router = APIRouter(tags=["assignments"])


Courier = Annotated[Actor, require(Role.COURIER)]


@router.post("/shipments", response_model=IntakeOut, status_code=201, tags=["intake"],
             summary="Take a parcel in (实名收寄): the sender's document is sealed for the regulator")
def take_in(body: IntakeIn, request: Request, actor: Courier, db_session: SessionDep) -> IntakeOut:
    """A courier on a registered terminal. Every field is checked first and all problems answered at
    once (422 `intake_invalid`, `errors[]` with a code per field). The answer carries masked views only:
    no document number and no phone number ever reaches a terminal."""
    regulator_key = request.app.state.regulator_public_key
    if regulator_key is None:
        raise ServiceUnavailable("Intake is off: no regulator public key is configured.",
                                 code="regulator_key_missing")
    intake = flows.take_in(
        db_session=db_session, keyring=request.app.state.keyring, actor=actor, regulator_public_key=regulator_key,
        request_id=getattr(request.state, "request_id", None),
        request=flows.IntakeRequest(
            sender_document=None if body.sender.document is None else flows.SenderDocument(
                doc_type=body.sender.document.type, number=body.sender.document.number,
                name=body.sender.document.name),
            realname_token=body.sender.realname_token,
            sender_phone=body.sender.phone, sender_address=body.sender.address,
            recipient_name=body.recipient.name, recipient_phone=body.recipient.phone,
            recipient_region=service.Region(province=body.recipient.address.province,
                                            city=body.recipient.address.city,
                                            district=body.recipient.address.district),
            recipient_detail=body.recipient.address.detail,
            items=[service.Item(description=i.description, category=i.category, quantity=i.quantity,
                                declared_value_cents=i.declared_value_cents) for i in body.items],
            destination_station_id=body.destination_station_id, inspected=body.inspection.inspected,
        ),
    )
    return IntakeOut(
        id=intake.shipment_id, waybill_no=intake.waybill_no,
        sender=MaskedSenderOut(name=intake.sender_name_masked, document_type=intake.sender_doc_type,
                               document=intake.sender_doc_masked),
        recipient=MaskedRecipientOut(name=intake.recipient_name_masked, province=intake.recipient_region.province,
                                     city=intake.recipient_region.city, district=intake.recipient_region.district),
    )
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
