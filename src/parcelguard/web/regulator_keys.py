"""The regulator's console: the registered carriers and their batch-signing keys (`/carriers`), and revoking
a key with a stated reason. The same functions as `GET /api/v1/carriers` and
`POST /api/v1/carriers/{code}/keys/{key_id}/revoke` (`platform.carriers`), for the same officials, signed in
as on the rest of the console (`regulator_pages`).

A revocation asks for a reason and for the key id typed again, so a slip of the mouse on the wrong row
revokes nothing; both are checked on the server (no script: the CSP allows none inline). Registering a key
stays with the command line, where the carrier's public key arrives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.regulator.platform import carriers
from parcelguard.regulator.platform.figures import BEIJING
from parcelguard.web import i18n, session
from parcelguard.web.regulator_pages import LOGIN, OfficialPage
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "/carriers"


def when(moment: datetime | None) -> str:
    """A time as the console shows it: Beijing time, to the minute."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if moment else "—"


def message(request: Request, code: str, detail: str) -> str:
    """An error code in the page's language: this console's message, else the shared catalogue's, else the
    service's own text."""
    t = i18n.translator(i18n.choose(request).lang)
    for key in (f"regulator.code.{code}", f"code.{code}"):
        text = t(key)
        if text != key:
            return text
    return detail


def _page(request: Request, db_session: Session, *, revoked: str = "", notice: str | None = None,
          errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
          status_code: int = 200) -> HTMLResponse:
    listed = carriers.list_carriers(db_session=db_session)
    t = i18n.translator(i18n.choose(request).lang)
    ok = False
    # After a revocation (?revoked=<key id>): named only if the listing holds it revoked, so nothing typed
    # into the address is written back into the page.
    done = next(((c, k) for c in listed for k in c.keys if k.key_id == revoked and not k.active), None)
    if notice is None and done is not None:
        carrier, key = done
        notice, ok = t("regulator.carriers.done", key_id=key.key_id, carrier=carrier.code), True
        if carrier.active_keys == 0:
            notice += " " + t("regulator.carriers.done_last", carrier=carrier.code)
    return render(request, "regulator_carriers.html", {
        "carriers": listed, "errors": errors or {}, "values": values or {}, "notice": notice, "ok": ok,
        "when": when, "csrf": session.csrf_token(request)}, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
def carriers_page(request: Request, actor: OfficialPage, db_session: SessionDep, revoked: str = "") -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    return _page(request, db_session, revoked=revoked[:16])


@router.post(PAGE + "/{code}/keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, code: str, key_id: str, actor: OfficialPage, db_session: SessionDep,
           reason: Annotated[str, Form(max_length=2000)] = "", confirm: Annotated[str, Form(max_length=64)] = "",
           csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`carriers.revoke`, as `POST /api/v1/carriers/{code}/keys/{key_id}/revoke`, once the reason is given and
    the key id typed again; recorded with the official's id. An error shows next to that key's field."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    t = i18n.translator(i18n.choose(request).lang)
    errors: dict[str, str] = {}
    if not reason.strip():
        errors[f"reason:{key_id}"] = t("code.missing")
    if confirm.strip().lower() != key_id:
        errors[f"confirm:{key_id}"] = t("regulator.carriers.confirm_mismatch")
    values = {f"reason:{key_id}": reason[:200]}
    if errors:
        return _page(request, db_session, errors=errors, values=values, status_code=422)
    try:
        carriers.revoke(db_session=db_session, code=code, key_id=key_id, reason=reason, official_id=actor.user_id)
    except DomainError as exc:
        db_session.rollback()
        text = message(request, exc.code, exc.detail)
        if exc.code == "reason_format":
            return _page(request, db_session, errors={f"reason:{key_id}": text}, values=values,
                         status_code=exc.status)
        # an unknown carrier or key, or one revoked meanwhile (the page now shows by whom): the page's notice
        return _page(request, db_session, notice=text, status_code=exc.status)
    return RedirectResponse(f"{PAGE}?revoked={key_id}#carrier-{code}", status_code=303)
