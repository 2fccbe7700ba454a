"""The station manager's console (网点): the dispatch board (parcels waiting for a courier, open and late
tasks, assigning one parcel or a whole district), the station's alerts with acknowledge, and the staff
and terminals (who signed in where, whose own ID document is on file for the `courier_own_id` alert and
registering it, retiring an account, registering and revoking terminals, naming a terminal's printer).
Contract customers are in station_customers.py.

Every page calls the service functions the API routes call (`/api/v1/station/*`, `/terminals`,
`/alerts`) and shows what those routes answer a station manager: waybill numbers, districts, statuses,
masked names. A console session is the API's own token in the session cookie, bound to no terminal.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.accounts import service as accounts
from parcelguard.accounts import staff
from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role, forget_cached_actors
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.identity import service as identity
from parcelguard.identity.documents import DocType
from parcelguard.shipments import dispatch
from parcelguard.shipments import service as shipments
from parcelguard.web import i18n, session
from parcelguard.web.courier_pages import message_of, translator_of
from parcelguard.web.sign_in import sign_in, sign_out
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
ManagerPage = Annotated[Actor | None, Depends(session.station_manager)]
LOGIN = "/station/login"
DONE = frozenset({"assigned", "district", "acknowledged", "retired", "terminal", "revoked", "printer", "document"})
DOC_TYPES = [t.value for t in DocType if t != DocType.USCC]


@router.get(LOGIN, response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "courier_login.html", {"console": "station", "errors": {}, "username": "",
                                                  "terminal": ""})


@router.post(LOGIN, response_class=HTMLResponse)
def login(request: Request, db_session: SessionDep, username: Annotated[str, Form(max_length=64)] = "",
          password: Annotated[str, Form(max_length=256)] = "") -> Response:
    """`accounts.service.sign_in` without a terminal, as `POST /api/v1/auth/token`; station managers only."""
    done = sign_in(request, db_session, role=Role.STATION_MANAGER, username=username, password=password,
                   terminal=None, wrong_role="station.login.not_manager", home="/station", message_of=message_of)
    if isinstance(done, Response):
        return done
    errors = done
    return render(request, "courier_login.html", {"console": "station", "errors": errors,
                                                  "username": username.strip(), "terminal": ""}, status_code=422)


@router.post("/station/logout")
def logout(request: Request, actor: ManagerPage, db_session: SessionDep,
           csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    return sign_out(request, db_session, actor, csrf, LOGIN)


def station_message(request: Request, code: str, detail: str) -> str:
    """An error code in the page's language: the console's own message (`station.code.*`), else the shared
    catalogue's (`code.*`), else the service's own text."""
    t = translator_of(request)
    for key in (f"station.code.{code}", f"code.{code}"):
        text = t(key)
        if text != key:
            return text
    return detail


# -- the dispatch board -----------------------------------------------------------------------------------

def _board_page(request: Request, db_session: Session, actor: Actor, notice: str | None = None, ok: bool = False,
                status_code: int = 200) -> HTMLResponse:
    late = timedelta(hours=request.app.state.settings.task_late_hours)
    people = staff.station_staff(db_session=db_session, actor=actor)
    return render(request, "station_board.html", {
        "board": dispatch.board(db_session=db_session, actor=actor, late_after=late),
        "couriers": [m for m in people if m.role == Role.COURIER and m.active],
        "names": {m.user_id: m.username for m in people},
        "alerts": audit.list_alerts(db_session=db_session, actor=actor, open_only=True),
        "known_alerts": {k for k in i18n.ZH if k.startswith("alert.")},
        "notice": notice, "ok": ok, "csrf": session.csrf_token(request)}, status_code=status_code)


@router.get("/station", response_class=HTMLResponse)
def board_page(request: Request, actor: ManagerPage, db_session: SessionDep, done: str = "", n: int = 0) -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    notice = translator_of(request)(f"station.done.{done}", n=n) if done in DONE else None
    return _board_page(request, db_session, actor, notice, ok=True)


def _act(request: Request, db_session: Session, actor: Actor | None, csrf: str, done: str, back: str,
         action: Any) -> Response:
    """Run `action` for a signed-in manager with a good CSRF token; back to the page with the outcome."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    try:
        n = action()
    except DomainError as exc:
        db_session.rollback()
        page = _board_page if back == "/station" else _staff_page
        return page(request, db_session, actor, message_of(request, exc), status_code=exc.status)
    return RedirectResponse(f"{back}?done={done}&n={n or 0}", status_code=303)


