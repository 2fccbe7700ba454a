"""The carrier's HQ security and audit console: the carrier's alerts (filtered by kind, station, account and
status) and investigation cases (open a case, resolve a found label or a waybill number to the shipment's fields
with the case named, close it), and the audit log browser (entries by actor, subject, purpose and decision, paged;
one entry checked as an outside verifier would, in the page; the whole log downloaded as the export file).
The keys page is hq_keys.py.

Every page calls the service functions the API routes call, and shows what those routes answer the same
role: an auditor reads the log and nothing else; plaintext comes only from the gate (purpose
`investigation`, an open case named), and each reveal shows its log index, a link to that entry's check.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.accounts import service as accounts
from parcelguard.audit import alerts, log, proofs
from parcelguard.audit import service as audit
from parcelguard.audit.api import export_download
from parcelguard.core.auth import Actor, Role
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError
from parcelguard.waybills import flows as label_flows
from parcelguard.web import forms, i18n, qr_upload, session
from parcelguard.web.courier_pages import message_of, translator_of
from parcelguard.web.sign_in import sign_in, sign_out
from parcelguard.web.templating import apply_security_headers, render

router = APIRouter(include_in_schema=False)
HqPage = Annotated[Actor | None, Depends(session.hq)]
LOGIN = "/hq/login"
PAGE = 50
FIELDS = ("recipient_name", "recipient_phone", "recipient_address", "sender_phone")


def _officer(actor: Actor | None) -> bool:
    return actor is not None and actor.role == Role.HQ_SECURITY


@router.get(LOGIN, response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "courier_login.html", {"console": "hq", "errors": {}, "username": "", "terminal": ""})


@router.post(LOGIN, response_class=HTMLResponse)
def login(request: Request, db_session: SessionDep, username: Annotated[str, Form(max_length=64)] = "",
          password: Annotated[str, Form(max_length=256)] = "") -> Response:
    done = sign_in(request, db_session, role=session.HQ_ROLES, username=username,
                   password=password, terminal=None, wrong_role="hq.login.not_hq", home="/hq", message_of=message_of)
    if isinstance(done, Response):
        return done
    return render(request, "courier_login.html", {"console": "hq", "errors": done, "username": username.strip(),
                                                  "terminal": ""}, status_code=422)


@router.post("/hq/logout")
def logout(request: Request, actor: HqPage, db_session: SessionDep,
           csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    return sign_out(request, db_session, actor, csrf, LOGIN)


# -- alerts and cases (HQ security) -------------------------------------------------------------------------

FILTERS = ("kind", "station", "who", "status")
FILTER_FIELD = {"#query/kind": "kind", "#query/station": "station", "#query/actor": "who", "#query/status": "status"}


def _home(request: Request, db_session: Session, actor: Actor, notice: str | None = None,
          status_code: int = 200, errors: dict[str, str] | None = None,
          filters: dict[str, str] | None = None) -> HTMLResponse:
    """The officer's alerts (filtered as `GET /api/v1/alerts`) and cases; an auditor's note."""
    officer = _officer(actor)
    filters = {name: (filters or {}).get(name, "") for name in FILTERS}
    errors = dict(errors or {})
    found: list = []
    if officer:
        try:
            where = alerts.parse_filter(db_session=db_session, actor=actor, kind=filters["kind"],
                                        station=filters["station"], who=filters["who"], status=filters["status"])
        except DomainError as exc:
            field = FILTER_FIELD.get(exc.errors[0].pointer if exc.errors else "", "who")
            errors[field] = _hq_message(request, exc)
            status_code = exc.status
        else:
            found = alerts.list_alerts(db_session=db_session, actor=actor, where=where)
    assert actor.carrier_id is not None
    names = {}
    for user_id in {a.actor_id for a in found if a.actor_id is not None}:
        try:
            names[user_id] = accounts.get_user(db_session=db_session, carrier_id=actor.carrier_id,
                                               user_id=user_id).username
        except DomainError:
            pass
    return render(request, "hq_home.html", {
        "officer": officer, "role": actor.role.value, "alerts": found, "names": names, "filters": filters,
        "filtered": any(filters[k] for k in ("kind", "station", "who")) or filters["status"] not in ("", "open"),
        "stations": accounts.list_stations(db_session=db_session, carrier_id=actor.carrier_id) if officer else [],
        "statuses": [s.value for s in alerts.Status],
        "cases": audit.list_cases(db_session=db_session, actor=actor) if officer else [],
        "known_alerts": sorted(k for k in i18n.ZH if k.startswith("alert.")),
        "notice": notice, "errors": errors, "csrf": session.csrf_token(request)}, status_code=status_code)


def _hq_message(request: Request, exc: DomainError) -> str:
    """An error code in the page's language: this console's own message (`hq.code.*`), else the shared one."""
    text = translator_of(request)(f"hq.code.{exc.code}")
    return message_of(request, exc) if text == f"hq.code.{exc.code}" else text


def _filters_of(kind: str, station: str, who: str, status: str) -> dict[str, str]:
    return {"kind": kind[:64].strip(), "station": station[:64].strip(), "who": who[:64].strip(),
            "status": status[:16].strip()}


@router.get("/hq", response_class=HTMLResponse)
def home(request: Request, actor: HqPage, db_session: SessionDep, kind: str = "", station: str = "", who: str = "",
         status: str = "") -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    return _home(request, db_session, actor, filters=_filters_of(kind, station, who, status))


@router.post("/hq/alerts/{alert_id}/ack")
def acknowledge(request: Request, alert_id: uuid.UUID, actor: HqPage, db_session: SessionDep,
                csrf: Annotated[str, Form(max_length=128)] = "", kind: Annotated[str, Form(max_length=64)] = "",
                station: Annotated[str, Form(max_length=64)] = "", who: Annotated[str, Form(max_length=64)] = "",
                status: Annotated[str, Form(max_length=16)] = "") -> Response:
    """`audit.alerts.acknowledge_alert`, as `POST /api/v1/alerts/{id}/acknowledge`; back to the same filter."""
    if not _officer(actor) or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    filters = _filters_of(kind, station, who, status)
    try:
        alerts.acknowledge_alert(db_session=db_session, actor=actor, alert_id=alert_id)
    except DomainError as exc:
        db_session.rollback()
        return _home(request, db_session, actor, message_of(request, exc), exc.status, filters=filters)
    query = urlencode({k: v for k, v in filters.items() if v})
    return RedirectResponse("/hq" + (f"?{query}" if query else ""), status_code=303)


@router.post("/hq/cases")
def open_case(request: Request, actor: HqPage, db_session: SessionDep,
              reference: Annotated[str, Form(max_length=64)] = "", summary: Annotated[str, Form(max_length=500)] = "",
              csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`audit.service.open_case`, as `POST /api/v1/audit/cases`."""
    if not _officer(actor) or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    try:
        case = audit.open_case(db_session=db_session, actor=actor, reference=reference, summary=summary)
    except DomainError as exc:
        db_session.rollback()
        return _home(request, db_session, actor, status_code=exc.status,
                     errors={"reference": message_of(request, exc)})
    return RedirectResponse(f"/hq/cases/{case.id}", status_code=303)


