"""Taking a parcel in on a handheld (实名收寄): the sender's real-name QR code scanned (camera or photo) or
their document typed, the recipient, the items against the carrier's catalogue, inspection photos; then
the label. The form becomes the API's own `IntakeIn` and goes through `shipments.flows.take_in`, as
`POST /api/v1/shipments` does: every problem comes back at once and is shown next to its field, and a
refused parcel writes nothing. The answer is masked only, as the API's.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from parcelguard.accounts import service as accounts
from parcelguard.core import db
from parcelguard.core.auth import Actor
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError, FieldError, ServiceUnavailable, validation_errors
from parcelguard.identity.documents import DocType
from parcelguard.shipments import catalogue_store, flows, photos
from parcelguard.shipments.api import intake_request
from parcelguard.shipments.schemas import IntakeIn
from parcelguard.waybills import flows as label_flows
from parcelguard.waybills import labels
from parcelguard.web import forms, qr_upload, session
from parcelguard.web.courier_pages import message_of, translator_of
from parcelguard.web.templating import apply_security_headers, render

router = APIRouter(include_in_schema=False)
CourierPage = Annotated[Actor | None, Depends(session.courier)]
ITEM_ROWS = 3
WITH_RULE = frozenset({"item_prohibited", "inspection_required"})  # the courier is shown the rule too
NOT_ECHOED = frozenset({session.CSRF_FIELD, "sender_qr", "doc_number", "doc_name", "sender_phone", "recipient_name",
                        "recipient_phone"})
DOC_TYPES = [t.value for t in DocType if t != DocType.USCC]
_FORM_BYTES = photos.MAX_PHOTOS * photos.MAX_PHOTO_BYTES + qr_upload.MAX_IMAGE_BYTES + 256 * 1024

# Where an error of the intake (a JSON pointer into IntakeIn) is shown on the form.
_FIELD_OF_POINTER = {
    "/sender": "doc_number", "/sender/document": "doc_number", "/sender/document/type": "doc_type",
    "/sender/document/number": "doc_number", "/sender/document/name": "doc_name",
    "/sender/realname_token": "sender_qr", "/sender/phone": "sender_phone", "/sender/address": "sender_address",
    "/recipient/name": "recipient_name", "/recipient/phone": "recipient_phone", "/recipient/address/province":
    "province", "/recipient/address/city": "city", "/recipient/address/district": "district",
    "/recipient/address/detail": "detail", "/items": "item0_description", "/inspection": "inspected",
    "/inspection/inspected": "inspected", "/destination_station_id": "destination",
}


def field_of(pointer: str) -> str:
    """The form field an intake error's pointer names (`/items/1/category` → item1_category)."""
    if pointer in _FIELD_OF_POINTER:
        return _FIELD_OF_POINTER[pointer]
    parts = pointer.strip("/").split("/")
    if parts[:1] == ["items"] and len(parts) >= 2 and parts[1].isdigit():
        return f"item{parts[1]}_{parts[2] if len(parts) > 2 else 'description'}"
    if parts[:2] == ["inspection", "photos"] or parts[:1] == ["photos"]:
        return "photos"
    for prefix in sorted(_FIELD_OF_POINTER, key=len, reverse=True):
        if pointer.startswith(prefix + "/"):
            return _FIELD_OF_POINTER[prefix]
    return "form"


def _choices(db_session: Session, actor: Actor) -> dict[str, Any]:
    assert actor.carrier_id is not None
    catalogue = catalogue_store.current(db_session=db_session, carrier_id=actor.carrier_id)
    stations = accounts.list_stations(db_session=db_session, carrier_id=actor.carrier_id)
    return {"categories": catalogue.categories(), "stations": stations, "doc_types": DOC_TYPES, "rows": ITEM_ROWS}


