"""The sender's real-name registration (实名登记), as a carrier's public app offers it: register once in a
browser, with no account, then show the real-name QR code to the courier at every pickup. The page form of
the API's public routes under /api/v1/public/carriers/{carrier}/realname: the same service functions and
the same rate limits (the routes' own counters, one for both), so the page is no way around either.

1. `/register/{carrier}`: document type, number, name and phone become the API's `RegistrationIn` and go
   to `identity.service.register_sender` (REGISTER_LIMITS); a code goes to the phone by SMS.
2. `/register/{carrier}/{registration_id}`: the six digits go to `verify_sender` (CODE_CHECK_LIMITS);
   another code comes from `otp.resend_code` (CODE_LIMITS).
3. `/register/{carrier}/{registration_id}/qr` (register_qr.py): a fresh token from `refresh_realname_token`
   (REFRESH_LIMITS) as a QR image with its expiry; the page reloads itself a minute before it expires.

Where the secrets live, and why:

- The document number, the name and the phone go to the server once, in a POST body, and never come back:
  not into a field after an error, not into a hidden field, not into a URL or a cookie. To send another
  code the sender types the phone again, as the API's resend asks for it: the server keeps only the
  registration's MAC of the number (it could not fill the field in if it would), and nothing needs a
  server-side store of it. A page left open on a shared phone shows no one's data.
- The registration id may be in the URL: it names a registration and opens nothing (the code step needs
  the SMS code; the QR page needs the refresh secret).
- The refresh secret is the registration's bearer secret, given once by `verify_sender`. It lives in the
  cookie `pg_realname` (with the registration id it belongs to), never in the HTML: HttpOnly (no script,
  ours or an injected one, reads it), SameSite=Strict (no other site's page or link sends it), Secure over
  https, path `/register/{carrier}` (no other page of the platform and no other carrier's pages get it),
  for a year (register once; the carrier's registration page then leads back to the QR code). A
  screenshot, a printout or a copy of the page holds only a token that dies within ten minutes. Kept in
  the page instead (a hidden field posted back at each refresh) it would sit in the DOM for any script and
  in every saved copy, and the reload would have to be a POST. The cost of Strict: the QR page opened
  from a link on another site arrives without the cookie and says so, with a link on this site.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parcelguard.accounts import service as accounts
from parcelguard.core import db
from parcelguard.core.errors import (
    DomainError,
    FieldError,
    Invalid,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    validation_errors,
)
from parcelguard.identity import otp
from parcelguard.identity import service as identity_service
from parcelguard.identity.api import CODE_CHECK_LIMITS, CODE_LIMITS, REGISTER_LIMITS
from parcelguard.identity.documents import DocType
from parcelguard.identity.schemas import CodeIn, RegistrationIn, ResendIn
from parcelguard.web import i18n
from parcelguard.web.courier_pickup import DOC_TYPES
from parcelguard.web.templating import apply_security_headers, render

router = APIRouter(include_in_schema=False)

COOKIE = "pg_realname"
COOKIE_MAX_AGE = 365 * 24 * 3600
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")  # a carrier's slug (accounts.models.Carrier.slug: 32 characters)
REFRESH_MARGIN_SECONDS = 60  # the QR page reloads this long before its token expires
MIN_REFRESH_SECONDS = 10
MAX_FIELD_CHARS = 200  # a form value past this is cut before the API's own checks (which refuse it anyway)

# Where an error of the API's body (a JSON pointer into RegistrationIn, CodeIn or ResendIn) is shown.
_FIELD_OF_POINTER = {"/document/type": "doc_type", "/document/number": "doc_number", "/document": "doc_number",
                     "/document/name": "doc_name", "/phone": "phone", "/code": "code"}


def _limit(limits: Any) -> Callable[[Request], int | None]:
    """A dependency counting the request on an API route's own counters (`limits`, e.g. REGISTER_LIMITS);
    the seconds to wait when over them. Counted in a short transaction of its own before anything else."""

    def counted(request: Request) -> int | None:
        return _count(request, limits)

    return counted


def _count(request: Request, limits: Any) -> int | None:
    try:
        limits.dependency(request)
    except TooManyRequests as exc:
        return int(exc.extensions.get("retry_after", 60))
    return None


RegisterWait = Annotated[int | None, Depends(_limit(REGISTER_LIMITS))]
CodeCheckWait = Annotated[int | None, Depends(_limit(CODE_CHECK_LIMITS))]
ResendWait = Annotated[int | None, Depends(_limit(CODE_LIMITS))]


def _t(request: Request) -> Callable[..., str]:
    return i18n.translator(i18n.choose(request).lang)


def _message(t: Callable[..., str], code: str, detail: str, **values: object) -> str:
    """The message for an error code in the page's language (`code.<code>`), else the domain's own text."""
    key = f"code.{code}"
    return t(key, **values) if key in i18n.ZH else detail


def _registration_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form's text fields, each stripped and cut to MAX_FIELD_CHARS."""
    parsed = await request.form(max_files=0, max_fields=20)
    return {k: v.strip()[:MAX_FIELD_CHARS] for k, v in parsed.items() if isinstance(v, str)}


