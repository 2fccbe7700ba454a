"""The OpenAPI document tells the truth about errors: every error answer is RFC 9457 problem+json.

FastAPI documents a 422 as `application/json` with its own validation schema, and nothing else, so a
generated client mis-reads every error. `document_problems` rewrites each operation's error responses,
on both platforms, to `application/problem+json` with one shared `Problem` schema, and adds the errors
every route can answer by what it takes (a body, parameters, a sign-in), with `4XX`/`5XX` ranges
(OpenAPI 3.1 §4.8.16.2) for the rest. It post-processes the generated document in one place instead of
a `responses=` on each of ~70 routes, so a new route is documented right without anyone remembering to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from parcelguard.core.errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_PREFIX

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error, as RFC 9457 problem details. Match on `code`: it is stable; `detail` may change. "
                   "Some problems carry more members (RFC 9457 §3.2), e.g. a refused reveal's `reason` and "
                   "`log_index`. No member ever holds personal data.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": f"`{PROBLEM_TYPE_PREFIX}<code>`"},
        "title": {"type": "string", "description": "The HTTP status phrase."},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What is wrong, for a person; never echoes input."},
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "description": "Stable machine code."},
        "instance": {"type": "string", "description": "`urn:parcelguard:request:<id>`, as in the server log."},
        "errors": {
            "type": "array",
            "description": "The offending fields, each with its own code.",
            "items": {
                "type": "object",
                "required": ["pointer", "code", "detail"],
                "properties": {
                    "pointer": {"type": "string", "description": "RFC 6901 pointer into the body, or "
                                                               "`#query/<name>`, `#path/<name>`, `#header/<name>`."},
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

# What each status means wherever it is not described by the route itself.
GENERIC = {
    "400": "`malformed_json` or `bad_request`: the body could not be read; nothing was written",
    "401": "`unauthenticated`, `token_invalid`, `terminal_mismatch`, ...: sign in again",
    "403": "`forbidden`, `role_not_allowed`, ...: your role or terminal may not do this",
    "404": "Not found, or not yours to see (the two answer alike)",
    "413": "`body_too_large`: nothing was read",
    "422": "`validation_failed` or a domain code: every offending field in `errors`; nothing was written",
    "4XX": "Any other refusal, with its code",
    "5XX": "`internal_error` (the server could not answer; the log has the request id) or `unavailable`",
}
_REF = {"$ref": "#/components/schemas/Problem"}


def document_problems(app: FastAPI) -> None:
    """Wrap `app.openapi` so its document describes every error as problem+json."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = rewrite(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def rewrite(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                _document(operation)
    # FastAPI's own validation shapes are never sent: drop them once nothing else refers to them.
    unsent = {name: components.pop(name) for name in ("HTTPValidationError", "ValidationError") if name in components}
    text = json.dumps(schema)
    components.update({name: value for name, value in unsent.items() if f"/schemas/{name}\"" in text})
    return schema


def _document(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    statuses = {"4XX", "5XX"}
    if operation.get("requestBody"):
        statuses |= {"400", "413", "422"}
    if operation.get("parameters"):
        statuses.add("422")
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses.add("404")
    if operation.get("security"):
        statuses |= {"401", "403"}
    for status in statuses:
        responses.setdefault(status, {})
    for status, response in responses.items():
        if status[0] in "45":
            description = response.get("description")
            if not description or description == "Validation Error":
                description = GENERIC.get(status, GENERIC[status[0] + "XX"])
            response.clear()
            response.update(description=description, content={PROBLEM_MEDIA_TYPE: {"schema": _REF}})
    operation["responses"] = dict(sorted(responses.items()))