@router.post("/station/assign")
def assign(request: Request, actor: ManagerPage, db_session: SessionDep,
           shipment_id: Annotated[uuid.UUID, Form()], courier_id: Annotated[uuid.UUID, Form()],
           csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`shipments.service.assign`, as `POST /api/v1/shipments/{id}/assign`."""
    return _act(request, db_session, actor, csrf, "assigned", "/station", lambda: shipments.assign(
        db_session=db_session, actor=actor, shipment_id=shipment_id, courier_id=courier_id,
        task=shipments.Task.DELIVERY) and 1)


@router.post("/station/assign-district")
def assign_district(request: Request, actor: ManagerPage, db_session: SessionDep,
                    district: Annotated[str, Form(max_length=32)], courier_id: Annotated[uuid.UUID, Form()],
                    csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`shipments.dispatch.assign_district`, as `POST /api/v1/station/assignments:district`."""
    return _act(request, db_session, actor, csrf, "district", "/station", lambda: dispatch.assign_district(
        db_session=db_session, actor=actor, district=district, courier_id=courier_id).assigned)


@router.post("/station/alerts/{alert_id}/ack")
def acknowledge(request: Request, alert_id: uuid.UUID, actor: ManagerPage, db_session: SessionDep,
                csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    return _act(request, db_session, actor, csrf, "acknowledged", "/station", lambda: audit.acknowledge_alert(
        db_session=db_session, actor=actor, alert_id=alert_id) and 1)


# -- staff and terminals ------------------------------------------------------------------------------------

def _staff_page(request: Request, db_session: Session, actor: Actor, notice: str | None = None, ok: bool = False,
                status_code: int = 200, new_terminal: str = "", errors: dict[str, str] | None = None,
                values: dict[str, str] | None = None) -> HTMLResponse:
    people = staff.station_staff(db_session=db_session, actor=actor)
    assert actor.carrier_id is not None
    return render(request, "station_staff.html", {
        "staff": people, "doc_types": DOC_TYPES,
        "documents": identity.staff_documents_on_file(db_session=db_session, carrier_id=actor.carrier_id,
                                                      user_ids=[m.user_id for m in people]),
        "terminals": accounts.list_terminals(db_session=db_session, actor=actor),
        "new_terminal": new_terminal, "notice": notice, "ok": ok, "errors": errors or {}, "values": values or {},
        "csrf": session.csrf_token(request)}, status_code=status_code)


@router.get("/station/staff", response_class=HTMLResponse)
def staff_page(request: Request, actor: ManagerPage, db_session: SessionDep, done: str = "", n: int = 0,
               terminal: str = "") -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    notice = translator_of(request)(f"station.done.{done}", n=n) if done in DONE else None
    return _staff_page(request, db_session, actor, notice, ok=True, new_terminal=terminal)


@router.post("/station/staff/{user_id}/retire")
def retire(request: Request, user_id: uuid.UUID, actor: ManagerPage, db_session: SessionDep,
           csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`accounts.staff.set_active`, as `POST /api/v1/users/{id}/retire`: every token of the account stops."""
    response = _act(request, db_session, actor, csrf, "retired", "/station/staff", lambda: staff.set_active(
        db_session=db_session, actor=actor, user_id=user_id, active=False) and 1)
    forget_cached_actors(request)
    return response


@router.post("/station/staff/{user_id}/document")
def register_document(request: Request, user_id: uuid.UUID, actor: ManagerPage, db_session: SessionDep,
                      doc_type: Annotated[str, Form(max_length=32)] = "",
                      doc_number: Annotated[str, Form(max_length=64)] = "",
                      csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`identity.service.register_staff_document`, as `PUT /api/v1/staff/{id}/document`: the staff member's
    own document, kept as a blind index only. The number typed is never shown again, not even after an
    error (the error is shown next to that member's form)."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    field = f"doc_number:{user_id}"
    if not doc_number.strip():
        error, status = translator_of(request)("code.missing"), 422
    else:
        try:
            identity.register_staff_document(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                             user_id=user_id, doc_type=doc_type or None, number=doc_number)
            return RedirectResponse("/station/staff?done=document", status_code=303)
        except DomainError as exc:
            db_session.rollback()
            if any(e.pointer == "/type" for e in exc.errors):
                field = f"doc_type:{user_id}"
            error, status = station_message(request, exc.code, exc.detail), exc.status
    # another station's account (404) has no form on the page: its error is the page's notice
    return _staff_page(request, db_session, actor, error if status == 404 else None, status_code=status,
                       errors={field: error}, values={f"doc_type:{user_id}": doc_type})


@router.post("/station/terminals")
def register_terminal(request: Request, actor: ManagerPage, db_session: SessionDep,
                      serial: Annotated[str, Form(max_length=64)] = "", label: Annotated[str, Form(max_length=200)] = "",
                      csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`accounts.service.register_terminal`, as `POST /api/v1/terminals`; the page then shows its id, which
    the courier types once at sign-in on it."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    t = translator_of(request)
    errors = {name: t("code.missing") for name, value in (("serial", serial), ("label", label)) if not value.strip()}
    if not errors:
        try:
            terminal = accounts.register_terminal(db_session=db_session, actor=actor, serial=serial, label=label)
            return RedirectResponse(f"/station/staff?done=terminal&terminal={terminal.id}", status_code=303)
        except DomainError as exc:
            db_session.rollback()
            errors = {"serial": message_of(request, exc)}
    return _staff_page(request, db_session, actor, status_code=422, errors=errors,
                       values={"serial": serial, "label": label})


@router.post("/station/terminals/{terminal_id}/revoke")
def revoke_terminal(request: Request, terminal_id: uuid.UUID, actor: ManagerPage, db_session: SessionDep,
                    csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    response = _act(request, db_session, actor, csrf, "revoked", "/station/staff", lambda: accounts.revoke_terminal(
        db_session=db_session, actor=actor, terminal_id=terminal_id) and 1)
    forget_cached_actors(request)  # which cached tokens were bound to it is not known here: drop all
    return response


@router.post("/station/terminals/{terminal_id}/printer")
def set_printer(request: Request, terminal_id: uuid.UUID, actor: ManagerPage, db_session: SessionDep,
                address: Annotated[str, Form(max_length=64)] = "",
                csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`accounts.service.set_printer`, as `PUT /api/v1/terminals/{id}/printer` (empty: no printer)."""
    return _act(request, db_session, actor, csrf, "printer", "/station/staff", lambda: accounts.set_printer(
        db_session=db_session, actor=actor, terminal_id=terminal_id, address=address.strip() or None) and 1)
