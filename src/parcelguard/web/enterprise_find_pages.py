"""The enterprise console's find pages (查件, issue 16): `/find` searches the company's own orders by waybill number,
the recipient's phone or full name, with a stated purpose (`search.find`, as `GET /api/v1/orders:search`), and
answers masked rows; "reveal" shows one order's parties in clear (`search.reveal`, as
`GET /api/v1/orders/{id}/parties`). Both are entries of the access log before they answer; the admin reads it,
newest first and whether its chain holds, on `/access-log` (`access_log.verify` / `listed`); a shipper is refused.

POST forms only: the query (a phone, a name) is never in an address, and it is not written back into the page
either, so the results page holds no personal value; only the reveal page does, once, and it is not stored.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, Response

from parcelguard.core.auth import Actor
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.enterprise.platform import access_log, connections, employees, search
from parcelguard.enterprise.platform.models import Order
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
FIND = "/find"
PURPOSES = ("customer_service", "lost_waybill", "claim", "audit")
NO_STORE = {"Cache-Control": "no-store"}


def _carriers(db_session: Session, actor: Actor) -> dict[uuid.UUID, str]:
    return {c.id: c.code for c in connections.listed(db_session=db_session, company_id=employees.company_of(actor))}


def _find(request: Request, db_session: Session, actor: Actor, *, purpose: str = "",
          errors: dict[str, str] | None = None, found: list[Order] | None = None,
          status_code: int = 200) -> HTMLResponse:
    return render(request, "enterprise_find.html", {
        **page_context(request, actor), "purposes": PURPOSES, "purpose": purpose, "errors": errors or {},
        "found": found, "carriers": _carriers(db_session, actor) if found else {}, "when": when},
        status_code=status_code)


@router.get(FIND, response_class=HTMLResponse)
def find_page(request: Request, actor: EmployeePage, db_session: SessionDep) -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    return _find(request, db_session, actor)


@router.post(FIND, response_class=HTMLResponse)
def find(request: Request, actor: EmployeePage, db_session: SessionDep,
         csrf: Annotated[str, Form(max_length=128)] = "", q: Annotated[str, Form(max_length=64)] = "",
         purpose: Annotated[str, Form(max_length=32)] = "") -> Response:
    """`search.find`: the rows masked, the search logged (in this request's transaction) before the answer."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    t = i18n.translator(i18n.choose(request).lang)
    errors = {name: t("code.missing") for name, value in (("q", q.strip()), ("purpose", purpose)) if not value}
    if errors:
        return _find(request, db_session, actor, purpose=purpose, errors=errors, status_code=422)
    try:
        found = search.find(db_session=db_session, keys=request.app.state.enterprise_keys, actor=actor, query=q,
                            purpose=purpose)
    except DomainError as exc:
        db_session.rollback()
        errors = {e.pointer.strip("/") if e.pointer.strip("/") in ("q", "purpose") else "q":
                  message(request, e.code, e.detail) for e in exc.errors}
        return _find(request, db_session, actor, purpose=purpose, errors=errors, status_code=exc.status)
    return _find(request, db_session, actor, purpose=purpose, found=found.orders)


@router.post("/orders/{order_id}/parties", response_class=HTMLResponse)
def reveal(request: Request, actor: EmployeePage, db_session: SessionDep, order_id: str,
           csrf: Annotated[str, Form(max_length=128)] = "",
           purpose: Annotated[str, Form(max_length=32)] = "") -> Response:
    """`search.reveal`: the order's parties in clear, logged first; the page is never stored (no-store)."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    try:
        seq, parties = search.reveal(db_session=db_session, keys=request.app.state.enterprise_keys, actor=actor,
                                     order_id=parse_id(order_id) or uuid.UUID(int=0), purpose=purpose)
    except DomainError as exc:
        db_session.rollback()
        return refused(request, actor, exc)
    row = db_session.get(Order, parse_id(order_id))
    return render(request, "enterprise_parties.html", {
        **page_context(request, actor), "order": row, "parties": parties, "seq": seq, "purpose": purpose,
        "carriers": _carriers(db_session, actor), "when": when}, headers=NO_STORE)


@router.get("/access-log", response_class=HTMLResponse)
def access_log_page(request: Request, actor: EmployeePage, db_session: SessionDep) -> Response:
    """`access_log.verify` and `listed`, as `GET /api/v1/access-log`: the admin's only (403)."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    try:
        company_id = employees.company_of(actor, admin=True)
    except DomainError as exc:
        return refused(request, actor, exc)
    checked = access_log.verify(db_session=db_session, company_id=company_id)
    return render(request, "enterprise_access_log.html", {
        **page_context(request, actor), "checked": checked, "when": when, "me": actor.user_id,
        "entries": access_log.listed(db_session=db_session, company_id=company_id)})
