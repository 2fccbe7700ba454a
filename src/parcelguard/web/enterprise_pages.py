"""The enterprise console's pages (企业版, issue 16), on the console's own app with its own sign-in, as the
regulator's console is on its platform: a company's employees sign in (`/login`), see the company's carrier
connections (`/`), and the admin connects another carrier there. The rate tables are on
`enterprise_rates_pages`, the compare page on `enterprise_quote_pages`.

Every page calls the same functions as the console's API (`employees`, `connections`, `rate_tables`,
`quotes`), for the same employees with the same walls: a shipper gets no form that changes anything and is
refused (403) as the API refuses them; another company's connection is answered 404, as one that does not
exist. The carrier password typed into the form is sealed and never written back into a page.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.core.auth import Actor, Role, forget_cached_actors
from parcelguard.core.clock import now
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.enterprise.platform import connections, employees, rate_tables
from parcelguard.enterprise.rates.model import BEIJING, beijing_date
from parcelguard.web import i18n, session
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
EmployeePage = Annotated[Actor | None, Depends(session.console(Role.ADMIN, Role.ENTERPRISE))]
LOGIN = "/login"
HOME = "/"
# The connection form's fields by the service's pointers (the password is named by its own field)
CONNECTION_FIELDS = {"/code": "code", "/name": "name", "/adapter": "adapter", "/base_url": "base_url"}


def when(moment: datetime | None) -> str:
    """A time as the console shows it: Beijing time, to the minute."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if moment else "—"


def message(request: Request, code: str, detail: str) -> str:
    """An error code in the page's language: this console's message, else the shared catalogue's, else the
    service's own text."""
    t = i18n.translator(i18n.choose(request).lang)
    for key in (f"enterprise.code.{code}", f"code.{code}"):
        if key in i18n.ZH:
            return str(t(key))
    return detail


def is_admin(actor: Actor) -> bool:
    return actor.role == Role.ADMIN


def page_context(request: Request, actor: Actor) -> dict[str, object]:
    """What the nav of every signed-in page needs."""
    return {"csrf": session.csrf_token(request), "username": actor.username, "admin": is_admin(actor)}


def refused(request: Request, actor: Actor, exc: DomainError) -> HTMLResponse:
    """A refusal as a page with the API's status: 403 `role_not_allowed`, 404 `connection_unknown`."""
    return render(request, "enterprise_error.html", {
        **page_context(request, actor), "message": message(request, exc.code, exc.detail), "code": exc.code},
        status_code=exc.status)


def parse_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


# -- sign in and out ---------------------------------------------------------------------------------------

@router.get(LOGIN, response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "enterprise_login.html", {"errors": {}, "username": ""})


@router.post(LOGIN, response_class=HTMLResponse)
def login(request: Request, db_session: SessionDep, username: Annotated[str, Form(max_length=64)] = "",
          password: Annotated[str, Form(max_length=256)] = "") -> Response:
    """`employees.sign_in`, as the console's `POST /api/v1/auth/token`: a wrong part is one answer (422 here,
    the page's status for a refused form); a locked username is 429 with `Retry-After`, as the API answers."""
    t = i18n.translator(i18n.choose(request).lang)
    errors = {name: t(key) for name, value, key in (("username", username.strip(), "courier.login.username_missing"),
                                                    ("password", password, "courier.login.password_missing"))
              if not value}
    status, headers = 422, {}
    if not errors:
        settings = request.app.state.settings
        try:
            issued = employees.sign_in(db_session=db_session, username=username, password=password,
                                       token_ttl=timedelta(seconds=settings.token_ttl_seconds),
                                       max_failures=settings.login_max_failures,
                                       lockout=timedelta(seconds=settings.login_lockout_seconds))
            db_session.commit()
        except DomainError as exc:
            db_session.rollback()
            errors = {"password": message(request, exc.code, exc.detail)}
            if exc.status == 429:
                status, headers = 429, {k: v for k, v in exc.headers.items() if k == "Retry-After"}
        else:
            response = RedirectResponse(HOME, status_code=303)
            session.start(response, request, token=issued.token, expires_at=issued.expires_at)
            return response
    return render(request, "enterprise_login.html", {"errors": errors, "username": username.strip()},
                  status_code=status, headers=headers)


