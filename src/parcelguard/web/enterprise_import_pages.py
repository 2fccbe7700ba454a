"""The enterprise console's bulk import pages (批量导入, issue 16): `/import` takes a file of orders with the
carrier and the sender (one for the whole file) and imports it with `bulk.import_file`, as
`POST /api/v1/orders:import`, starting the background send as the API does; the company's latest imports are listed under the form, as
`GET /api/v1/imports`; `/imports/{id}` shows the import's
progress (sent of accepted, created, failed, pending), the refused rows by row, column and code, and every row's
result, 50 a page, refreshing itself until the import is done.

A refused file (not an orders file, a missing column) or a bad sender is named next to its field, with the form's
values kept, and nothing is written. Another company's import is answered 404, as one that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.core.auth import Actor
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.enterprise.platform import bulk, connections, employees
from parcelguard.enterprise.platform.bulk_api import send_in_background
from parcelguard.enterprise.platform.bulk_parse import Sender
from parcelguard.enterprise.rates.model import yuan
from parcelguard.enterprise.rates.regions import provinces
from parcelguard.enterprise.rates.sheets import MAX_FILE_BYTES
from parcelguard.web import i18n, session
from parcelguard.web.enterprise_pages import (
    LOGIN,
    EmployeePage,
    message,
    page_context,
    parse_id,
    refused,
    when,
)
from parcelguard.web.enterprise_rates_pages import in_language
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
RECENT_SHOWN = 20  # the company's latest imports under the form, as GET /api/v1/imports
REFUSED_SHOWN = 1000
# The form's fields by the service's pointers (`order_invalid`, `carrier_cannot_take`, `FileTooLarge`)
FIELDS = {"/sender/name": "sender_name", "/sender/phone": "sender_phone", "/sender/address": "sender_address",
          "/sender/province": "sender_province", "/connection_id": "connection_id", "/file": "file"}
LIMITS = {"connection_id": 64, "sender_name": 64, "sender_phone": 32, "sender_address": 200, "sender_province": 32}
Text = Annotated[str, Form(max_length=400)]


def _form(request: Request, actor: Actor, values: dict[str, str], *, errors: dict[str, str] | None = None,
          file_errors: list[str] | None = None, status_code: int = 200) -> HTMLResponse:
    company_id = employees.company_of(actor)
    with request.app.state.sessionmaker() as db_session:
        carriers = connections.active(db_session=db_session, company_id=company_id)
        recent = bulk.listed(db_session=db_session, company_id=company_id, offset=0, limit=RECENT_SHOWN)
    return render(request, "enterprise_import.html", {
        **page_context(request, actor), "values": values, "errors": errors or {}, "file_errors": file_errors or [],
        "recent": recent, "when": when,
        "carrier_options": [(str(c.id), f"{c.code} · {c.name}") for c in carriers],
        "province_options": [(p, p) for p in provinces()]}, status_code=status_code)


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, actor: EmployeePage) -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    return _form(request, actor, {})


@router.post("/import", response_class=HTMLResponse)
async def import_file(request: Request, actor: EmployeePage,
                      csrf: Annotated[str, Form(max_length=128)] = "", connection_id: Text = "",
                      sender_name: Text = "", sender_phone: Text = "", sender_address: Text = "",
                      sender_province: Text = "", file: Annotated[UploadFile | None, File()] = None) -> Response:
    """`bulk.import_file`, as `POST /api/v1/orders:import`; the good rows are sent on in the background. No
    request session (it would hold SQLite's write lock): the service writes in a transaction of its own."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    raw = {"connection_id": connection_id, "sender_name": sender_name, "sender_phone": sender_phone,
           "sender_address": sender_address, "sender_province": sender_province}
    values = {k: v.strip()[:LIMITS[k]] for k, v in raw.items()}
    data = await file.read(MAX_FILE_BYTES + 1) if file is not None else b""
    file_name = (file.filename or "orders") if file is not None else "orders"
    lang = i18n.choose(request).lang
    t = i18n.translator(lang)
    errors = {name: t("code.missing") for name, value in (*values.items(), ("file", data)) if not value}
    chosen = parse_id(values["connection_id"])
    if values["connection_id"] and chosen is None:
        errors["connection_id"] = t("code.missing")
    if errors or chosen is None:
        return await run_in_threadpool(_form, request, actor, values, errors=errors, status_code=422)
    state = request.app.state
    sender = Sender(name=values["sender_name"], phone=values["sender_phone"], address=values["sender_address"],
                    province=values["sender_province"])
    try:
        done = await run_in_threadpool(lambda: bulk.import_file(
            sessionmaker=state.sessionmaker, keys=state.enterprise_keys, actor=actor, connection_id=chosen,
            sender=sender, file_name=file_name, data=data))
    except DomainError as exc:
        if exc.status == 403:
            return refused(request, actor, exc)
        file_errors = []
        for e in exc.errors or []:
            if e.pointer in FIELDS:
                errors.setdefault(FIELDS[e.pointer], message(request, e.code, in_language(e.detail, lang)))
            else:
                file_errors.append(in_language(e.detail, lang))
        if exc.code == "connection_unknown":
            errors["connection_id"] = message(request, exc.code, exc.detail)
        if file_errors or not errors:
            errors["file"] = message(request, exc.code, in_language(exc.detail, lang))
        return await run_in_threadpool(_form, request, actor, values, errors=errors,
                                       file_errors=file_errors, status_code=exc.status)
    job = done.job
    if job.accepted:
        send_in_background(request, job.id, job.company_id)
    return RedirectResponse(f"/imports/{job.id}", status_code=303)


@router.get("/imports/{import_id}", response_class=HTMLResponse)
def progress_page(request: Request, import_id: str, actor: EmployeePage, db_session: SessionDep,
                  page: int = 1) -> Response:
    """The import's progress and rows, as `GET /api/v1/imports/{id}` and `/rows`; 404 for another company's."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    wanted = parse_id(import_id) or uuid.UUID(int=0)
    try:
        company_id = employees.company_of(actor)
        job = bulk.get(db_session=db_session, company_id=company_id, import_id=wanted)
        connection = connections.get(db_session=db_session, company_id=company_id, connection_id=job.connection_id)
    except DomainError as exc:
        return refused(request, actor, exc)
    pages = max(1, -(-job.rows // PAGE_SIZE))
    page = min(max(page, 1), pages)
    refused_rows = [(r.row_number, r.errors) for r in bulk.rows(
        db_session=db_session, company_id=company_id, import_id=job.id, status="refused", offset=0,
        limit=REFUSED_SHOWN)]
    rows = bulk.rows(db_session=db_session, company_id=company_id, import_id=job.id, status=None,
                     offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render(request, "enterprise_import_progress.html", {
        **page_context(request, actor), "job": job, "carrier": connection, "pending": job.accepted - job.sent,
        "refused_rows": refused_rows, "rows": rows, "page": page, "pages": pages, "when": when, "yuan": yuan,
        "code_text": lambda code: message(request, code, code)})
