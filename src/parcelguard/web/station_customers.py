"""The station manager's contract customers (协议客户): the station's agreements as the API answers a station
manager (the organisation, its public credit code, the responsible person masked), each with its inspection
share to change, a revoke behind a confirm step, and the draw's results (the customer's parcels drawn for
inspection, inspected, still waiting; the latest by waybill number); and a form to make a new agreement.

Every form goes through what the API route runs: the new agreement is the API's own `AgreementIn` and
`contracts.service.create` (`POST /api/v1/agreements`), the share `set_inspection_share` (`PUT
.../inspection-share`), the end `revoke` (`POST .../revoke`), the results `contracts.draws` (`GET
.../draws`). The customer is named by its enterprise account's username (no API lists those to a station
manager). The responsible person's document number and name are never written back into the page, not
even after an error: a page never holds an ID number or a name typed into it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.accounts import service as accounts
from parcelguard.contracts import draws
from parcelguard.contracts import service as contracts
from parcelguard.contracts.api import new_agreement
from parcelguard.contracts.schemas import AgreementIn, AgreementOut, DrawResultsOut
from parcelguard.core.auth import Actor
from parcelguard.core.db import SessionDep
from parcelguard.core.errors import DomainError, FieldError, ServiceUnavailable, validation_errors
from parcelguard.web import session
from parcelguard.web.courier_pages import translator_of
from parcelguard.web.station_pages import DOC_TYPES, LOGIN, ManagerPage, station_message
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "/station/customers"
DONE = frozenset({"made", "share", "revoked"})
REQUIRED = ("customer", "org_name", "uscc", "doc_number", "doc_name")
LATEST = 10

# Where an error of the agreement (a JSON pointer into AgreementIn) is shown on the form.
_FIELD_OF_POINTER = {
    "/customer_id": "customer", "/organisation": "org_name", "/organisation/name": "org_name",
    "/organisation/uscc": "uscc", "/responsible": "doc_number", "/responsible/document": "doc_number",
    "/responsible/document/type": "doc_type", "/responsible/document/number": "doc_number",
    "/responsible/document/name": "doc_name", "/inspection_permille": "permille",
}


def _rows(db_session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The station's agreements (in force first, then ended), each as the API shows it with its draw."""
    found = contracts.list_for(db_session=db_session, actor=actor, include_revoked=True)
    results = draws.draw_results(db_session=db_session, actor=actor, agreement_ids=[a.id for a in found],
                                 latest=LATEST)
    rows = [{"agreement": AgreementOut.of(a), "draws": DrawResultsOut.of(results[a.id]),
             "percent": f"{a.inspection_permille / 10:g}"} for a in found if a.id in results]
    return sorted(rows, key=lambda r: r["agreement"].revoked_at is not None)