# -- the refresh secret's cookie -------------------------------------------------------------------------

def _cookie_path(carrier: str) -> str:
    return f"/register/{carrier}"


def _remembered(request: Request) -> tuple[uuid.UUID, str] | None:
    """(registration id, refresh secret) from this carrier's cookie, or None."""
    rid, _, secret = request.cookies.get(COOKIE, "").partition(".")
    found = _registration_id(rid) if rid and secret else None
    return (found, secret) if found else None


def _remember(response: Response, request: Request, carrier: str, issued: identity_service.RealNameToken) -> None:
    assert issued.refresh_secret is not None  # verify_sender gives it
    response.set_cookie(COOKIE, f"{issued.registration_id}.{issued.refresh_secret}", max_age=COOKIE_MAX_AGE,
                        path=_cookie_path(carrier), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def _forget(response: Response, carrier: str) -> None:
    response.delete_cookie(COOKIE, path=_cookie_path(carrier), httponly=True, samesite="strict")


def _see_other(url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    apply_security_headers(response)
    return response


# -- step 0: which carrier -------------------------------------------------------------------------------

@router.get("/register", response_class=HTMLResponse)
def choose_carrier(request: Request, carrier: str = "") -> Response:
    """The carrier to register with, by its slug (a carrier's own link goes straight to /register/{slug})."""
    if not carrier.strip():
        return _start_page(request)
    slug = carrier.strip().lower()
    if not SLUG.fullmatch(slug):
        return _start_page(request, status_code=422, errors={"carrier": _t(request)("register.carrier_unknown")})
    return _see_other(f"/register/{slug}")


def _start_page(request: Request, *, status_code: int = 200, errors: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "register.html", {"carrier": None, "errors": errors or {}, "values": {}},
                  status_code=status_code)


# -- step 1: the document and the phone ------------------------------------------------------------------

def _carrier_name(request: Request, slug: str) -> str | None:
    if not SLUG.fullmatch(slug):
        return None
    with request.app.state.sessionmaker() as session:
        found = accounts.get_carrier_by_slug(db_session=session, slug=slug)
        return found.name if found else None


@router.get("/register/{carrier}", response_class=HTMLResponse)
def registration_form(request: Request, carrier: str) -> Response:
    return _form_page(request, carrier, {"doc_type": DocType.RESIDENT_ID.value})


def _form_page(request: Request, carrier: str, values: dict[str, str], *, errors: dict[str, str] | None = None,
               notice: str | None = None, status_code: int = 200,
               headers: dict[str, str] | None = None) -> HTMLResponse:
    name = _carrier_name(request, carrier)
    if name is None:
        return _start_page(request, status_code=404, errors={"carrier": _t(request)("register.carrier_unknown")})
    remembered = _remembered(request)
    return render(request, "register.html", {
        "carrier": carrier, "carrier_name": name, "doc_types": DOC_TYPES, "values": values, "errors": errors or {},
        "notice": notice, "registered": f"/register/{carrier}/{remembered[0]}/qr" if remembered else None},
        status_code=status_code, headers=headers)


@router.post("/register/{carrier}", response_class=HTMLResponse)
async def register(request: Request, carrier: str, wait: RegisterWait) -> Response:
    """`identity.service.register_sender`, as POST .../realname: on success, to the code's page."""
    t = _t(request)
    form = await _form(request)
    # What comes back after a refusal: the document type only, never a number, a name or a phone.
    values = {"doc_type": form.get("doc_type") or DocType.RESIDENT_ID.value}
    if wait is not None:
        return await run_in_threadpool(_form_page, request, carrier, values, status_code=429,
                                       notice=t("code.rate_limited", seconds=wait),
                                       headers={"Retry-After": str(wait)})
    try:
        body = RegistrationIn.model_validate({
            "document": {"type": form.get("doc_type") or None, "number": form.get("doc_number", ""),
                         "name": form.get("doc_name", "")},
            "phone": form.get("phone", "")})
        sent = await run_in_threadpool(_register, request, carrier, body)
    except ValidationError as exc:
        return await run_in_threadpool(_form_page, request, carrier, values, status_code=422,
                                       errors=_field_errors(t, form, _pydantic_errors(exc)))
    except DomainError as exc:
        if exc.code == "carrier_unknown":
            return _start_page(request, status_code=404, errors={"carrier": t("register.carrier_unknown")})
        errors = _field_errors(t, form, exc.errors)
        notice = None if errors else _message(t, exc.code, exc.detail, seconds=_retry_after(exc))
        return await run_in_threadpool(_form_page, request, carrier, values, errors=errors, notice=notice,
                                       status_code=exc.status, headers=exc.headers)
    return _see_other(f"/register/{carrier}/{sent.registration_id}")


def _register(request: Request, carrier: str, body: RegistrationIn) -> otp.CodeSent:
    state = request.app.state
    key = state.regulator_public_key
    if key is None:
        raise ServiceUnavailable("Registration is off: no regulator public key is configured.",
                                 code="regulator_key_missing")
    with state.sessionmaker() as session:
        db.begin_write(session)
        sent = identity_service.register_sender(
            db_session=session, keyring=state.keyring, sms=state.sms_sender, policy=otp.Policy.of(state.settings),
            carrier_slug=carrier, doc_type=body.document.type, number=body.document.number,
            name=body.document.name, phone=body.phone, regulator_public_key=key)
        session.commit()  # an exception leaves the block before this: the session's close rolls back
    return sent


def _pydantic_errors(exc: ValidationError) -> list[FieldError]:
    return validation_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])[1]


