"""Incidents in the HQ console (/hq/incidents, issue 14): the carrier's incidents, active ones first, filtered by
status, and a form to open one by hand (an alert on /hq opens one with its button); one incident with its steps
as a timeline, the accounts it concerns (username, role, enabled or disabled: never a name), the assessment's
counts, and the next steps: contain (behind a confirm step), assess, remedy (action codes in words and a note),
report to the regulator, dismiss with a reason; once reported, the report's state and its PDF. HQ security
acts; an auditor reads the same page without a button, as the API lets them. (The admin acts by the API: the HQ
console admits only those its sign-in takes, `session.hq`.)

The page calls `incidents.service` and `incidents.reporting`, as `GET|POST /api/v1/incidents`,
`POST /api/v1/incidents/{id}/accounts`, `POST /api/v1/incidents/{id}:contain|:assess|:remedy|:report|:dismiss`
and `GET /api/v1/incidents/{id}/report.pdf`. A refused text is never written back into the page when it looks
like personal data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.core.auth import Actor, Role, forget_cached_actors
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.core.logging import redact_text
from parcelguard.incidents import opening, pdf, reporting, service
from parcelguard.regulator.incident_protocol import MAX_TEXT, REMEDY_ACTIONS
from parcelguard.web import i18n, session
from parcelguard.web.courier_pages import message_of, translator_of
from parcelguard.web.templating import apply_security_headers, render

router = APIRouter(include_in_schema=False)
HqPage = Annotated[Actor | None, Depends(session.hq)]
LOGIN = "/hq/login"
PAGE = "/hq/incidents"
FILTERS = ("", "active", *service.STATUSES)
DONE = frozenset({"opened", "held", "accounts", "contained", "assessed", "remedied", "reported", "dismissed"})
FIELD_OF = {"/summary": "summary", "/accounts": "accounts", "/alert_id": "alert", "/actions": "actions",
            "/note": "note", "/reason": "reason"}
SEPARATORS = re.compile(r"[\s,，、;；]+")
TEXT_LIMIT = 2 * MAX_TEXT  # longer than the service takes, so that it, not the form parser, says "too long"
STEPS = ("opened", "contained", "assessed", "remedied", "reported", "dismissed")
Text = Annotated[str, Form(max_length=TEXT_LIMIT)]
Csrf = Annotated[str, Form(max_length=128)]


def _acts(actor: Actor | None) -> bool:
    return actor is not None and actor.role in service.ACTORS


def when(moment: datetime | str | None) -> str:
    """A time as the console shows it: Beijing time, to the minute."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment is None:
        return "—"
    return (moment.astimezone(UTC) + opening.BEIJING).strftime("%Y-%m-%d %H:%M")


def _kept(text: str) -> str:
    """A value typed into a refused form, to fill the form again: nothing shaped like personal data."""
    return text if redact_text(text) == text else ""


def namer(request: Request) -> Callable[[str, str], str]:
    """`name(kind, code)`: a status, kind, field, role or remedy action in the page's language, else the code."""
    lang = i18n.choose(request).lang
    t = i18n.translator(lang)
    places = {"status": ("hq.incidents.status.",), "kind": ("hq.incidents.kind.", "alert."),
              "field": ("hq.field.",), "role": ("role.",)}

    def name(kind: str, code: str) -> str:
        if kind == "action":
            return pdf.ACTIONS[lang].get(code, code)
        for prefix in places[kind]:
            text = t(prefix + code)
            if text != prefix + code:
                return text
        return code

    return name


def _problems(request: Request, exc: DomainError, form: str) -> dict[str, str]:
    """A refusal's messages by the page's field ids (`<form>-<field>`), else under the form (`<form>`)."""
    t = translator_of(request)

    def say(code: str, pointer: str) -> str:
        key = f"hq.incidents.code.{code}"
        if key not in i18n.ZH:
            return message_of(request, exc)
        position = pointer.rsplit("/", 1)[-1]
        return t(key, n=int(position) + 1 if position.isdigit() else 1)

    found = {}
    for error in exc.errors:
        field = FIELD_OF.get(re.sub(r"/\d+$", "", error.pointer or ""))
        if field is not None:
            found.setdefault(f"{form}-{field}", say(error.code, error.pointer))
    return found or {form: say(exc.code, "")}


# -- the list ------------------------------------------------------------------------------------------------

