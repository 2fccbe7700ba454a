"""Routes for intake (one parcel, a batch, an inspection with photos) and for assigning shipments to
couriers. Thin: parse, call, shape."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from parcelguard.core import uploads
from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError, Invalid, ServiceUnavailable, validation_errors
from parcelguard.shipments import cancellation, flows, photos, references, service
from parcelguard.shipments.schemas import (
    AssignmentIn,
    AssignmentOut,
    BatchIn,
    BatchOut,
    BatchResultOut,
    InspectionOut,
    InspectionRecordIn,
    IntakeIn,
    IntakeOut,
    ItemProblemOut,
    MaskedRecipientOut,
    MaskedSenderOut,
)

router = APIRouter(tags=["assignments"])


Courier = Annotated[Actor, require(Role.COURIER)]
Sender = Annotated[Actor, require(Role.COURIER, Role.ENTERPRISE)]

# A multipart intake: the parcel as JSON in the part `shipment` (or `inspection`), photos in `photos` parts.
_MULTIPART_LIMIT = photos.MAX_PHOTOS * photos.MAX_PHOTO_BYTES + 1024 * 1024
T = TypeVar("T", bound=BaseModel)


async def _json_and_photos(request: Request, model: type[T], part: str) -> tuple[T, list[photos.Photo]]:
    """The body as `model`: JSON, or multipart/form-data with the JSON in `part` and `photos` files (read
    in memory, never spooled to disk). Invalid JSON answers as FastAPI's own validation does."""
    found: list[photos.Photo] = []
    if uploads.is_multipart(request):
        form = await uploads.read_multipart(request, max_bytes=_MULTIPART_LIMIT, max_files=photos.MAX_PHOTOS + 1)
        raw: str | bytes = form.fields.get(part, "")
        found = [photos.Photo(declared_type=f.content_type, data=f.data) for f in form.files if f.field == "photos"]
        prefix: tuple[str, ...] = ("body", part)
    else:
        raw, prefix = await request.body(), ("body",)
    try:
        return model.model_validate_json(raw), found
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": (*prefix, *e["loc"])} for e in exc.errors()]) from None


async def _intake_body(request: Request) -> tuple[IntakeIn, list[photos.Photo]]:
    return await _json_and_photos(request, IntakeIn, "shipment")


async def _inspection_body(request: Request) -> tuple[InspectionRecordIn, list[photos.Photo]]:
    return await _json_and_photos(request, InspectionRecordIn, "inspection")


