"""Delivering on a handheld: scan the label's QR code, see the address through the gate, call the recipient
with one tap through the virtual number, record what happened (delivered, not home, refused, address
wrong).

The scan is `tracking.flows.scan` (event `delivery`), as `POST /api/v1/scans` runs it: the gate decides and
logs before the address is shown, and a label the courier holds no delivery for is answered as a label of
no parcel. The call button is a `tel:` link to the virtual number with the extension as DTMF after pauses:
the recipient's phone never reaches the handheld.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.core.auth import Actor
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.tracking import flows, network
from parcelguard.tracking.service import Event
from parcelguard.web import forms, qr_upload, session
from parcelguard.web.courier_pages import message_of, translator_of
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
CourierPage = Annotated[Actor | None, Depends(session.courier)]
OUTCOMES = ("delivered", "not_home", "refused", "address_wrong")
_FORM_BYTES = qr_upload.MAX_IMAGE_BYTES + 64 * 1024


def _scan_page(request: Request, errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    return render(request, "courier_scan.html", {"errors": errors, "csrf": session.csrf_token(request),
                                                 "max_photo_mib": qr_upload.MAX_IMAGE_BYTES // (1024 * 1024)},
                  status_code=status_code)


@router.get("/courier/scan", response_class=HTMLResponse)
def scan_page(request: Request, actor: CourierPage) -> Response:
    if actor is None:
        return session.to_sign_in(request)
    return _scan_page(request, {})


@router.post("/courier/scan", response_class=HTMLResponse)
async def scan(request: Request, actor: CourierPage, db_session: SessionDep) -> Response:
    if actor is None:
        return session.to_sign_in(request)
    t = translator_of(request)
    try:
        form = await forms.read(request, max_bytes=_FORM_BYTES, max_files=1)
        if not session.csrf_ok(request, form.get(session.CSRF_FIELD)):
            return session.to_sign_in(request)
        token = await forms.qr_text(form, text_field="token", photo_field="photo")
    except forms.FieldProblem as problem:
        return _scan_page(request, {problem.name: t(problem.key, **problem.values)}, problem.status)
    if token is None:
        return _scan_page(request, {"token": t("courier.scan.missing")}, 422)
    return await _deliver_view(request, actor, db_session, token)


async def _deliver_view(request: Request, actor: Actor, db_session: Session, token: str) -> Response:
    settings = request.app.state.settings

    def run() -> flows.DeliveryScan:
        return flows.scan(db_session=db_session, keyring=request.app.state.keyring, actor=actor, token=token,
                          event=Event.DELIVERY, grace=timedelta(hours=settings.binding_grace_hours),
                          request_id=getattr(request.state, "request_id", None))

    try:
        done = await run_in_threadpool(run)
    except DomainError as exc:
        db_session.rollback()
        return _scan_page(request, {"token": message_of(request, exc)}, exc.status)
    call = done.call
    return render(request, "courier_delivery.html", {
        "scan": done, "token": token, "csrf": session.csrf_token(request), "outcomes": OUTCOMES,
        "tel": None if call is None else "tel:" + call.dial.replace(" ", ""),
    })


@router.post("/courier/outcome", response_class=HTMLResponse)
async def outcome(request: Request, actor: CourierPage, db_session: SessionDep) -> Response:
    """Delivered: `flows.scan` event `delivered` (the task closes, the virtual number's grace period
    starts). Otherwise a failed attempt with its reason (`network.record`, event `attempted`)."""
    if actor is None:
        return session.to_sign_in(request)
    form = await forms.read(request, max_bytes=64 * 1024, max_files=0)
    if not session.csrf_ok(request, form.get(session.CSRF_FIELD)):
        return session.to_sign_in(request)
    token, result = form.get("token"), form.get("outcome")
    if result not in OUTCOMES or not token:
        return _scan_page(request, {"token": translator_of(request)("courier.scan.missing")}, 422)
    settings = request.app.state.settings

    def run() -> None:
        if result == "delivered":
            flows.scan(db_session=db_session, keyring=request.app.state.keyring, actor=actor, token=token,
                       event=Event.DELIVERED, grace=timedelta(hours=settings.binding_grace_hours),
                       request_id=getattr(request.state, "request_id", None))
        else:
            network.record(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                           wanted=network.Wanted(event=Event.ATTEMPTED, token=token, reason=result))

    try:
        await run_in_threadpool(run)
    except DomainError as exc:
        db_session.rollback()
        return _scan_page(request, {"token": message_of(request, exc)}, exc.status)
    return RedirectResponse(f"/courier?done={'delivered' if result == 'delivered' else 'attempted'}", status_code=303)