def _list_page(request: Request, db_session: Session, actor: Actor, *, status: str = "", notice: str | None = None,
               errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
               status_code: int = 200) -> HTMLResponse:
    errors = dict(errors or {})
    views: list[service.View] = []
    try:
        views = service.list_incidents(db_session=db_session, actor=actor, status=status or None)
    except DomainError as exc:
        errors["status"] = _problems(request, exc, "filter")["filter"]
        status_code = exc.status
    if not status:  # the active ones first, each part newest first
        views.sort(key=lambda v: v.incident.status not in opening.OPEN)
    return render(request, "hq_incidents.html", {
        "incidents": views, "filters": FILTERS, "status": status, "active": opening.OPEN,
        "acts": _acts(actor), "officer": actor.role == Role.HQ_SECURITY, "notice": notice, "errors": errors,
        "values": values or {}, "when": when, "name": namer(request), "csrf": session.csrf_token(request)},
        status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
def incidents_page(request: Request, actor: HqPage, db_session: SessionDep, status: str = "") -> Response:
    """`incidents.service.list_incidents`, as `GET /api/v1/incidents?status=`."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    return _list_page(request, db_session, actor, status=status.strip()[:16])


def _holding(db_session: Session, actor: Actor, alert_id: uuid.UUID) -> uuid.UUID | None:
    """The active incident an alert belongs to, if any."""
    views = service.list_incidents(db_session=db_session, actor=actor, status="active")
    return next((v.incident.id for v in views if alert_id in v.alert_ids), None)


@router.post(PAGE, response_class=HTMLResponse)
def open_incident(request: Request, actor: HqPage, db_session: SessionDep, csrf: Csrf = "", summary: Text = "",
                  accounts: Text = "", alert_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    """`incidents.service.open_by_hand`, as `POST /api/v1/incidents`: by hand, or of an alert (its button on /hq
    sends the alert's id alone; the summary then says it came from an alert)."""
    if not _acts(actor) or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    t = translator_of(request)
    try:
        alert = uuid.UUID(alert_id) if alert_id.strip() else None
    except ValueError:
        return _list_page(request, db_session, actor, notice=t("hq.incidents.code.alert_unknown"), status_code=422)
    if alert is not None and not summary.strip():
        summary = t("hq.incidents.from_alert_summary")
    refs = [ref for ref in SEPARATORS.split(accounts) if ref]
    try:
        view = service.open_by_hand(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                    summary=summary, accounts=refs, alert_id=alert,
                                    request_id=getattr(request.state, "request_id", None))
    except DomainError as exc:
        db_session.rollback()
        held = _holding(db_session, actor, alert) if alert and exc.code == "alert_in_incident" else None
        if held is not None:
            return RedirectResponse(f"{PAGE}/{held}?done=held", status_code=303)
        errors = _problems(request, exc, "open")
        return _list_page(request, db_session, actor, notice=errors.pop("open-alert", None), errors=errors,
                          values={"summary": _kept(summary), "accounts": _kept(accounts)}, status_code=exc.status)
    return RedirectResponse(f"{PAGE}/{view.incident.id}?done=opened", status_code=303)


# -- one incident ----------------------------------------------------------------------------------------------

def _steps(view: service.View) -> list[tuple[str, datetime]]:
    """The steps taken, newest first (the timeline draws the first as the current one)."""
    i = view.incident
    done = zip(STEPS, (i.opened_at, i.contained_at, i.assessed_at, i.remedied_at, i.reported_at, i.dismissed_at),
               strict=True)
    return sorted(((step, at) for step, at in done if at is not None), key=lambda s: s[1], reverse=True)


def _incident_page(request: Request, db_session: Session, actor: Actor, incident_id: uuid.UUID, *,
                   notice: str | None = None, errors: dict[str, str] | None = None,
                   values: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    try:
        view = service.get(db_session=db_session, actor=actor, incident_id=incident_id)
    except DomainError as exc:
        return _list_page(request, db_session, actor, notice=_problems(request, exc, "page")["page"],
                          status_code=exc.status)
    sent = None
    if view.incident.reported_at is not None:
        sent = reporting.report_of(db_session=db_session, actor=actor, incident_id=incident_id)
    found = view.incident.assessment
    return render(request, "hq_incident.html", {
        "view": view, "i": view.incident, "sent": sent, "steps": _steps(view), "found": found,
        "by_account": (found or {}).get("by_account", {}), "active": view.incident.status in opening.OPEN,
        "enabled": [a for a in view.accounts if view.disabled.get(a.user_id) is None],
        "remedies": REMEDY_ACTIONS, "acts": _acts(actor), "officer": actor.role == Role.HQ_SECURITY,
        "notice": notice, "errors": errors or {}, "values": values or {}, "when": when, "name": namer(request),
        "csrf": session.csrf_token(request)}, status_code=status_code)


@router.get(PAGE + "/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: uuid.UUID, actor: HqPage, db_session: SessionDep,
                  done: str = "") -> Response:
    """`incidents.service.get`, as `GET /api/v1/incidents/{id}`."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    notice = translator_of(request)(f"hq.incidents.done.{done}") if done in DONE else None
    return _incident_page(request, db_session, actor, incident_id, notice=notice)


def _step(request: Request, db_session: Session, actor: Actor | None, csrf: str, incident_id: uuid.UUID, *,
          form: str, done: str, run: Callable[[dict[str, Any]], object],
          values: dict[str, Any] | None = None) -> Response:
    """One step of an officer's: the service call, then back to the incident (303), or the page again with the
    refusal next to the form and the form's values (those that look like personal data left out)."""
    if not _acts(actor) or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    common = {"db_session": db_session, "keyring": request.app.state.keyring, "actor": actor,
              "incident_id": incident_id, "request_id": getattr(request.state, "request_id", None)}
    try:
        run(common)
    except DomainError as exc:
        db_session.rollback()
        kept = {k: _kept(v) if isinstance(v, str) else v for k, v in (values or {}).items()}
        return _incident_page(request, db_session, actor, incident_id, errors=_problems(request, exc, form),
                              values={form: kept}, status_code=exc.status)
    return RedirectResponse(f"{PAGE}/{incident_id}?done={done}", status_code=303)


@router.post(PAGE + "/{incident_id}/accounts", response_class=HTMLResponse)
def add_accounts(request: Request, incident_id: uuid.UUID, actor: HqPage, db_session: SessionDep, csrf: Csrf = "",
                 accounts: Text = "") -> Response:
    refs = [ref for ref in SEPARATORS.split(accounts) if ref]
    return _step(request, db_session, actor, csrf, incident_id, form="more", done="accounts",
                 values={"accounts": accounts}, run=lambda c: service.add_accounts(**c, accounts=refs))


@router.post(PAGE + "/{incident_id}/contain", response_class=HTMLResponse)
def contain(request: Request, incident_id: uuid.UUID, actor: HqPage, db_session: SessionDep,
            csrf: Csrf = "") -> Response:
    """Disables the accounts and revokes their tokens; the server's token cache forgets them, as the API's."""
    def run(common: dict[str, Any]) -> None:
        service.contain(**common)
        forget_cached_actors(request)

    return _step(request, db_session, actor, csrf, incident_id, form="contain", done="contained", run=run)


@router.post(PAGE + "/{incident_id}/assess", response_class=HTMLResponse)
def assess(request: Request, incident_id: uuid.UUID, actor: HqPage, db_session: SessionDep,
           csrf: Csrf = "") -> Response:
    return _step(request, db_session, actor, csrf, incident_id, form="assess", done="assessed",
                 run=lambda c: service.assess(**c))


@router.post(PAGE + "/{incident_id}/remedy", response_class=HTMLResponse)
def remedy(request: Request, incident_id: uuid.UUID, actor: HqPage, db_session: SessionDep, csrf: Csrf = "",
           actions: Annotated[list[str] | None, Form()] = None, note: Text = "") -> Response:
    chosen = [a[:64] for a in (actions or [])][:len(REMEDY_ACTIONS) + 4]
    return _step(request, db_session, actor, csrf, incident_id, form="remedy", done="remedied",
                 values={"actions": [a for a in chosen if a in REMEDY_ACTIONS], "note": note},
                 run=lambda c: service.remedy(**c, actions=chosen, note=note))


@router.post(PAGE + "/{incident_id}/report", response_class=HTMLResponse)
def report(request: Request, incident_id: uuid.UUID, actor: HqPage, db_session: SessionDep,
           csrf: Csrf = "") -> Response:
    """Signs the report with the carrier's upload key and queues it; the uploader sends it."""
    return _step(request, db_session, actor, csrf, incident_id, form="report", done="reported",
                 run=lambda c: reporting.report(**c))


@router.post(PAGE + "/{incident_id}/dismiss", response_class=HTMLResponse)
def dismiss(request: Request, incident_id: uuid.UUID, actor: HqPage, db_session: SessionDep, csrf: Csrf = "",
            reason: Text = "") -> Response:
    return _step(request, db_session, actor, csrf, incident_id, form="dismiss", done="dismissed",
                 values={"reason": reason}, run=lambda c: service.dismiss(**c, reason=reason))


@router.get(PAGE + "/{incident_id}/report.pdf")
def report_pdf(request: Request, incident_id: uuid.UUID, actor: HqPage, db_session: SessionDep) -> Response:
    """The signed report as a PDF in the page's language, as `GET /api/v1/incidents/{id}/report.pdf`."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    try:
        sent = reporting.report_of(db_session=db_session, actor=actor, incident_id=incident_id)
    except DomainError as exc:
        return _incident_page(request, db_session, actor, incident_id,
                              notice=_problems(request, exc, "page")["page"], status_code=exc.status)
    body = pdf.render(sent.wire, sent.receipt, lang=i18n.choose(request).lang)
    return apply_security_headers(Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{sent.wire["incident"]}.pdf"'}))