@router.post("/logout")
def logout(request: Request, actor: EmployeePage, db_session: SessionDep,
           csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`employees.sign_out`, as `POST /api/v1/auth/logout`: the token is revoked, the cookie dropped."""
    if actor is not None and session.csrf_ok(request, csrf):
        employees.sign_out(db_session=db_session, actor=actor)
        forget_cached_actors(request, session.token_of(request))
    response = RedirectResponse(LOGIN, status_code=303)
    session.end(response)
    return response


# -- the company's carrier connections --------------------------------------------------------------------

def _home(request: Request, db_session: Session, actor: Actor, *, added: str = "",
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          status_code: int = 200) -> HTMLResponse:
    company_id = employees.company_of(actor)
    listed = connections.listed(db_session=db_session, company_id=company_id)
    in_force = rate_tables.in_force(db_session=db_session, company_id=company_id, on=beijing_date(now()))
    # After an addition (?added=<code>): named only if the company has it, so nothing typed into the
    # address is written back into the page.
    done = next((c for c in listed if c.code == added), None)
    t = i18n.translator(i18n.choose(request).lang)
    notice = t("enterprise.home.added", code=done.code, name=done.name) if done is not None else None
    return render(request, "enterprise_home.html", {
        **page_context(request, actor), "connections": listed,
        "in_force": {cid: table.version for cid, table in in_force.items()}, "adapters": sorted(connections.ADAPTERS),
        "values": values or {"adapter": "parcelguard"}, "errors": errors or {}, "notice": notice, "when": when},
        status_code=status_code)


@router.get(HOME, response_class=HTMLResponse)
def home(request: Request, actor: EmployeePage, db_session: SessionDep, added: str = "") -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    return _home(request, db_session, actor, added=added[:16])


@router.get("/carriers")
def carriers() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.post("/carriers", response_class=HTMLResponse)
def add_connection(request: Request, actor: EmployeePage, db_session: SessionDep,
                   csrf: Annotated[str, Form(max_length=128)] = "", code: Annotated[str, Form(max_length=200)] = "",
                   name: Annotated[str, Form(max_length=1000)] = "",
                   adapter: Annotated[str, Form(max_length=200)] = "parcelguard",
                   base_url: Annotated[str, Form(max_length=2000)] = "",
                   carrier_username: Annotated[str, Form(max_length=1000)] = "",
                   carrier_password: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """`connections.add`, as `POST /api/v1/connections` (admin): a refusal names each field next to it, writes
    nothing, and keeps every value but the password."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    try:
        company_id = employees.company_of(actor, admin=True)
    except DomainError as exc:
        return refused(request, actor, exc)
    t = i18n.translator(i18n.choose(request).lang)
    values = {"code": code.strip(), "name": name.strip(), "adapter": adapter, "base_url": base_url.strip(),
              "carrier_username": carrier_username.strip()}
    errors = {field: t("code.missing") for field, value in (
        ("code", values["code"]), ("name", values["name"]), ("base_url", values["base_url"]),
        ("carrier_username", values["carrier_username"]), ("carrier_password", carrier_password)) if not value}
    if errors:
        return _home(request, db_session, actor, values=values, errors=errors, status_code=422)
    try:
        added = connections.add(db_session=db_session, keys=request.app.state.enterprise_keys, company_id=company_id,
                                code=values["code"], name=values["name"], adapter=adapter,
                                base_url=values["base_url"],
                                credentials=connections.Credentials(values["carrier_username"], carrier_password))
    except DomainError as exc:
        db_session.rollback()
        for e in exc.errors:
            text = message(request, e.code, e.detail)
            if e.pointer == "/credentials":
                errors["carrier_username" if len(values["carrier_username"]) > 64 else "carrier_password"] = text
            else:
                errors[CONNECTION_FIELDS.get(e.pointer, "code")] = text
        return _home(request, db_session, actor, values=values, errors=errors, status_code=exc.status)
    return RedirectResponse(f"{HOME}?added={added.code}", status_code=303)
