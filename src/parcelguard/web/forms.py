"""Reading the pages' forms: text fields and photos, in memory and within limits, and a QR code's text from
either a field (pasted, or filled in by the camera script) or a photo the server decodes."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from parcelguard.core import uploads
from parcelguard.core.errors import Invalid, TooLarge
from parcelguard.web import qr_upload
from parcelguard.web.public_pages import token_of

MAX_FIELD_BYTES = 16 * 1024


class FieldProblem(Exception):
    """A form field's problem, shown next to it: a message key of web/i18n.py and its values."""

    def __init__(self, name: str, key: str, status: int = 422, **values: object) -> None:
        super().__init__(key)
        self.name, self.key, self.status, self.values = name, key, status, values


@dataclass
class Form:
    fields: dict[str, str]
    files: dict[str, list[bytes]] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.fields.get(name, "").strip()

    def photos(self, name: str) -> list[bytes]:
        return [data for data in self.files.get(name, []) if data]


async def read(request: Request, *, max_bytes: int, max_files: int) -> Form:
    """The form (multipart or urlencoded); FieldProblem("form", ...) when it is too large or malformed."""
    if uploads.is_multipart(request):
        try:
            body = await uploads.read_multipart(request, max_bytes=max_bytes, max_files=max_files,
                                                max_field_bytes=MAX_FIELD_BYTES)
        except TooLarge:
            raise FieldProblem("form", "error.form_too_large", 413, mib=max_bytes // (1024 * 1024)) from None
        except Invalid:
            raise FieldProblem("form", "error.form_invalid") from None
        files: dict[str, list[bytes]] = {}
        for upload in body.files:
            files.setdefault(upload.field, []).append(upload.data)
        return Form(dict(body.fields), files)
    parsed = await request.form(max_files=0, max_fields=200)
    return Form({k: v for k, v in parsed.items() if isinstance(v, str)})


async def qr_text(form: Form, *, text_field: str, photo_field: str) -> str | None:
    """The QR code's text: from the photo when one was sent (decoded on the server), else from the text
    field; None when neither was given; FieldProblem when the photo cannot be read."""
    photos = form.photos(photo_field)
    if photos:
        image = photos[0]
        if len(image) > qr_upload.MAX_IMAGE_BYTES:
            raise FieldProblem(photo_field, "error.photo_too_large", 413,
                               mib=qr_upload.MAX_IMAGE_BYTES // (1024 * 1024))
        try:
            decoded = await run_in_threadpool(qr_upload.decode_qr, image)
        except qr_upload.NotAnImage:
            raise FieldProblem(photo_field, "error.photo_not_image") from None
        if decoded is None:
            raise FieldProblem(photo_field, "error.photo_no_qr")
        return token_of(decoded)
    text = token_of(form.get(text_field))
    return text or None
