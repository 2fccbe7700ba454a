"""Routes for labels: print one (PDF, ZPL or a PNG preview), print a batch, resolve a found one. Thin."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from parcelguard.core import db
from parcelguard.core.auth import Actor, Role, require
from parcelguard.core.db import SessionDep
from parcelguard.waybills import flows, labels
from parcelguard.waybills.schemas import LabelBatchIn, LabelFormat, ResolvedOut, ResolveIn

router = APIRouter(tags=["labels"])

# Who may ask; the gate decides (purpose label_print) and logs either way.
Printer = Annotated[Actor, require(Role.COURIER, Role.STATION_MANAGER, Role.ENTERPRISE, Role.HQ_SECURITY,
                                   Role.ADMIN)]
Investigator = Annotated[Actor, require(Role.HQ_SECURITY)]

MEDIA = {"pdf": "application/pdf", "zpl": "application/vnd.zebra.zpl; charset=utf-8", "png": "image/png"}


def _render(found: list[labels.LabelData], layout: labels.Layout, fmt: str) -> bytes:
    if fmt == "zpl":
        return labels.render_zpl(found, layout)
    if fmt == "png":
        return labels.render_png(found[0], layout)
    return labels.render_pdf(found, layout)


def _response(body: bytes, fmt: str, name: str) -> Response:
    # no-store: a label is personal data; a shared cache or the browser's disk must not keep it.
    return Response(body, media_type=MEDIA[fmt], headers={
        "Cache-Control": "no-store", "Content-Disposition": f'inline; filename="{name}.{fmt}"'})


@router.get("/shipments/{shipment_id}/label", summary="Print a shipment's label (隐私面单): PDF, ZPL or PNG",
            response_class=Response, responses={200: {"content": {m.split(";")[0]: {} for m in MEDIA.values()}}})
def label(shipment_id: uuid.UUID, actor: Printer, request: Request, db_session: SessionDep,
          format: Annotated[LabelFormat, Query()] = LabelFormat.PDF,
          layout: Annotated[labels.Layout, Query()] = labels.Layout.TWO_PART) -> Response:
    """The masked label: the surname only, no phone digits (a virtual number and extension to call), the
    address as the carrier's policy says, the waybill number as Code 128 and a QR code holding a signed
    token. Printing reveals the address, so the gate decides (purpose `label_print`) and logs it: the
    courier who picked the parcel up, its stations' managers, the enterprise that sent it."""
    # A GET that writes (the gate's log entry): on SQLite take the write lock first, as every POST does,
    # or a commit by another request between the gate's reads and its append fails this one.
    db.begin_write(db_session)
    found = flows.labels(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                         shipment_ids=[shipment_id], request_id=getattr(request.state, "request_id", None))
    return _response(_render(found, layout, format.value), format.value, "label")


class PrintedOut(BaseModel):
    printer: str = Field(description="The terminal's printer the job went to, `host:port`.")
    bytes: int = Field(description="The size of the ZPL job sent.")


@router.post("/shipments/{shipment_id}/label:print", response_model=PrintedOut, status_code=202,
             summary="Print a shipment's label on the terminal's networked thermal printer (ZPL)")
def print_label(shipment_id: uuid.UUID, actor: Printer, request: Request, db_session: SessionDep,
                layout: Annotated[labels.Layout, Query()] = labels.Layout.TWO_PART) -> PrintedOut:
    """For a caller signed in on a terminal whose station manager named its printer
    (`PUT /terminals/{id}/printer`): the gate decides and logs as for `GET .../label`, and the ZPL job goes
    to the printer over raw TCP. 409 `printer_not_configured` without one; 503 `printer_unreachable` when
    it does not take the job (nothing is logged then: no label left the server)."""
    printed = flows.print_on_terminal_printer(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                              shipment_id=shipment_id, layout=layout.value,
                                              request_id=getattr(request.state, "request_id", None))
    return PrintedOut(printer=printed.printer, bytes=printed.size)


@router.post("/labels:batch", summary="Print up to 500 labels as one PDF (or one ZPL job)",
             response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def labels_batch(body: LabelBatchIn, actor: Printer, request: Request, db_session: SessionDep) -> Response:
    """All or nothing: a shipment the caller may not print refuses the batch (and that refusal is logged);
    otherwise every label is one entry of the log and counts toward the caller's reveal ceilings."""
    found = flows.labels(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                         shipment_ids=body.shipment_ids, request_id=getattr(request.state, "request_id", None))
    return _response(_render(found, body.layout, body.format.value), body.format.value, "labels")


@router.post("/labels:resolve", response_model=ResolvedOut, tags=["investigation"],
             summary="HQ security: find the shipment of a found label, through the gate (investigation)")
def resolve(body: ResolveIn, actor: Investigator, request: Request, db_session: SessionDep) -> ResolvedOut:
    """From the waybill number printed on it or the token decoded from its QR code (a genuine token of any
    age). Needs an open investigation case; the read is logged like every reveal."""
    done = flows.resolve(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                         case_id=body.case_id, waybill_no=body.waybill_no, label_token=body.label_token,
                         fields=body.fields, request_id=getattr(request.state, "request_id", None))
    s = done.shipment
    return ResolvedOut(shipment_id=s.id, waybill_no=s.waybill_no, status=s.status, created_at=s.created_at,
                       origin_station_id=s.origin_station_id, destination_station_id=s.destination_station_id,
                       fields=done.revealed.fields, log_index=done.revealed.log_index)