def _field_errors(t: Callable[..., str], form: dict[str, str], found: list[FieldError]) -> dict[str, str]:
    """Each error next to its form field; a field left empty says so, whatever the check that refused it."""
    out: dict[str, str] = {}
    for error in found:
        field = _FIELD_OF_POINTER.get(error.pointer)
        if field is None:
            continue
        text = t("code.missing") if not form.get(field) and field != "doc_type" else _message(t, error.code,
                                                                                           error.detail)
        out.setdefault(field, text)
    return out


def _retry_after(exc: DomainError) -> int:
    return int(exc.extensions.get("retry_after", 0) or 0)


# -- step 2: the code from the SMS -----------------------------------------------------------------------

@router.get("/register/{carrier}/{registration_id}", response_class=HTMLResponse)
def code_form(request: Request, carrier: str, registration_id: str, sent: str = "") -> Response:
    rid = _registration_id(registration_id)
    remembered = _remembered(request)
    if rid is not None and remembered is not None and remembered[0] == rid:
        return _see_other(f"/register/{carrier}/{rid}/qr")  # proved already, on this device
    return _code_page(request, carrier, rid, info=_t(request)("register.sent") if sent == "1" else None)


def _code_page(request: Request, carrier: str, rid: uuid.UUID | None, *, errors: dict[str, str] | None = None,
               notice: str | None = None, info: str | None = None, status_code: int = 200,
               headers: dict[str, str] | None = None) -> HTMLResponse:
    t = _t(request)
    if rid is None:
        notice, status_code = t("code.registration_unknown"), 404
    return render(request, "register_code.html", {
        "carrier": carrier, "registration_id": str(rid) if rid else None, "errors": errors or {}, "notice": notice,
        "info": info, "minutes": max(1, request.app.state.settings.otp_ttl_seconds // 60)},
        status_code=status_code, headers=headers)


@router.post("/register/{carrier}/{registration_id}/verify", response_class=HTMLResponse)
async def verify(request: Request, carrier: str, registration_id: str, wait: CodeCheckWait) -> Response:
    """`identity.service.verify_sender`, as POST .../realname/{id}/verify: on the right code the refresh
    secret goes into the cookie and the sender to the QR page."""
    t = _t(request)
    rid = _registration_id(registration_id)
    form = await _form(request)
    if rid is None:
        return _code_page(request, carrier, None)
    if wait is not None:
        return _code_page(request, carrier, rid, errors={"code": t("code.rate_limited", seconds=wait)},
                          status_code=429, headers={"Retry-After": str(wait)})
    if not form.get("code"):  # not sent on: an empty submit is no try and costs none of the code's five
        return _code_page(request, carrier, rid, errors={"code": t("code.missing")}, status_code=422)
    try:
        body = CodeIn.model_validate({"code": form["code"]})
        issued = await run_in_threadpool(_verify, request, carrier, rid, body)
    except ValidationError as exc:
        return _code_page(request, carrier, rid, errors=_field_errors(t, form, _pydantic_errors(exc)),
                          status_code=422)
    except DomainError as exc:
        remembered = _remembered(request)
        if exc.code == "registration_verified" and remembered is not None and remembered[0] == rid:
            return _see_other(f"/register/{carrier}/{rid}/qr")
        if isinstance(exc, Invalid) and exc.errors:
            text = _message(t, exc.code, exc.detail)
            if "attempts_left" in exc.extensions:
                text += " " + t("register.attempts_left", n=exc.extensions["attempts_left"])
            return _code_page(request, carrier, rid, errors={"code": text}, status_code=exc.status)
        return _code_page(request, carrier, rid, notice=_step_notice(t, exc), status_code=exc.status,
                          headers=exc.headers)
    response = _see_other(f"/register/{carrier}/{rid}/qr")
    _remember(response, request, carrier, issued)
    return response


def _verify(request: Request, carrier: str, rid: uuid.UUID, body: CodeIn) -> identity_service.RealNameToken:
    state = request.app.state
    with state.sessionmaker() as session:
        db.begin_write(session)
        issued = identity_service.verify_sender(db_session=session, keyring=state.keyring,
                                                policy=otp.Policy.of(state.settings), carrier_slug=carrier,
                                                registration_id=rid, code=body.code)
        session.commit()
    return issued


def _step_notice(t: Callable[..., str], exc: DomainError) -> str:
    if exc.code == "registration_verified":
        return t("register.verified_elsewhere")
    return _message(t, exc.code, exc.detail, seconds=_retry_after(exc))


@router.post("/register/{carrier}/{registration_id}/code", response_class=HTMLResponse)
async def resend(request: Request, carrier: str, registration_id: str, wait: ResendWait) -> Response:
    """`identity.otp.resend_code`, as POST .../realname/{id}/code: to the phone given at registration,
    typed again (the page never holds it)."""
    t = _t(request)
    rid = _registration_id(registration_id)
    form = await _form(request)
    if rid is None:
        return _code_page(request, carrier, None)
    if wait is not None:
        return _code_page(request, carrier, rid, errors={"phone": t("code.rate_limited", seconds=wait)},
                          status_code=429, headers={"Retry-After": str(wait)})
    try:
        body = ResendIn.model_validate({"phone": form.get("phone", "")})
        await run_in_threadpool(_resend, request, carrier, rid, body)
    except ValidationError as exc:
        return _code_page(request, carrier, rid, errors=_field_errors(t, form, _pydantic_errors(exc)),
                          status_code=422)
    except DomainError as exc:
        if exc.code == "registration_unknown" and isinstance(exc, NotFound):
            # A phone other than the registered one is answered as an unknown registration (the API's way).
            return _code_page(request, carrier, rid, errors={"phone": t("register.resend_unknown")},
                              status_code=exc.status)
        if exc.errors or exc.code == "otp_too_soon":
            errors = _field_errors(t, form, exc.errors) or {
                "phone": _message(t, exc.code, exc.detail, seconds=_retry_after(exc))}
            return _code_page(request, carrier, rid, errors=errors, status_code=exc.status, headers=exc.headers)
        return _code_page(request, carrier, rid, notice=_step_notice(t, exc), status_code=exc.status,
                          headers=exc.headers)
    return _see_other(f"/register/{carrier}/{rid}?sent=1")


def _resend(request: Request, carrier: str, rid: uuid.UUID, body: ResendIn) -> otp.CodeSent:
    state = request.app.state
    with state.sessionmaker() as session:
        db.begin_write(session)
        sent = otp.resend_code(db_session=session, keyring=state.keyring, sender=state.sms_sender,
                               policy=otp.Policy.of(state.settings), carrier_slug=carrier, registration_id=rid,
                               phone=body.phone)
        session.commit()
    return sent
