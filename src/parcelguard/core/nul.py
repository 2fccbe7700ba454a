"""NUL characters in a request: refused before any route reads them.

No text of ours may hold U+0000, and PostgreSQL cannot store one in a text column (SQLite can), so a NUL
that reached a query answered 500 on one engine and was stored on the other. The request layer refuses
it instead, alike on both engines and for every route: in the path, in a query parameter, or anywhere in
a JSON body (named by its RFC 6901 pointer, as a validation error is)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Scope

from parcelguard.core.errors import FieldError

DETAIL = "A NUL character is not allowed here."


def in_url(scope: Scope) -> list[FieldError]:
    found = []
    if "\x00" in scope.get("path", ""):
        found.append(FieldError(pointer="#path", code="nul_character", detail=DETAIL))
    return found + in_form(scope.get("query_string", b""), prefix="#query/")


def in_form(data: bytes, *, prefix: str = "/") -> list[FieldError]:
    """Where a query string or an `application/x-www-form-urlencoded` body holds a NUL."""
    found = []
    if b"\x00" in data or b"%00" in data.lower():
        for name, value in parse_qsl(data.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                # The name is the client's own: shown only when it is printable and short.
                shown = name if name.isprintable() and len(name) <= 64 else "?"
                found.append(FieldError(pointer=f"{prefix}{shown}", code="nul_character", detail=DETAIL))
    return found


def in_json(body: bytes) -> list[FieldError]:
    """Where a JSON body holds a NUL, in a string or a key. JSON can carry one only as the escape
    `\\u0000`, so a body without that text is not parsed here at all."""
    if b"\\u0000" not in body:
        return []
    try:
        document = json.loads(body)
    except ValueError:
        return []  # not JSON: the route answers malformed_json
    found: list[FieldError] = []
    _walk(document, "", found)
    return found


def _walk(value: Any, pointer: str, found: list[FieldError]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            found.append(FieldError(pointer=pointer or "/", code="nul_character", detail=DETAIL))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{pointer}/{i}", found)
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                found.append(FieldError(pointer=pointer or "/", code="nul_character", detail=DETAIL))
                continue
            _walk(item, f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}", found)
