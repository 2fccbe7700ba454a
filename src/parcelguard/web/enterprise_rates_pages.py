"""The enterprise console's rate tables page (`/carriers/{id}/rates`): a connection's rate table versions, and
for the company's admin the upload of a new one, as `GET|POST /api/v1/connections/{id}/rate-tables`
(`rate_tables.versions`, `rate_tables.import_file`).

A refused file is refused whole: every error of `RateTableInvalid` is listed in a table with its sheet, row and
column (from the error's pointer, `/rates/row/7/column/E`) and what the cell should hold, in the page's language;
the form keeps its values and nothing is written.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.core.auth import Actor
from parcelguard.core.clock import now
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError, FieldError
from parcelguard.enterprise.platform import connections, employees, rate_tables
from parcelguard.enterprise.rates import parse
from parcelguard.enterprise.rates.model import beijing_date
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
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
# The upload form's fields by the service's pointers
UPLOAD_FIELDS = {"/file": "file", "/surcharges": "surcharges", "/version": "version",
                 "/effective_from": "effective_from"}
_POINTER = re.compile(r"^/(?P<sheet>rates|surcharges)?(?:/row/(?P<row>\d+)(?:/column/(?P<column>[A-Z]+))?)?$")
# A detail is "中文 / English" (`rates.sheets.Errors`): the English half starts with a Latin letter.
_HALVES = re.compile(r"\s?/ (?=[A-Za-z])")
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
# What the page's own columns already say: the row, the column and the sheet; the column's header is kept apart.
_PREFIX = {"zh": re.compile(r"^(?:行 \d+(?: 列 [A-Z]+)?|rates|surcharges)(?:（(?P<header>[^）]*)）)?:\s*"),
           "en": re.compile(r"^(?:row \d+(?: column [A-Z]+)?|rates|surcharges)(?: \((?P<header>[^)]*)\))?:\s*")}


@dataclass(frozen=True)
class CellError:
    """One error of a refused file as the page lists it."""

    sheet: str  # rates, surcharges, or "" for the file as a whole
    row: str
    column: str
    header: str
    text: str


def in_language(detail: str, lang: str) -> str:
    """The half of a bilingual detail in `lang`; the whole detail when it has no such halves."""
    for found in _HALVES.finditer(detail):
        zh, en = detail[:found.start()], detail[found.end():]
        if _CJK.search(zh):
            return zh if lang == "zh" else en
    return detail


def cell_error(error: FieldError, lang: str) -> CellError:
    where = _POINTER.match(error.pointer)
    text = in_language(error.detail, lang)
    prefix = _PREFIX[lang].match(text)
    header = ""
    if prefix is not None:
        header, text = prefix.group("header") or "", text[prefix.end():]
    if where is None:
        return CellError("", "", "", header, text)
    return CellError(where.group("sheet") or "", where.group("row") or "", where.group("column") or "", header, text)


def _columns() -> dict[str, list[parse.Column]]:
    return {"rates": list(parse.LANE_COLUMNS), "surcharges": list(parse.SURCHARGE_COLUMNS)}


def _page(request: Request, db_session: Session, actor: Actor, connection_id: uuid.UUID, *, imported: str = "",
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          cells: list[CellError] | None = None, error_count: int = 0, notice: str | None = None,
          status_code: int = 200) -> HTMLResponse:
    company_id = employees.company_of(actor)
    connection = connections.get(db_session=db_session, company_id=company_id, connection_id=connection_id)
    versions = rate_tables.versions(db_session=db_session, company_id=company_id, connection_id=connection_id)
    today = beijing_date(now())
    current = next((v.id for v in versions if v.effective_from <= today), None)  # newest first
    done = next((v for v in versions if v.file_sha256.hex()[:12] == imported), None) if imported else None
    ok = done is not None and notice is None
    if ok:
        assert done is not None
        notice = i18n.translate(i18n.choose(request).lang, "enterprise.rates.imported", version=done.version,
                                lanes=done.lanes, surcharges=done.surcharges)
    return render(request, "enterprise_rates.html", {
        **page_context(request, actor), "connection": connection, "versions": versions, "current": current,
        "values": values or {}, "errors": errors or {}, "cells": cells or [], "error_count": error_count,
        "notice": notice, "ok": ok, "when": when, "columns": _columns(), "today": today},
        status_code=status_code)


@router.get("/carriers/{connection_id}/rates", response_class=HTMLResponse)
def rates_page(request: Request, connection_id: str, actor: EmployeePage, db_session: SessionDep,
               imported: str = "") -> Response:
    """The versions, newest first, as `GET /api/v1/connections/{id}/rate-tables`; 404 for another company's."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    try:
        return _page(request, db_session, actor, _connection_id(connection_id), imported=imported[:12])
    except DomainError as exc:
        return refused(request, actor, exc)


