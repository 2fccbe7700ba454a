"""The sender's real-name QR code (step 3 of register_pages.py): a fresh token from
`identity.service.refresh_realname_token`, as POST /api/v1/public/carriers/{carrier}/realname/{id}/token
gives it, with the refresh secret from the registration's cookie (register_pages.py says why it lives
there), shown as a QR image; the page reloads itself a minute before the token expires."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from parcelguard.accounts import service as accounts
from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.core.errors import DomainError, NotFound
from parcelguard.identity import service as identity_service
from parcelguard.identity.api import REFRESH_LIMITS
from parcelguard.web.courier_pages import qr_data_uri
from parcelguard.web.register_pages import (
    MIN_REFRESH_SECONDS,
    REFRESH_MARGIN_SECONDS,
    _count,
    _forget,
    _message,
    _registration_id,
    _remembered,
    _t,
)
from parcelguard.web.templating import render
from parcelguard.web.track_pages import TIME_FORMAT, beijing

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Shown:
    """What the QR page shows: the token as an image, when it expires, when the page reloads."""

    qr: str  # a data: URI of the PNG
    expires_at: str  # yyyy-mm-dd HH:MM, Beijing time
    expires_iso: str
    refresh: int  # seconds
    carrier_name: str


@router.get("/register/{carrier}/{registration_id}/qr", response_class=HTMLResponse)
def qr_page(request: Request, carrier: str, registration_id: str) -> Response:
    """A fresh token (`refresh_realname_token`, as POST .../realname/{id}/token) with the secret from the
    cookie, as a QR code for the courier; the page reloads itself before the token expires."""
    t = _t(request)
    rid = _registration_id(registration_id)
    remembered = _remembered(request)
    if rid is None or remembered is None or remembered[0] != rid:
        return _qr_page(request, carrier, None, notice=t("register.qr_missing"), status_code=404)
    wait = _count(request, REFRESH_LIMITS)  # counted only when there is a secret to try, before the session
    if wait is not None:
        return _qr_page(request, carrier, None, notice=t("code.rate_limited", seconds=wait), status_code=429,
                        headers={"Retry-After": str(wait), "Refresh": str(wait)})
    try:
        shown = _refresh(request, carrier, rid, remembered[1])
    except DomainError as exc:
        response = _qr_page(request, carrier, None, notice=_message(t, exc.code, exc.detail),
                            status_code=exc.status)
        if isinstance(exc, NotFound):
            _forget(response, carrier)  # a secret that opens nothing is no use to keep
        return response
    return _qr_page(request, carrier, shown, headers={"Refresh": str(shown.refresh)})


def _refresh(request: Request, carrier: str, rid: uuid.UUID, secret: str) -> Shown:
    state = request.app.state
    with state.sessionmaker() as session:
        db.begin_write(session)  # the carrier's signing key may be made on first use
        issued = identity_service.refresh_realname_token(db_session=session, keyring=state.keyring,
                                                         carrier_slug=carrier, registration_id=rid, secret=secret)
        found = accounts.get_carrier_by_slug(db_session=session, slug=carrier)
        session.commit()
    expires = beijing(datetime.fromtimestamp(issued.expires_at, UTC))
    refresh = max(MIN_REFRESH_SECONDS, issued.expires_at - int(now().timestamp()) - REFRESH_MARGIN_SECONDS)
    return Shown(qr=qr_data_uri(issued.token), expires_at=expires.strftime(TIME_FORMAT),
                 expires_iso=expires.isoformat(timespec="minutes"), refresh=refresh,
                 carrier_name=found.name if found else carrier)


def _qr_page(request: Request, carrier: str, shown: Shown | None, *, notice: str | None = None,
             status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "register_qr.html", {"carrier": carrier, "shown": shown, "notice": notice},
                  status_code=status_code, headers=headers)
