"""The courier's app on a handheld: sign in on a registered terminal, today's tasks, the courier's own QR
code. Pickup and delivery live in courier_pickup.py and courier_delivery.py.

Every page calls the same service functions as the API and shows what the API would show a courier:
waybill numbers, districts and statuses, masked names; never a phone digit or an ID number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.identity import service as identity
from parcelguard.shipments import service as shipments
from parcelguard.tracking import network
from parcelguard.tracking.service import Event
from parcelguard.web import i18n, session
from parcelguard.web.sign_in import sign_in, sign_out
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
CourierPage = Annotated[Actor | None, Depends(session.courier)]


def translator_of(request: Request) -> Callable[..., str]:
    return i18n.translator(i18n.choose(request).lang)


def message_of(request: Request, exc: DomainError) -> str:
    """A domain error in the page's language: the message catalogue's text for its code, else its own."""
    key = f"code.{exc.code}"
    text = translator_of(request)(key)
    return exc.detail if text == key else text


# -- sign in -------------------------------------------------------------------------------------------------

@router.get("/courier/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "courier_login.html", {"errors": {}, "username": "", "terminal": session.terminal_of(request)})


@router.post("/courier/login", response_class=HTMLResponse)
def login(request: Request, db_session: SessionDep, username: Annotated[str, Form(max_length=64)] = "",
          password: Annotated[str, Form(max_length=256)] = "",
          terminal: Annotated[str, Form(max_length=64)] = "") -> Response:
    """`accounts.service.sign_in` with the terminal, as `POST /api/v1/auth/token` with X-Terminal-Id."""
    done = sign_in(request, db_session, role=Role.COURIER, username=username, password=password, terminal=terminal,
                   wrong_role="courier.login.not_courier", home="/courier", message_of=message_of)
    if isinstance(done, Response):
        return done
    errors = done
    return render(request, "courier_login.html", {"errors": errors, "username": username.strip(),
                                                  "terminal": terminal.strip()}, status_code=422 if errors else 200)


@router.post("/courier/logout")
def logout(request: Request, actor: CourierPage, db_session: SessionDep,
           csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    return sign_out(request, db_session, actor, csrf, "/courier/login")


# -- today's tasks -------------------------------------------------------------------------------------------

def task_rows(db_session: Session, actor: Actor) -> list[dict[str, object]]:
    """The courier's open tasks with what a courier may see of each parcel: number, district, status."""
    tasks = shipments.list_assignments(db_session=db_session, actor=actor, open_only=True)
    assert actor.carrier_id is not None
    parcels = {s.id: s for s in shipments.get_many(db_session=db_session, carrier_id=actor.carrier_id,
                                                    shipment_ids=list(dict.fromkeys(t.shipment_id for t in tasks)))}
    rows = []
    for task in sorted(tasks, key=lambda a: (a.task, a.opened_at)):
        parcel = parcels[task.shipment_id]
        rows.append({"task": task.task, "waybill_no": parcel.waybill_no or "—", "district": parcel.recipient_district,
                     "city": parcel.recipient_city, "status": parcel.status, "opened_at": task.opened_at})
    return rows


@router.get("/courier", response_class=HTMLResponse)
def tasks_page(request: Request, actor: CourierPage, db_session: SessionDep, done: str = "") -> Response:
    if actor is None:
        return session.to_sign_in(request)
    rows = task_rows(db_session, actor)
    notice = translator_of(request)(f"courier.done.{done}") if done in DONE_NOTICES else None
    return render(request, "courier_tasks.html", {
        "tasks": rows, "notice": notice, "csrf": session.csrf_token(request), "username": actor.username,
        "errors": {}})


DONE_NOTICES = frozenset({"delivered", "attempted", "out_for_delivery", "picked_up"})


@router.post("/courier/out", response_class=HTMLResponse)
def out_for_delivery(request: Request, actor: CourierPage, db_session: SessionDep,
                     waybill_no: Annotated[str, Form(max_length=64)] = "",
                     csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """Take a delivery out: the network scan `out_for_delivery`, as `POST /api/v1/scans` records it."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request)
    try:
        network.record(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                       wanted=network.Wanted(event=Event.OUT_FOR_DELIVERY, waybill_no=waybill_no))
    except DomainError as exc:
        db_session.rollback()
        return render(request, "courier_tasks.html", {
            "tasks": task_rows(db_session, actor), "notice": message_of(request, exc),
            "csrf": session.csrf_token(request), "username": actor.username, "errors": {}},
            status_code=exc.status)
    return RedirectResponse("/courier?done=out_for_delivery", status_code=303)


# -- the courier's own QR code -------------------------------------------------------------------------------

@router.get("/courier/qr", response_class=HTMLResponse)
def own_qr(request: Request, actor: CourierPage, db_session: SessionDep) -> Response:
    """The courier's signed QR token (`identity.service.courier_token`, as `POST /couriers/me/qr-token`) as
    an image a sender checks on /check; the page reloads itself a little before the token expires."""
    if actor is None:
        return session.to_sign_in(request)
    issued = identity.courier_token(db_session=db_session, keyring=request.app.state.keyring, actor=actor)
    seconds = max(10, int(issued.expires_at - now().timestamp()) - 30)
    return render(request, "courier_qr.html", {
        "qr": qr_data_uri(issued.token), "expires_at": issued.expires_at, "refresh": seconds,
        "username": actor.username, "csrf": session.csrf_token(request)},
        headers={"Refresh": str(seconds)})


def qr_data_uri(text: str) -> str:
    """A PNG of the QR code as a data: URI (the CSP allows data: images; nothing is fetched or cached)."""
    return str(segno.make_qr(text, error="m").png_data_uri(scale=6, border=4))
