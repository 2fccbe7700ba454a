"""Domain errors and their one mapping to RFC 9457 problem+json.

Services raise `NotFound`, `Forbidden`, `Invalid`, ... with a stable snake_case `code`; this module
turns every error (ours, the framework's, and the unexpected) into the same shape:
`{type, title, status, detail, code, instance, errors?}`. Messages never carry input values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:parcelguard:problem:"


@dataclass(frozen=True)
class FieldError:
    """One offending field: a JSON pointer (RFC 6901) into the request, a code and a message."""

    pointer: str
    code: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "code": self.code, "detail": self.detail}


class DomainError(Exception):
    """Base of every error a service raises on purpose. `detail` must never hold personal data."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.errors = list(errors)
        if field is not None and not self.errors:
            self.errors = [FieldError(pointer=field, code=self.code, detail=detail)]
        self.headers = headers or {}
        # Extra problem members (RFC 9457 §3.2), e.g. a denial's `reason`: never personal data.
        self.extensions = extensions or {}


class Invalid(DomainError):
    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthenticated"

    def __init__(self, detail: str = "Authentication is required.", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TooLarge(DomainError):
    status = 413
    code = "body_too_large"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"


class ServiceUnavailable(DomainError):
    status = 503
    code = "unavailable"


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    for key, value in (extensions or {}).items():
        body.setdefault(key, value)
    return Response(
        json.dumps(body, ensure_ascii=False), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def instance_of(request_id: str | None) -> str | None:
    return f"urn:parcelguard:request:{request_id}" if request_id else None


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


# Framework status codes that have no domain error behind them.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def validation_errors(raw: Sequence[Any]) -> tuple[bool, list[FieldError]]:
    """Pydantic's errors as field errors; the first item says whether the body was not JSON at all.

    Pydantic's `input` and `ctx` are dropped: they echo what the client sent, which may be personal.
    """
    malformed = False
    out = []
    for err in raw:
        kind = err.get("type", "invalid")
        loc = [str(p) for p in err.get("loc", ())]
        if kind == "json_invalid":
            malformed = True
            out.append(FieldError(pointer="", code=kind, detail="The body is not valid JSON."))
            continue
        pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in loc[1:]) if loc[:1] == ["body"] else ""
        if loc[:1] in (["query"], ["path"], ["header"], ["cookie"]):
            pointer = f"#{loc[0]}/" + "/".join(loc[1:])
        out.append(FieldError(pointer=pointer or "/", code=kind, detail=str(err.get("msg", "invalid value"))))
    return malformed, out


def install(app: FastAPI) -> None:
    """Map every error the app can raise to problem+json."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return problem(
            exc.status, exc.code, exc.detail, instance=instance_of(_request_id(request)),
            errors=exc.errors, headers=exc.headers, extensions=exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        malformed, errors = validation_errors(exc.errors())
        if malformed:
            return problem(400, "malformed_json", "The request body is not valid JSON.",
                           instance=instance_of(_request_id(request)), errors=errors)
        return problem(422, "validation_failed", "The request has invalid or missing fields.",
                       instance=instance_of(_request_id(request)), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = {
            404: "There is nothing at this address.",
            405: f"{request.method} is not allowed here.",
        }.get(exc.status_code, str(exc.detail) if exc.status_code < 500 else "The server could not answer.")
        return problem(exc.status_code, code, detail, instance=instance_of(_request_id(request)),
                       headers=getattr(exc, "headers", None))