def _schema_of(model: type[BaseModel], part: str) -> dict[str, Any]:
    """The request body of a route that reads JSON or multipart itself (`_json_and_photos`): FastAPI
    cannot infer it, so it is declared here; the model's schema joins the components (`BODY_MODELS`)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": ref},
        "multipart/form-data": {"schema": {"type": "object", "required": [part], "properties": {
            part: {**ref, "description": f"The same JSON as the application/json body, as the part `{part}`."},
            "photos": {"type": "array", "maxItems": photos.MAX_PHOTOS,
                       "items": {"type": "string", "format": "binary"},
                       "description": f"JPEG, PNG or WebP, at most {photos.MAX_PHOTO_BYTES // 2**20} MiB each."},
        }}},
    }}}


# Models of bodies the routes read themselves, for the app to add to the OpenAPI components.
BODY_MODELS: tuple[type[BaseModel], ...] = (IntakeIn, InspectionRecordIn)


def intake_request(body: IntakeIn, found: list[photos.Photo] = ()) -> flows.IntakeRequest:  # type: ignore[assignment]
    return flows.IntakeRequest(
        sender_document=None if body.sender.document is None else flows.SenderDocument(
            doc_type=body.sender.document.type, number=body.sender.document.number, name=body.sender.document.name),
        realname_token=body.sender.realname_token, sender_name=body.sender.name,
        sender_phone=body.sender.phone, sender_address=body.sender.address,
        recipient_name=body.recipient.name, recipient_phone=body.recipient.phone,
        recipient_region=service.Region(province=body.recipient.address.province, city=body.recipient.address.city,
                                        district=body.recipient.address.district),
        recipient_detail=body.recipient.address.detail,
        items=[service.Item(description=i.description, category=i.category, quantity=i.quantity,
                            declared_value_cents=i.declared_value_cents) for i in body.items],
        destination_station_id=body.destination_station_id, inspected=body.inspection.inspected, photos=found,
        reference=body.reference,
    )


def _out(intake: flows.Intake, photo_count: int = 0) -> IntakeOut:
    return IntakeOut(
        id=intake.shipment_id, waybill_no=intake.waybill_no,
        sender=MaskedSenderOut(name=intake.sender_name_masked, document_type=intake.sender_doc_type,
                               document=intake.sender_doc_masked),
        recipient=MaskedRecipientOut(name=intake.recipient_name_masked, province=intake.recipient_region.province,
                                     city=intake.recipient_region.city, district=intake.recipient_region.district),
        inspection_draw=intake.inspection_draw, photos=photo_count,
    )


def _earlier_out(found: references.Earlier) -> IntakeOut:
    s = found.shipment
    return IntakeOut(
        id=s.id, waybill_no=s.waybill_no or "", reference=s.customer_reference, status=s.status,
        sender=MaskedSenderOut(name=s.sender_name_masked, document_type=found.doc_type, document=found.doc_masked),
        recipient=MaskedRecipientOut(name=s.recipient_name_masked, province=s.recipient_province,
                                     city=s.recipient_city, district=s.recipient_district),
        inspection_draw=s.inspection_draw,
    )


def _by_reference(actor: Actor, db_session: Session, parsed: list[tuple[int, flows.IntakeRequest]],
                  results: list[BatchResultOut | None]) -> list[tuple[int, flows.IntakeRequest]]:
    """Answer the parcels whose reference names one taken in before (200, nothing written) or one earlier in
    this batch (422 `reference_repeated`); a courier's parcel has no reference (422 `reference_contract_only`).
    Answers the parcels still to take in."""
    refs = [r.reference for _, r in parsed if r.reference is not None]
    if not refs:
        return parsed
    if actor.role != Role.ENTERPRISE:
        problem = ItemProblemOut(code="reference_contract_only", detail="Only a contract customer's parcels carry "
                                 "its own reference.", errors=[{"pointer": "/reference", "code": "reference_contract_only",
                                                                "detail": "Leave it out."}])
        for i, r in parsed:
            if r.reference is not None:
                results[i] = BatchResultOut(index=i, status=422, problem=problem)
        return [(i, r) for i, r in parsed if r.reference is None]
    assert actor.carrier_id is not None
    before = references.earlier(db_session=db_session, carrier_id=actor.carrier_id, customer_id=actor.user_id,
                                references=refs)
    left, seen = [], set()
    for i, r in parsed:
        if r.reference is not None and r.reference in before:
            results[i] = BatchResultOut(index=i, status=200, shipment=_earlier_out(before[r.reference]))
        elif r.reference is not None and r.reference in seen:
            results[i] = BatchResultOut(index=i, status=422, problem=ItemProblemOut(
                code="reference_repeated", detail="An earlier parcel of this batch has the same reference.",
                errors=[{"pointer": "/reference", "code": "reference_repeated", "detail": "One parcel per reference."}]))
        else:
            seen.add(r.reference)
            left.append((i, r))
    return left


def _regulator_key(request: Request) -> bytes:
    key = request.app.state.regulator_public_key
    if key is None:
        raise ServiceUnavailable("Intake is off: no regulator public key is configured.",
                                 code="regulator_key_missing")
    return key


@router.post("/shipments", response_model=IntakeOut, status_code=201, tags=["intake"],
             summary="Take a parcel in (实名收寄): the sender's document is sealed for the regulator",
             openapi_extra=_schema_of(IntakeIn, "shipment"))
async def take_in(actor: Courier, parsed: Annotated[tuple[IntakeIn, list[photos.Photo]], Depends(_intake_body)],
                  request: Request) -> IntakeOut:
    """A courier on a registered terminal. Every field is checked first and all problems answered at
    once (422 `intake_invalid`, `errors[]` with a code per field). The answer carries masked views only:
    no document number and no phone number ever reaches a terminal. Inspection photos come as
    multipart/form-data: the JSON in the part `shipment`, each photo in a part `photos`. Intakes that
    arrive together are written in one transaction (`shipments.combining`), each answered on its own."""
    body, found = parsed
    if body.reference is not None:
        raise Invalid("Only a contract customer's parcels carry its own reference.", code="reference_contract_only",
                      field="/reference")
    intake = await request.app.state.intake_combiner.take_in(
        actor=actor, request=intake_request(body, found), regulator_public_key=_regulator_key(request),
        request_id=getattr(request.state, "request_id", None))
    return _out(intake, len(found))


@router.post("/shipments:batch", response_model=BatchOut, tags=["intake"],
             summary="Take in up to 1,000 parcels, each answered on its own")
def take_in_batch(body: BatchIn, actor: Sender, request: Request, db_session: SessionDep) -> BatchOut:
    """For contract customers (an enterprise account under an agreement in force: the sender is the
    organisation the agreement verified, and a share of the parcels is drawn for inspection at pickup)
    and for couriers on a terminal (each parcel with its sender's document or real-name QR). Each
    parcel is checked on its own and answered in `results` with its index: a bad parcel does not sink
    the good ones, and a refused parcel leaves nothing behind. The good ones are written together in
    one transaction: if writing fails, the request fails and nothing is written."""
    results: list[BatchResultOut | None] = [None] * len(body.shipments)
    parsed: list[tuple[int, flows.IntakeRequest]] = []
    for i, raw in enumerate(body.shipments):
        try:
            parsed.append((i, intake_request(IntakeIn.model_validate(raw))))
        except ValidationError as exc:
            _, errors = validation_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
            results[i] = BatchResultOut(index=i, status=422, problem=ItemProblemOut(
                code="validation_failed", detail="The parcel has invalid or missing fields.",
                errors=[e.as_dict() for e in errors]))
    parsed = _by_reference(actor, db_session, parsed, results)
    taken = flows.take_in_batch(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                regulator_public_key=_regulator_key(request), requests=[r for _, r in parsed],
                                request_id=getattr(request.state, "request_id", None)) if parsed else []
    for (i, asked), result in zip(parsed, taken, strict=True):
        if isinstance(result, DomainError):
            results[i] = BatchResultOut(index=i, status=result.status, problem=ItemProblemOut(
                code=result.code, detail=result.detail, errors=[e.as_dict() for e in result.errors]))
        else:
            results[i] = BatchResultOut(index=i, status=201,
                                        shipment=_out(result).model_copy(update={"reference": asked.reference}))
    done = [r for r in results if r is not None]
    accepted = sum(r.status == 201 for r in done)
    return BatchOut(accepted=accepted, refused=len(done) - accepted, results=done)


class CancelledOut(BaseModel):
    id: uuid.UUID
    waybill_no: str
    status: str


@router.post("/shipments/{shipment_id}:cancel", response_model=CancelledOut, tags=["intake"],
             summary="A contract customer cancels a parcel no courier has touched yet (撤单)",
             responses={404: {"description": "shipment_unknown (another's parcel too)"},
                        409: {"description": "shipment_not_cancellable, already_cancelled"}})
def cancel_shipment(shipment_id: uuid.UUID, actor: Annotated[Actor, require(Role.ENTERPRISE)],
                    db_session: SessionDep) -> CancelledOut:
    shipment = cancellation.cancel(db_session=db_session, actor=actor, shipment_id=shipment_id)
    return CancelledOut(id=shipment.id, waybill_no=shipment.waybill_no or "", status=shipment.status)


@router.post("/shipments/{shipment_id}/inspection", response_model=InspectionOut, status_code=201, tags=["intake"],
             summary="Record the inspection (开箱验视) of a parcel drawn for it, with photos",
             openapi_extra=_schema_of(InspectionRecordIn, "inspection"))
def record_inspection(shipment_id: uuid.UUID, actor: Courier,
                      parsed: Annotated[tuple[InspectionRecordIn, list[photos.Photo]], Depends(_inspection_body)],
                      request: Request, db_session: SessionDep) -> InspectionOut:
    """A courier of the parcel's origin station, on a registered terminal, at pickup. `passed: false`
    refuses the parcel. Once per parcel (409 `already_inspected`)."""
    body, found = parsed
    shipment = service.record_inspection(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                         shipment_id=shipment_id, passed=body.passed, photos=found)
    assert shipment.inspected_at is not None
    return InspectionOut(shipment_id=shipment.id, status=shipment.status, inspected_at=shipment.inspected_at,
                         photos=len(found))


Dispatcher = Annotated[Actor, require(Role.STATION_MANAGER, Role.HQ_SECURITY, Role.ADMIN)]
TaskHolder = Annotated[Actor, require(Role.COURIER, Role.STATION_MANAGER, Role.HQ_SECURITY, Role.ADMIN)]


@router.post("/shipments/{shipment_id}/assign", response_model=AssignmentOut, status_code=201,
             summary="Give a courier a delivery (or pickup) task: what lets them scan the label and reveal")
@router.post("/shipments/{shipment_id}/assignments", response_model=AssignmentOut, status_code=201,
             summary="Give a courier a pickup or delivery task (the same as /assign)")
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
