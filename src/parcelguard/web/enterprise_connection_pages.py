"""The enterprise console's page of one carrier connection (`/connections/{id}`), the company's admin's only:
what the connection is (code, name, adapter, the carrier's API address, in use or paused), a form to change its
name, the carrier's address or the company's account there, and a button to pause or resume it. Both forms call
`connections.change`, as `PATCH /api/v1/connections/{id}` does, with the API's walls: a shipper is refused (403),
another company's connection is 404, as one that does not exist.

A refused change names each field next to it, keeps what was typed but the password and changes nothing. The
company's account at the carrier is sealed and never written back: the username and password fields are empty
on every page but a refused one, where the username typed is kept.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.core.auth import Actor
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.enterprise.platform import connections, employees
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
PAGE = "/connections/{connection_id}"
# The change form's fields by the service's pointers (`/credentials` is named by the field it lacks)
FIELDS = {"/name": "name", "/base_url": "base_url"}
# What `?saved=` may say after a change (anything else: no notice)
SAVED = ("changed", "paused", "resumed")


def _id(text: str) -> uuid.UUID:
    """The connection's id; a malformed one names no connection (the API's 404)."""
    return parse_id(text) or uuid.UUID(int=0)


def _page(request: Request, db_session: Session, actor: Actor, connection_id: uuid.UUID, *, saved: str = "",
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          status_code: int = 200) -> HTMLResponse:
    """The page (403 for a shipper, 404 for another company's connection: raised for `refused`)."""
    company_id = employees.company_of(actor, admin=True)
    connection = connections.get(db_session=db_session, company_id=company_id, connection_id=connection_id)
    t = i18n.translator(i18n.choose(request).lang)
    notice = t(f"enterprise.connection.saved_{saved}") if saved in SAVED else None
    return render(request, "enterprise_connection.html", {
        **page_context(request, actor), "connection": connection, "when": when, "notice": notice,
        "values": values or {"name": connection.name, "base_url": connection.base_url},
        "errors": errors or {}, "not_saved": status_code != 200}, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
def connection_page(request: Request, connection_id: str, actor: EmployeePage, db_session: SessionDep,
                    saved: str = "") -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    try:
        return _page(request, db_session, actor, _id(connection_id), saved=saved[:16])
    except DomainError as exc:
        return refused(request, actor, exc)


def _own(db_session: Session, actor: Actor, connection_id: uuid.UUID) -> uuid.UUID:
    """The admin's company, once the connection is found to be its (403, 404 as `connections.get`)."""
    company_id = employees.company_of(actor, admin=True)
    connections.get(db_session=db_session, company_id=company_id, connection_id=connection_id)
    return company_id


@router.post(PAGE, response_class=HTMLResponse)
def change(request: Request, connection_id: str, actor: EmployeePage, db_session: SessionDep,
           csrf: Annotated[str, Form(max_length=128)] = "", name: Annotated[str, Form(max_length=1000)] = "",
           base_url: Annotated[str, Form(max_length=2000)] = "",
           carrier_username: Annotated[str, Form(max_length=1000)] = "",
           carrier_password: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """`connections.change` with the name, the address and, when either is typed, the account (both or neither):
    a refusal names each field next to it and changes nothing."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    cid = _id(connection_id)
    try:
        company_id = _own(db_session, actor, cid)
    except DomainError as exc:
        return refused(request, actor, exc)
    values = {"name": name.strip(), "base_url": base_url.strip(), "carrier_username": carrier_username.strip()}
    account = values["carrier_username"] or carrier_password
    try:
        connections.change(db_session=db_session, keys=request.app.state.enterprise_keys, company_id=company_id,
                           connection_id=cid, name=values["name"], base_url=values["base_url"],
                           credentials=connections.Credentials(values["carrier_username"], carrier_password)
                           if account else None)
    except DomainError as exc:
        db_session.rollback()
        return _page(request, db_session, actor, cid, values=values,
                     errors=_errors(request, exc, values["carrier_username"], carrier_password),
                     status_code=exc.status)
    return RedirectResponse(f"/connections/{cid}?saved=changed", status_code=303)


def _errors(request: Request, exc: DomainError, username: str, password: str) -> dict[str, str]:
    """The service's errors by the form's fields: the account's next to the half that is missing, or too long."""
    t = i18n.translator(i18n.choose(request).lang)
    errors = {}
    for e in exc.errors:
        if e.pointer != "/credentials":
            errors[FIELDS.get(e.pointer, "name")] = message(request, e.code, e.detail)
        elif not username or not password:
            errors["carrier_username" if not username else "carrier_password"] = t("enterprise.connection.both")
        else:
            errors["carrier_username" if len(username) > 64 else "carrier_password"] = message(request, e.code,
                                                                                               e.detail)
    return errors


@router.post(PAGE + "/active", response_class=HTMLResponse)
def pause_or_resume(request: Request, connection_id: str, actor: EmployeePage, db_session: SessionDep,
                    csrf: Annotated[str, Form(max_length=128)] = "",
                    active: Annotated[str, Form(max_length=8)] = "") -> Response:
    """`connections.change(active=)`: `false` pauses (no quote, no new order), `true` resumes. The state is sent,
    not toggled, so a form sent twice does what it said once."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    cid = _id(connection_id)
    try:
        company_id = _own(db_session, actor, cid)
        wanted = {"true": True, "false": False}.get(active)
        if wanted is None:
            return _page(request, db_session, actor, cid, status_code=422)
        connections.change(db_session=db_session, keys=request.app.state.enterprise_keys, company_id=company_id,
                           connection_id=cid, active=wanted)
    except DomainError as exc:
        db_session.rollback()
        return refused(request, actor, exc)
    return RedirectResponse(f"/connections/{cid}?saved={'resumed' if wanted else 'paused'}", status_code=303)
