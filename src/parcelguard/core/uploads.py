"""Multipart request bodies (a JSON part plus files), read into memory within a size limit.

Starlette's `Request.form()` spools any file over 1 MiB to a temporary file on disk; an inspection
photo may show whose a parcel is, and must never rest unencrypted on the server's disk. Here the same
parser (python-multipart through Starlette) keeps each file in memory up to `max_bytes`, and the whole
body is cut off at `max_bytes` with a 413 before it is read further.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from parcelguard.core.errors import Invalid, TooLarge


@dataclass(frozen=True)
class UploadedFile:
    field: str
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:  # never the file's name or bytes: either may be personal
        return f"UploadedFile({self.field}, {self.content_type}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Multipart:
    fields: dict[str, str]
    files: list[UploadedFile]


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_multipart(request: Request, *, max_bytes: int, max_files: int,
                         max_field_bytes: int = 1024 * 1024) -> Multipart:
    """The body's text fields and files. 413 `body_too_large` past `max_bytes` in all; 422
    `multipart_invalid` for a body that is not well-formed multipart or has more than `max_files` files."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"The request body exceeds {max_bytes // (1024 * 1024)} MiB.")
    parser = MultiPartParser(request.headers, _limited(request, max_bytes), max_files=max_files,
                             max_fields=50, max_part_size=max_field_bytes)
    parser.spool_max_size = max_bytes + 1  # in memory, never a temporary file on disk
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise Invalid("The body is not a well-formed multipart form within its limits.",
                      code="multipart_invalid") from exc
    fields: dict[str, str] = {}
    files: list[UploadedFile] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append(UploadedFile(field=name, content_type=value.content_type, data=await value.read()))
            else:
                fields[name] = value
    finally:
        await form.close()
    return Multipart(fields=fields, files=files)


async def _limited(request: Request, max_bytes: int) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise TooLarge(f"The request body exceeds {max_bytes // (1024 * 1024)} MiB.")
        yield chunk
