"""The outermost request layer: request id, body size limit, one log line per request, and the
last-resort 500. Pure ASGI, so it sees the body as it streams and costs little per request."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parcelguard.core import nul as nul_guard
from parcelguard.core.errors import FieldError, instance_of, problem
from parcelguard.core.logging import get_logger

log = get_logger("parcelguard.request")
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class _BodyTooLarge(Exception):
    pass


class RequestContext:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max(max_upload_bytes or max_body_bytes, max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _CLIENT_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = {"code": 500, "sent": False}
        too_large = False
        limit = (self.max_upload_bytes if headers.get("content-type", "").lower().startswith("multipart/form-data")
                 else self.max_body_bytes)

        async def send_wrapper(message: Message) -> None:
            if too_large:
                # The app turned the interrupted body into an error of its own (FastAPI says 400):
                # drop its answer and send, once, the 413 that names the real cause.
                if message["type"] == "http.response.start" and not status["sent"]:
                    await self._too_large(scope, receive, send_wrapper_raw, request_id, limit)
                return
            await send_wrapper_raw(message)

        async def send_wrapper_raw(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise _BodyTooLarge
            app_receive: Receive = receive_wrapper
            nul = nul_guard.in_url(scope)
            check = _body_check(headers.get("content-type", ""))
            if not nul and check is not None:
                # Such a body is small (max_body_bytes): read it whole, look for NULs, then hand it on.
                messages = await _read_body(receive_wrapper)
                nul = check(b"".join(m.get("body", b"") for m in messages))
                app_receive = _replay(messages, receive)
            if nul:
                await problem(422, "validation_failed", "The request has invalid or missing fields.",
                              instance=instance_of(request_id), errors=nul)(scope, receive, send_wrapper_raw)
                return
            await self.app(scope, app_receive, send_wrapper)
        except _BodyTooLarge:
            if not status["sent"]:
                await self._too_large(scope, receive, send_wrapper_raw, request_id, limit)
        except Exception:
            log.exception("unhandled_error", route=_route(scope))
            if not status["sent"]:
                await problem(
                    500, "internal_error", "The server met an unexpected condition; the request changed nothing.",
                    instance=instance_of(request_id),
                )(scope, receive, send_wrapper_raw)
        finally:
            log.info(
                "request",
                method=scope.get("method"),
                route=_route(scope),
                status=status["code"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                actor_id=state.get("actor_id"),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, request_id: str, limit: int) -> None:
        await problem(
            413, "body_too_large", f"The request body is larger than {limit} bytes.",
            instance=instance_of(request_id),
        )(scope, receive, send)


def _body_check(content_type: str) -> Callable[[bytes], list[FieldError]] | None:
    """How to find NULs in a body of this type; None for the rest (a photo holds zero bytes rightly)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return nul_guard.in_json
    if media == "application/x-www-form-urlencoded":
        return nul_guard.in_form
    return None


async def _read_body(receive: Receive) -> list[Message]:
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives the messages already read, then whatever comes next (a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _route(scope: Scope) -> str:
    """The route template (`/api/v1/terminals/{terminal_id}`), never the raw path, which may hold
    waybill numbers or other user information; unmatched paths are logged as `<unmatched>`.

    Built from the path and its matched parameters, which every Starlette version exposes
    (FastAPI's included routers keep only the path relative to their prefix on `scope["route"]`).
    """
    if scope.get("route") is None:
        return "<unmatched>"
    names = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    return "/".join(f"{{{names[seg]}}}" if seg in names else seg for seg in scope["path"].split("/"))
