"""The console's bulk-order routes (issue 16): import a file of orders (202, sent on in the background), its
progress, its per-row results, and sending it again. Thin: `bulk` does the rest."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from parcelguard.core.db import SessionDep
from parcelguard.enterprise.platform import bulk, employees
from parcelguard.enterprise.platform.bulk_parse import MAX_ROWS, RowError, Sender
from parcelguard.enterprise.platform.models import OrderImport
from parcelguard.enterprise.platform.orders_api import Employee, adapter_source
from parcelguard.enterprise.platform.rate_tables import FileTooLarge
from parcelguard.enterprise.rates.sheets import MAX_FILE_BYTES

router = APIRouter(tags=["orders"])
log = logging.getLogger(__name__)


class RowErrorOut(BaseModel):
    row: int
    column: str | None = Field(description="The spreadsheet column's letter")
    header: str | None = Field(description="The column's Chinese header")
    code: str
    pointer: str


class RefusedRowOut(BaseModel):
    row: int
    errors: list[RowErrorOut]


class ImportOut(BaseModel):
    import_id: uuid.UUID
    status: Literal["queued", "sending", "done"]
    rows: int
    accepted: int
    refused: int
    refused_rows: list[RefusedRowOut] = Field(description="The first 1,000 refused rows; all of them at /rows")


class ProgressOut(BaseModel):
    import_id: uuid.UUID
    connection_id: uuid.UUID
    file_name: str
    status: Literal["queued", "sending", "done"]
    rows: int
    accepted: int
    refused: int
    sent: int
    created: int
    failed: int
    created_at: datetime
    finished_at: datetime | None


class RowOut(BaseModel):
    row: int
    status: Literal["pending", "created", "failed", "cancelled", "refused"]
    order_id: uuid.UUID | None
    waybill_no: str | None
    price_fen: int | None
    recipient_name: str | None = Field(description="Masked")
    failure_code: str | None
    errors: list[RowErrorOut]


def progress_out(job: OrderImport) -> ProgressOut:
    return ProgressOut(import_id=job.id, connection_id=job.connection_id, file_name=job.file_name,
                       status=job.status,  # type: ignore[arg-type]
                       rows=job.rows, accepted=job.accepted, refused=job.refused, sent=job.sent, created=job.created,
                       failed=job.failed, created_at=job.created_at, finished_at=job.finished_at)


def _error_out(e: RowError) -> RowErrorOut:
    return RowErrorOut.model_validate(e.as_dict())


def send_in_background(request: Request, import_id: uuid.UUID, company_id: uuid.UUID) -> None:
    state, adapter_for = request.app.state, adapter_source(request)

    def run() -> None:
        try:
            bulk.send_import(sessionmaker=state.sessionmaker, keys=state.enterprise_keys, adapter_for=adapter_for,
                             import_id=import_id, company_id=company_id)
        except Exception as exc:  # noqa: BLE001 - a thread's end: logged by type only (never values), resumable
            log.warning("import %s: sending stopped (%s); POST :send resumes it", import_id, type(exc).__name__)

    threading.Thread(target=run, name=f"import-{import_id}", daemon=True).start()


@router.post("/orders:import", response_model=ImportOut, status_code=202,
             summary=f"Import a CSV or XLSX file of up to {MAX_ROWS:,} orders; the good rows are sent on in the "
                     "background",
             responses={422: {"description": "order_file_invalid (the file: encoding, columns, rows); order_invalid "
                                             "(the sender); carrier_cannot_take (no table in force)"}})
async def import_orders(request: Request, actor: Employee, file: Annotated[UploadFile, File()],
                        connection_id: Annotated[uuid.UUID, Form()],
                        sender_name: Annotated[str, Form(max_length=64)],
                        sender_phone: Annotated[str, Form(max_length=32)],
                        sender_address: Annotated[str, Form(max_length=200)],
                        sender_province: Annotated[str, Form(max_length=32)]) -> ImportOut:
    data = await file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise FileTooLarge(f"The file is over {MAX_FILE_BYTES // (1024 * 1024)} MB.", field="/file")
    state = request.app.state
    sender = Sender(name=sender_name, phone=sender_phone, address=sender_address, province=sender_province)
    done = await run_in_threadpool(lambda: bulk.import_file(  # CPU and database work: off the event loop
        sessionmaker=state.sessionmaker, keys=state.enterprise_keys, actor=actor, connection_id=connection_id,
        sender=sender, file_name=file.filename or "orders", data=data))
    job = done.job
    if job.accepted:
        send_in_background(request, job.id, job.company_id)
    return ImportOut(import_id=job.id, status=job.status,  # type: ignore[arg-type]
                     rows=job.rows, accepted=job.accepted, refused=job.refused,
                     refused_rows=[RefusedRowOut(row=n, errors=[_error_out(e) for e in errors])
                                   for n, errors in done.refused[:1000]])


@router.get("/imports", response_model=list[ProgressOut], summary="The company's imports, newest first")
def list_imports(actor: Employee, db_session: SessionDep, offset: Annotated[int, Query(ge=0)] = 0,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[ProgressOut]:
    return [progress_out(job) for job in bulk.listed(db_session=db_session, company_id=employees.company_of(actor),
                                                     offset=offset, limit=limit)]


@router.get("/imports/{import_id}", response_model=ProgressOut, summary="An import's progress")
def import_progress(import_id: uuid.UUID, actor: Employee, db_session: SessionDep) -> ProgressOut:
    return progress_out(bulk.get(db_session=db_session, company_id=employees.company_of(actor), import_id=import_id))


@router.get("/imports/{import_id}/rows", response_model=list[RowOut],
            summary="An import's rows in file order: each one's order, state, and what was wrong (never a value)")
def import_rows(import_id: uuid.UUID, actor: Employee, db_session: SessionDep,
                status: Literal["pending", "created", "failed", "cancelled", "refused"] | None = None,
                offset: Annotated[int, Query(ge=0)] = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[RowOut]:
    found = bulk.rows(db_session=db_session, company_id=employees.company_of(actor), import_id=import_id,
                      status=status, offset=offset, limit=limit)
    return [RowOut(row=r.row_number, status=r.status,  # type: ignore[arg-type]
                   order_id=o.id if o else None, waybill_no=o.waybill_no if o else None,
                   price_fen=o.price_fen if o else None, recipient_name=o.recipient_name_masked if o else None,
                   failure_code=r.failure_code, errors=[RowErrorOut.model_validate(e) for e in r.errors])
            for r in found for o in (r.order,)]


@router.post("/imports/{import_id}:send", response_model=ProgressOut, status_code=202,
             summary="Send an import's waiting orders again (after its carrier stopped answering)")
def send_import(import_id: uuid.UUID, request: Request, actor: Employee, db_session: SessionDep) -> ProgressOut:
    job = bulk.get(db_session=db_session, company_id=employees.company_of(actor), import_id=import_id)
    if job.status != "done":
        send_in_background(request, job.id, job.company_id)
    return progress_out(job)