def _form_page(request: Request, db_session: Session, actor: Actor, values: dict[str, str],
               errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    return render(request, "courier_pickup.html", {
        **_choices(db_session, actor), "values": values, "errors": errors, "csrf": session.csrf_token(request),
        "max_photos": photos.MAX_PHOTOS}, status_code=status_code)


@router.get("/courier/pickup", response_class=HTMLResponse)
def pickup_page(request: Request, actor: CourierPage, db_session: SessionDep) -> Response:
    if actor is None:
        return session.to_sign_in(request)
    return _form_page(request, db_session, actor, {"doc_type": DocType.RESIDENT_ID.value, "item0_quantity": "1"}, {})


def intake_body(form: forms.Form, realname_token: str | None) -> dict[str, Any]:
    """The form as the API's JSON body (IntakeIn): what the courier left empty is left out."""
    if realname_token:
        sender: dict[str, Any] = {"realname_token": realname_token}
    else:
        sender = {"document": {"type": form.get("doc_type") or None, "number": form.get("doc_number"),
                               "name": form.get("doc_name")}, "phone": form.get("sender_phone")}
    sender["address"] = form.get("sender_address")
    items = []
    for i in range(ITEM_ROWS):
        description = form.get(f"item{i}_description")
        if i and not description:
            continue
        quantity = form.get(f"item{i}_quantity") or "1"
        items.append({"description": description, "category": form.get(f"item{i}_category"),
                      "quantity": int(quantity) if quantity.isdigit() else quantity})
    body = {"sender": sender, "recipient": {
        "name": form.get("recipient_name"), "phone": form.get("recipient_phone"),
        "address": {"province": form.get("province"), "city": form.get("city"), "district": form.get("district"),
                    "detail": form.get("detail")}},
        "items": items, "inspection": {"inspected": form.get("inspected") == "on"}}
    if form.get("destination"):
        body["destination_station_id"] = form.get("destination")
    return body


def _errors(request: Request, found: list[FieldError]) -> dict[str, str]:
    t = translator_of(request)
    out: dict[str, str] = {}
    for error in found:
        key = f"code.{error.code}"
        text = t(key)
        if text == key:
            text = error.detail
        elif error.code in WITH_RULE:
            text = f"{text} {error.detail}"  # which catalogue rule, and the catalogue's term it matched
        out.setdefault(field_of(error.pointer), text)
    return out


@router.post("/courier/pickup", response_class=HTMLResponse)
async def pickup(request: Request, actor: CourierPage, db_session: SessionDep) -> Response:
    if actor is None:
        return session.to_sign_in(request)
    t = translator_of(request)
    try:
        form = await forms.read(request, max_bytes=_FORM_BYTES, max_files=photos.MAX_PHOTOS + 1)
        if not session.csrf_ok(request, form.get(session.CSRF_FIELD)):
            return session.to_sign_in(request)
        token = await forms.qr_text(form, text_field="sender_qr", photo_field="sender_qr_photo")
    except forms.FieldProblem as problem:
        return await run_in_threadpool(_form_page, request, db_session, actor, {},
                                       {problem.name: t(problem.key, **problem.values)}, problem.status)
    # What was typed comes back after an error, but for numbers and names: a page never holds an ID number,
    # a full phone or a name, even one the courier typed (the page's canary scan holds it to that).
    values = {k: v for k, v in form.fields.items() if k not in NOT_ECHOED}
    taken = [photos.Photo(declared_type=None, data=data) for data in form.photos("photos")]
    try:
        body = IntakeIn.model_validate(intake_body(form, token))
    except ValidationError as exc:
        _, found = validation_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        return await run_in_threadpool(_form_page, request, db_session, actor, values, _errors(request, found), 422)

    def run() -> flows.Intake:
        key = request.app.state.regulator_public_key
        if key is None:
            raise ServiceUnavailable("Intake is off: no regulator public key is configured.",
                                     code="regulator_key_missing")
        return flows.take_in(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                             regulator_public_key=key, request=intake_request(body, taken),
                             request_id=getattr(request.state, "request_id", None))

    try:
        intake = await run_in_threadpool(run)
    except DomainError as exc:
        db_session.rollback()
        found = exc.errors or [FieldError(pointer="/", code=exc.code, detail=exc.detail)]
        errors = _errors(request, found)
        if "form" in errors and len(errors) == 1:
            errors = {"form": message_of(request, exc)}
        return await run_in_threadpool(_form_page, request, db_session, actor, values, errors, exc.status)
    printer = accounts.printer_of(db_session=db_session, actor=actor)
    return render(request, "courier_picked.html", {"intake": intake, "photos": len(taken), "printer": printer,
                                                   "csrf": session.csrf_token(request)}, status_code=201)


@router.post("/courier/shipments/{shipment_id}/print", response_class=HTMLResponse)
async def print_label(request: Request, shipment_id: uuid.UUID, actor: CourierPage, db_session: SessionDep) -> Response:
    """The label on the terminal's thermal printer (ZPL over raw TCP), as `POST .../label:print` sends it."""
    if actor is None:
        return session.to_sign_in(request)
    form = await forms.read(request, max_bytes=16 * 1024, max_files=0)
    if not session.csrf_ok(request, form.get(session.CSRF_FIELD)):
        return session.to_sign_in(request)

    def run() -> label_flows.Printed:
        return label_flows.print_on_terminal_printer(db_session=db_session, keyring=request.app.state.keyring,
                                                     actor=actor, shipment_id=shipment_id,
                                                     request_id=getattr(request.state, "request_id", None))

    try:
        await run_in_threadpool(run)
    except DomainError as exc:
        db_session.rollback()
        return render(request, "courier_error.html", {"message": message_of(request, exc)}, status_code=exc.status)
    return render(request, "courier_error.html", {"message": translator_of(request)("courier.printed"),
                                                  "ok": True})


@router.get("/courier/shipments/{shipment_id}/label.pdf")
def label(request: Request, shipment_id: uuid.UUID, actor: CourierPage, db_session: SessionDep) -> Response:
    """The label to print, as `GET /api/v1/shipments/{id}/label` gives it: the gate decides (purpose
    label_print) and logs; a parcel the courier may not print is answered as one that does not exist."""
    if actor is None:
        return session.to_sign_in(request)
    db.begin_write(db_session)  # a GET that writes (the gate's log entry)
    try:
        found = label_flows.labels(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                   shipment_ids=[shipment_id], request_id=getattr(request.state, "request_id", None))
    except DomainError as exc:
        db_session.rollback()
        return render(request, "courier_error.html", {"message": message_of(request, exc)}, status_code=exc.status)
    pdf = labels.render_pdf(found, labels.Layout.TWO_PART)
    response = Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="label-{shipment_id}.pdf"'})
    return apply_security_headers(response)
