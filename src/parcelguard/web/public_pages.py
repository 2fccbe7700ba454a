"""Public pages (no sign-in). `/check`: is this courier genuine? The page form of the API route
GET /api/v1/public/couriers/verify: the same service function and the same rate limit (one counter for
both), so the page is no way around either.

The courier's QR token arrives pasted (or filled in by scan.js from the camera) in the field `token`, or as
a photo in `photo`, which the server decodes (qr_upload). Nothing is written and nothing the visitor sends
is logged or kept; the answer has one shape, genuine or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from parcelguard.core import uploads
from parcelguard.core.errors import Invalid, TooLarge, TooManyRequests
from parcelguard.identity import service as identity_service
from parcelguard.identity.api import VERIFY_LIMITS
from parcelguard.web import i18n, qr_upload
from parcelguard.web.templating import render

router = APIRouter(include_in_schema=False)

MAX_TOKEN_CHARS = 400  # as the API route's `token` parameter
MAX_PHOTO_MIB = qr_upload.MAX_IMAGE_BYTES // (1024 * 1024)
_FORM_LIMIT = qr_upload.MAX_IMAGE_BYTES + 64 * 1024  # the photo plus the text field and the multipart framing
_FIELD_LIMIT = 16 * 1024


@dataclass(frozen=True)
class Answer:
    """What the result section shows. Not genuine shows no carrier, station or courier at all: a stolen or
    disabled courier's code must not lend a name to whoever shows it."""

    genuine: bool
    carrier: str | None = None
    station: str | None = None
    courier: str | None = None  # masked, as verify_courier gives it

    @classmethod
    def of(cls, check: identity_service.CourierCheck) -> Answer:
        if not check.genuine:
            return cls(genuine=False)
        return cls(genuine=True, carrier=check.carrier, station=check.station, courier=check.courier)


class _FieldProblem(Exception):
    def __init__(self, field: str, key: str, status: int = 422, **values: object) -> None:
        super().__init__(key)
        self.field, self.key, self.status, self.values = field, key, status, values


def _verify_limit(request: Request) -> int | None:
    """Count the request on the API route's own counter (VERIFY_LIMITS); the seconds to wait when over it.
    A dependency, so it is counted in a short transaction of its own before anything else."""
    try:
        VERIFY_LIMITS.dependency(request)
    except TooManyRequests as exc:
        return int(exc.extensions.get("retry_after", 60))
    return None


@router.get("/check", response_class=HTMLResponse)
def check_page(request: Request) -> HTMLResponse:
    return _page(request)


@router.post("/check", response_class=HTMLResponse)
async def check_courier(request: Request, wait: Annotated[int | None, Depends(_verify_limit)]) -> HTMLResponse:
    t = i18n.translator(i18n.choose(request).lang)
    if wait is not None:
        return _page(request, status_code=429, notice=t("error.rate_limited", seconds=wait),
                     headers={"Retry-After": str(wait)})
    try:
        token = await _token_from_form(request)
    except _FieldProblem as problem:
        return _page(request, status_code=problem.status,
                     errors={problem.field: t(problem.key, **problem.values)})
    check = await run_in_threadpool(_verify, request, token)
    return _page(request, answer=Answer.of(check))


async def _token_from_form(request: Request) -> str:
    """The token from the photo when one was sent, else from the text field; _FieldProblem otherwise."""
    text, image = await _read_form(request)
    if image:
        if len(image) > qr_upload.MAX_IMAGE_BYTES:
            raise _FieldProblem("photo", "error.photo_too_large", 413, mib=MAX_PHOTO_MIB)
        try:
            decoded = await run_in_threadpool(qr_upload.decode_qr, image)
        except qr_upload.NotAnImage:
            raise _FieldProblem("photo", "error.photo_not_image") from None
        if decoded is None:
            raise _FieldProblem("photo", "error.photo_no_qr")
        field, token = "photo", token_of(decoded)
    else:
        field, token = "token", token_of(text)
    if not token:
        raise _FieldProblem(field, "error.token_missing" if field == "token" else "error.photo_no_qr")
    if len(token) > MAX_TOKEN_CHARS:
        raise _FieldProblem(field, "error.token_too_long")
    return token


async def _read_form(request: Request) -> tuple[str, bytes]:
    """(the text field, the photo's bytes or b""), read in memory within the photo's limit."""
    if uploads.is_multipart(request):
        try:
            form = await uploads.read_multipart(request, max_bytes=_FORM_LIMIT, max_files=1,
                                                max_field_bytes=_FIELD_LIMIT)
        except TooLarge:
            raise _FieldProblem("photo", "error.photo_too_large", 413, mib=MAX_PHOTO_MIB) from None
        except Invalid:
            raise _FieldProblem("token", "error.token_missing") from None
        photo = next((f.data for f in form.files if f.field == "photo"), b"")
        return form.fields.get("token", ""), photo
    form = await request.form(max_files=0, max_fields=10)
    value = form.get("token")
    return (value if isinstance(value, str) else ""), b""


def token_of(text: str) -> str:
    """The token in what was pasted or decoded: the text without whitespace, or a link's `token` parameter
    (a QR code may hold a link to this page, which a phone's own camera app opens)."""
    text = "".join(text.split())
    if "token=" in text:
        found = parse_qs(urlsplit(text).query).get("token")
        if found:
            return found[0]
    return text


def _verify(request: Request, token: str) -> identity_service.CourierCheck:
    """identity.service.verify_courier, as the API route calls it, in a read-only session."""
    with request.app.state.sessionmaker() as session:
        return identity_service.verify_courier(db_session=session, keyring=request.app.state.keyring, token=token)


def _page(request: Request, *, status_code: int = 200, answer: Answer | None = None,
          errors: dict[str, str] | None = None, notice: str | None = None,
          headers: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "check_courier.html",
                  {"result": answer, "errors": errors or {}, "notice": notice, "max_photo_mib": MAX_PHOTO_MIB},
                  status_code=status_code, headers=headers)
