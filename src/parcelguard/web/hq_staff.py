"""Staff obligations in the HQ console (/hq/staff): who is due (no current confidentiality agreement or
training, an organisation's clause run out, or one running out within 30 days), with a form on each to put
the signed document on record; the franchisees and third parties with their security clauses. Every
record is an entry of the audit log, linked from the notice. An auditor reads the page and nothing more.

The page calls `accounts.obligations`, as `GET /api/v1/staff/obligations/due`,
`POST /api/v1/staff/{id}/obligations`, `GET|POST /api/v1/organisations`.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.accounts import obligations
from parcelguard.accounts.standing import KINDS, today
from parcelguard.core.auth import Actor, Role
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.web import i18n, session
from parcelguard.web.courier_pages import message_of, translator_of
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
HqPage = Annotated[Actor | None, Depends(session.hq)]
LOGIN = "/hq/login"
FIELD_OF = {"/version": "version", "/signed_on": "signed_on", "/expires_on": "expires_on", "/kind": "kind",
            "/clause/version": "version", "/clause/signed_on": "signed_on", "/clause/expires_on": "expires_on",
            "/name": "name", "/scope": "scope"}


def _officer(actor: Actor | None) -> bool:
    return actor is not None and actor.role == Role.HQ_SECURITY


def _page(request: Request, db_session: Session, actor: Actor, *, notice: str | None = None,
          errors: dict[str, str] | None = None, failed: str | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "hq_staff.html", {
        "due": obligations.due(db_session=db_session, actor=actor),
        "organisations": obligations.list_organisations(db_session=db_session, actor=actor),
        "officer": _officer(actor), "kinds": KINDS, "today": today(), "notice": notice, "errors": errors or {},
        "failed": failed, "csrf": session.csrf_token(request)}, status_code=status_code)


@router.get("/hq/staff", response_class=HTMLResponse)
def staff_page(request: Request, actor: HqPage, db_session: SessionDep, done: str = "") -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    notice = translator_of(request)(f"hq.staff.done.{done}") if done in ("recorded", "organisation") else None
    return _page(request, db_session, actor, notice=notice)


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _problems(request: Request, exc: DomainError, prefix: str) -> dict[str, str]:
    """A refusal's errors by the page's field names (`<prefix>-version`, ...), else under the form."""
    t = translator_of(request)

    def say(code: str, detail: str) -> str:
        key = f"hq.staff.code.{code}"
        return t(key) if key in i18n.ZH else detail

    found = {f"{prefix}-{FIELD_OF[e.pointer]}": say(e.code, e.detail) for e in exc.errors if e.pointer in FIELD_OF}
    return found or {f"{prefix}-form": say(exc.code, message_of(request, exc))}


@router.post("/hq/staff/{user_id}/obligations", response_class=HTMLResponse)
def record(request: Request, user_id: uuid.UUID, actor: HqPage, db_session: SessionDep,
           csrf: Annotated[str, Form(max_length=128)] = "", kind: Annotated[str, Form(max_length=32)] = "",
           version: Annotated[str, Form(max_length=64)] = "", signed_on: Annotated[str, Form(max_length=16)] = "",
           expires_on: Annotated[str, Form(max_length=16)] = "") -> Response:
    """`accounts.obligations.record`, as `POST /api/v1/staff/{id}/obligations`."""
    if not _officer(actor) or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    prefix, t = f"u{user_id.hex[:8]}", translator_of(request)
    signed, expires = _date(signed_on), _date(expires_on)
    if signed is None or expires is None:
        errors = {f"{prefix}-{name}": t("hq.staff.date_format") for name, value in
                  (("signed_on", signed), ("expires_on", expires)) if value is None}
        return _page(request, db_session, actor, errors=errors, failed=prefix, status_code=422)
    try:
        obligations.record(db_session=db_session, keyring=request.app.state.keyring, actor=actor, user_id=user_id,
                           kind=kind, terms=obligations.Terms(version.strip(), signed, expires),
                           request_id=getattr(request.state, "request_id", None))
    except DomainError as exc:
        db_session.rollback()
        return _page(request, db_session, actor, errors=_problems(request, exc, prefix), failed=prefix,
                     status_code=exc.status)
    return RedirectResponse("/hq/staff?done=recorded", status_code=303)


@router.post("/hq/staff/organisations", response_class=HTMLResponse)
def add_organisation(request: Request, actor: HqPage, db_session: SessionDep,
                     csrf: Annotated[str, Form(max_length=128)] = "", kind: Annotated[str, Form(max_length=32)] = "",
                     name: Annotated[str, Form(max_length=400)] = "", version: Annotated[str, Form(max_length=64)] = "",
                     signed_on: Annotated[str, Form(max_length=16)] = "",
                     expires_on: Annotated[str, Form(max_length=16)] = "",
                     scope: Annotated[str, Form(max_length=400)] = "") -> Response:
    """`accounts.obligations.add_organisation`, as `POST /api/v1/organisations`."""
    if not _officer(actor) or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    t = translator_of(request)
    signed, expires = _date(signed_on), _date(expires_on)
    if signed is None or expires is None:
        errors = {f"org-{n}": t("hq.staff.date_format") for n, v in (("signed_on", signed), ("expires_on", expires))
                  if v is None}
        return _page(request, db_session, actor, errors=errors, failed="org", status_code=422)
    try:
        obligations.add_organisation(
            db_session=db_session, keyring=request.app.state.keyring, actor=actor, kind=kind, name=name,
            terms=obligations.Terms(version.strip(), signed, expires),
            scope=[p for p in scope.replace("，", ",").split(",")], request_id=getattr(request.state, "request_id", None))
    except DomainError as exc:
        db_session.rollback()
        return _page(request, db_session, actor, errors=_problems(request, exc, "org"), failed="org",
                     status_code=exc.status)
    return RedirectResponse("/hq/staff?done=organisation", status_code=303)