def _connection_id(text: str) -> uuid.UUID:
    found = parse_id(text)
    if found is None:  # a malformed id names no connection: the API's 404
        return uuid.UUID(int=0)
    return found


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@router.post("/carriers/{connection_id}/rates", response_class=HTMLResponse)
async def upload(request: Request, connection_id: str, actor: EmployeePage, db_session: SessionDep,
                 csrf: Annotated[str, Form(max_length=128)] = "", version: Annotated[str, Form(max_length=200)] = "",
                 effective_from: Annotated[str, Form(max_length=32)] = "",
                 file: Annotated[UploadFile | None, File()] = None,
                 surcharges: Annotated[UploadFile | None, File()] = None) -> Response:
    """`rate_tables.import_file`, as `POST /api/v1/connections/{id}/rate-tables` (admin): all or nothing."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    # read as the API reads them: one byte past the limit is enough for the service to refuse the file
    data = await file.read(rate_tables.MAX_FILE_BYTES + 1) if file is not None else b""
    extra = await surcharges.read(rate_tables.MAX_FILE_BYTES + 1) if surcharges is not None else b""
    upload = Upload(version=version.strip(), effective_from=effective_from.strip(), data=data,
                    file_name=(file.filename or "") if file is not None else "", surcharges=extra or None)
    return await run_in_threadpool(_upload, request, db_session, actor, _connection_id(connection_id), upload)


@dataclass(frozen=True)
class Upload:
    version: str
    effective_from: str
    data: bytes
    file_name: str
    surcharges: bytes | None


def _upload(request: Request, db_session: Session, actor: Actor, connection_id: uuid.UUID,
            upload: Upload) -> Response:
    lang = i18n.choose(request).lang
    t = i18n.translator(lang)
    try:
        company_id = employees.company_of(actor, admin=True)
        connections.get(db_session=db_session, company_id=company_id, connection_id=connection_id)
    except DomainError as exc:
        return refused(request, actor, exc)
    values = {"version": upload.version, "effective_from": upload.effective_from}
    effective_from = _date(upload.effective_from)
    errors = {field: t("code.missing") for field, missing in (
        ("file", not upload.data), ("version", not upload.version), ("effective_from", not upload.effective_from))
        if missing}
    if upload.effective_from and effective_from is None:
        errors["effective_from"] = t("enterprise.rates.date_format")
    if errors:
        return _page(request, db_session, actor, connection_id, values=values, errors=errors, status_code=422)
    assert effective_from is not None
    try:
        imported = rate_tables.import_file(
            db_session=db_session, company_id=company_id, connection_id=connection_id, data=upload.data,
            file_name=upload.file_name, version=upload.version, effective_from=effective_from,
            surcharges=upload.surcharges, imported_by=actor.user_id)
    except DomainError as exc:
        db_session.rollback()
        cells = []
        for e in exc.errors:
            if e.pointer in UPLOAD_FIELDS:
                errors[UPLOAD_FIELDS[e.pointer]] = message(request, e.code, in_language(e.detail, lang))
            else:
                cells.append(cell_error(e, lang))
        # the file's errors get the notice above their table; a field's error stands next to the field only
        notice = message(request, exc.code, in_language(exc.detail, lang)) if cells or not errors else None
        return _page(request, db_session, actor, connection_id, values=values, errors=errors, cells=cells,
                     error_count=int(exc.extensions.get("error_count", len(cells))), notice=notice,
                     status_code=exc.status)
    db_session.commit()
    return RedirectResponse(f"/carriers/{connection_id}/rates?imported={imported.file_sha256.hex()[:12]}",
                            status_code=303)