def _page(request: Request, db_session: Session, actor: Actor, *, notice: str | None = None, ok: bool = False,
          errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
          status_code: int = 200) -> HTMLResponse:
    return render(request, "station_customers.html", {
        "rows": _rows(db_session, actor), "doc_types": DOC_TYPES, "notice": notice, "ok": ok,
        "errors": errors or {}, "values": values or {"doc_type": DOC_TYPES[0],
                                                     "permille": str(contracts.DEFAULT_INSPECTION_PERMILLE)},
        "csrf": session.csrf_token(request)}, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
def customers_page(request: Request, actor: ManagerPage, db_session: SessionDep, done: str = "") -> Response:
    if actor is None:
        return session.to_sign_in(request, LOGIN)
    notice = translator_of(request)(f"station.customers.done.{done}") if done in DONE else None
    return _page(request, db_session, actor, notice=notice, ok=True)


def _field_of(pointer: str) -> str:
    while pointer and pointer not in _FIELD_OF_POINTER:
        pointer = pointer.rsplit("/", 1)[0]
    return _FIELD_OF_POINTER.get(pointer, "form")


def _errors(request: Request, found: list[FieldError]) -> dict[str, str]:
    out: dict[str, str] = {}
    for error in found:
        out.setdefault(_field_of(error.pointer), station_message(request, error.code, error.detail))
    return out


@router.post(PAGE, response_class=HTMLResponse)
def make_agreement(request: Request, actor: ManagerPage, db_session: SessionDep,
                   customer: Annotated[str, Form(max_length=64)] = "",
                   org_name: Annotated[str, Form(max_length=400)] = "",
                   uscc: Annotated[str, Form(max_length=100)] = "",
                   doc_type: Annotated[str, Form(max_length=32)] = "",
                   doc_number: Annotated[str, Form(max_length=100)] = "",
                   doc_name: Annotated[str, Form(max_length=200)] = "",
                   permille: Annotated[str, Form(max_length=16)] = "",
                   csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`contracts.service.create` with the API's own `AgreementIn`, as `POST /api/v1/agreements`: every
    problem at once, each next to its field (422); a refused agreement writes nothing."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    assert actor.carrier_id is not None
    # What was typed comes back after an error, but for the responsible person's document number and name.
    values = {"customer": customer.strip(), "org_name": org_name, "uscc": uscc, "doc_type": doc_type,
              "permille": permille}
    user = accounts.get_user_by_username(db_session=db_session, username=customer.strip()) if customer.strip() else None
    # An unknown username (or another carrier's) goes in as an id no account has: the service then answers
    # `user_unknown` at /customer_id together with every other problem of the form, as the API would.
    customer_id = user.id if user is not None and user.carrier_id == actor.carrier_id else uuid.uuid4()
    body: dict[str, Any] = {
        "customer_id": str(customer_id), "station_id": str(actor.station_id),
        "organisation": {"name": org_name, "uscc": uscc},
        "responsible": {"document": {"type": doc_type or None, "number": doc_number, "name": doc_name}}}
    if permille.strip():
        body["inspection_permille"] = permille.strip()
    try:
        agreement = AgreementIn.model_validate(body)
        key = request.app.state.regulator_public_key
        if key is None:
            raise ServiceUnavailable("Agreements are off: no regulator public key is configured.",
                                     code="regulator_key_missing")
        contracts.create(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                         regulator_public_key=key, request_id=getattr(request.state, "request_id", None),
                         agreement=new_agreement(agreement))
    except ValidationError as exc:
        _, found = validation_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        errors, status = _errors(request, found), 422
    except DomainError as exc:
        db_session.rollback()
        errors, status = _errors(request, exc.errors or [FieldError("/", exc.code, exc.detail)]), exc.status
    else:
        return RedirectResponse(f"{PAGE}?done=made", status_code=303)
    missing = translator_of(request)("code.missing")
    errors.update({name: missing for name, value in zip(REQUIRED, (customer, org_name, uscc, doc_number, doc_name),
                                                        strict=True) if not value.strip()})
    return _page(request, db_session, actor, notice=errors.pop("form", None), errors=errors, values=values,
                 status_code=status)


@router.post(PAGE + "/{agreement_id}/share", response_class=HTMLResponse)
def set_share(request: Request, agreement_id: uuid.UUID, actor: ManagerPage, db_session: SessionDep,
              permille: Annotated[str, Form(max_length=16)] = "",
              csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`contracts.service.set_inspection_share`, as `PUT /api/v1/agreements/{id}/inspection-share`."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    field, text = f"share:{agreement_id}", permille.strip()
    if not (text.isascii() and text.isdigit()):
        message = station_message(request, "int_parsing", "") if text else translator_of(request)("code.missing")
        return _page(request, db_session, actor, errors={field: message}, status_code=422)
    try:
        contracts.set_inspection_share(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                                       agreement_id=agreement_id, permille=int(text),
                                       request_id=getattr(request.state, "request_id", None))
    except DomainError as exc:
        db_session.rollback()
        message = station_message(request, exc.code, exc.detail)
        return _page(request, db_session, actor, notice=message if exc.status == 404 else None,
                     errors={field: message}, status_code=exc.status)
    return RedirectResponse(f"{PAGE}?done=share", status_code=303)


@router.post(PAGE + "/{agreement_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, agreement_id: uuid.UUID, actor: ManagerPage, db_session: SessionDep,
           csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """`contracts.service.revoke`, as `POST /api/v1/agreements/{id}/revoke`: the customer's parcels are
    refused until a new agreement is made. The page asks first (the button is inside a confirm step)."""
    if actor is None or not session.csrf_ok(request, csrf):
        return session.to_sign_in(request, LOGIN)
    try:
        contracts.revoke(db_session=db_session, keyring=request.app.state.keyring, actor=actor,
                         agreement_id=agreement_id, request_id=getattr(request.state, "request_id", None))
    except DomainError as exc:
        db_session.rollback()
        return _page(request, db_session, actor, notice=station_message(request, exc.code, exc.detail),
                     status_code=exc.status)
    return RedirectResponse(f"{PAGE}?done=revoked", status_code=303)