def _case_page(request: Request, db_session: Session, actor: Actor, case_id: uuid.UUID, *,
               resolved: label_flows.Resolved | None = None, errors: dict[str, str] | None = None,
               status_code: int = 200) -> HTMLResponse:
    case = next((c for c in audit.list_cases(db_session=db_session, actor=actor) if c.id == case_id), None)
    if case is None:
        return render(request, "courier_error.html", {"message": translator_of(request)("hq.case_unknown")},
                      status_code=404)
    return render(request, "hq_case.html", {
        "case": case, "resolved": resolved, "fields": FIELDS, "errors": errors or {},
        "csrf": session.csrf_token(request)}, status_code=status_code)


@router.get("/hq/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: uuid.UUID, actor: HqPage, db_session: SessionDep) -> Response:
    if not _officer(actor):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    return _case_page(request, db_session, actor, case_id)


@router.post("/hq/cases/{case_id}/resolve", response_class=HTMLResponse)
async def resolve(request: Request, case_id: uuid.UUID, actor: HqPage, db_session: SessionDep) -> Response:
    """`waybills.flows.resolve`, as `POST /api/v1/labels:resolve`: a waybill number, or a found label's
    token (pasted or photographed), to the shipment's fields through the gate with this case named."""
    if not _officer(actor):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    t = translator_of(request)
    try:
        form = await forms.read(request, max_bytes=qr_upload.MAX_IMAGE_BYTES + 64 * 1024, max_files=1)
        if not session.csrf_ok(request, form.get(session.CSRF_FIELD)):
            return session.to_sign_in(request, LOGIN)
        token = await forms.qr_text(form, text_field="label_token", photo_field="photo")
    except forms.FieldProblem as problem:
        return _case_page(request, db_session, actor, case_id, errors={problem.name: t(problem.key, **problem.values)},
                          status_code=problem.status)
    number = form.get("waybill_no") or None
    wanted = [f for f in FIELDS if form.get(f"field_{f}") == "on"] or list(FIELDS)

    def run() -> label_flows.Resolved:
        return label_flows.resolve(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                   case_id=case_id, waybill_no=None if token else number, label_token=token,
                                   fields=wanted, request_id=getattr(request.state, "request_id", None))

    try:
        resolved = await run_in_threadpool(run)
    except DomainError as exc:
        db_session.rollback()
        field = "label_token" if (exc.errors and exc.errors[0].pointer == "/label_token") else "waybill_no"
        return _case_page(request, db_session, actor, case_id, errors={field: message_of(request, exc)},
                          status_code=exc.status)
    return _case_page(request, db_session, actor, case_id, resolved=resolved)


@router.post("/hq/cases/{case_id}/close")
def close_case(request: Request, case_id: uuid.UUID, actor: HqPage, db_session: SessionDep,
               csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    if not _officer(actor) or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor is not None
    audit.close_case(db_session=db_session, actor=actor, case_id=case_id)
    return RedirectResponse("/hq", status_code=303)


# -- the audit log (HQ security and auditors) ---------------------------------------------------------------

@router.get("/hq/audit", response_class=HTMLResponse)
def audit_log(request: Request, actor: HqPage, db_session: SessionDep, subject: str = "", purpose: str = "",
              decision: str = "", actor_id: str = "", after: int = -1) -> Response:
    """`audit.log.find_entries`, as `GET /api/v1/audit/entries`, paged by index."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    assert actor.carrier_id is not None
    try:
        who = uuid.UUID(actor_id) if actor_id else None
    except ValueError:
        who = None
    found = log.find_entries(db_session=db_session, carrier_id=actor.carrier_id, actor=who,
                             subject=subject[:200] or None, purpose=purpose[:64] or None,
                             decision=decision if decision in ("allow", "deny") else None,
                             after=max(-1, after), limit=PAGE)
    return render(request, "hq_audit.html", {
        "entries": [e.document() for e in found], "next_after": found[-1].index if len(found) == PAGE else None,
        "filters": {"subject": subject, "purpose": purpose, "decision": decision, "actor_id": actor_id},
        "size": log.size_of(db_session=db_session, carrier_id=actor.carrier_id), "csrf": session.csrf_token(request),
        "officer": _officer(actor)})


@router.get("/hq/audit/export")
def audit_export(request: Request, actor: HqPage, db_session: SessionDep) -> Response:
    """The whole log as the export file, as `GET /api/v1/audit/export` (the export is logged)."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    assert actor.carrier_id is not None
    slug = accounts.get_carrier(db_session=db_session, carrier_id=actor.carrier_id).slug
    db_session.rollback()
    return apply_security_headers(export_download(request, actor=actor, carrier_id=actor.carrier_id, slug=slug))


@router.get("/hq/audit/{index}", response_class=HTMLResponse)
def audit_entry(request: Request, index: int, actor: HqPage, db_session: SessionDep) -> Response:
    """`audit.proofs.check_entry`, as `GET /api/v1/audit/entries/{index}/verification`."""
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    assert actor.carrier_id is not None
    try:
        check = proofs.check_entry(db_session=db_session, keyring=request.app.state.keyring,
                                   carrier_id=actor.carrier_id, index=index)
    except DomainError as exc:
        return render(request, "courier_error.html", {"message": message_of(request, exc)}, status_code=exc.status)
    return render(request, "hq_entry.html", {"check": check, "csrf": session.csrf_token(request),
                                             "officer": _officer(actor)})


@router.post("/hq/audit/heads")
def sign_head(request: Request, actor: HqPage, db_session: SessionDep, index: Annotated[int, Form()] = 0,
              csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """Sign a tree head now (`POST /api/v1/audit/tree-heads`), so the newest entries can be checked."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor.carrier_id is not None
    log.sign_tree_head(db_session=db_session, keyring=request.app.state.keyring, carrier_id=actor.carrier_id)
    return RedirectResponse(f"/hq/audit/{max(0, index)}", status_code=303)
