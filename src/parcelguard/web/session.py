"""Signing in to the pages: the API's own bearer token, carried in a cookie instead of a header.

A courier signs in on a registered terminal exactly as the API's `POST /auth/token` with `X-Terminal-Id`
does (`accounts.service.sign_in`): the token is bound to the terminal, and every later page request must
come with the same terminal (the cookie `pg_terminal`, kept a year so a handheld remembers what it is), or
`core.auth` refuses it as it refuses the API's (terminal_mismatch, revoked, expired, ...). The session
cookie is HttpOnly and SameSite=Strict, and every form that changes something also carries a CSRF token: an
HMAC of the session token under a key derived from the root key, so it needs no storage and dies with the
session.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from parcelguard.core.auth import Actor, Role, actor_for
from parcelguard.core.clock import now
from parcelguard.core.errors import Unauthorized

SESSION_COOKIE = "pg_session"
TERMINAL_COOKIE = "pg_terminal"
TERMINAL_COOKIE_MAX_AGE = 365 * 24 * 3600
CSRF_FIELD = "csrf"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start(response: Response, request: Request, *, token: str, expires_at: datetime,
          terminal_id: str | None = None) -> None:
    """Set the session cookie (until the token expires) and remember the terminal, if any."""
    seconds = max(0, int((expires_at - now()).total_seconds()))
    response.set_cookie(SESSION_COOKIE, token, max_age=seconds, path="/", httponly=True, samesite="strict",
                        secure=_secure(request))
    if terminal_id is None:
        return
    response.set_cookie(TERMINAL_COOKIE, terminal_id, max_age=TERMINAL_COOKIE_MAX_AGE, path="/", httponly=True,
                        samesite="strict", secure=_secure(request))


def end(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def token_of(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def terminal_of(request: Request) -> str:
    return request.cookies.get(TERMINAL_COOKIE, "")


async def courier(request: Request) -> Actor | None:
    """The signed-in courier of this page request (on the terminal the session is bound to), or None: no
    session, an expired or revoked one, another terminal, or an account that is not a courier's."""
    token = token_of(request)
    if token is None:
        return None
    try:
        actor = await actor_for(request, token, terminal_of(request) or None)
    except Unauthorized:
        return None
    if actor.role != Role.COURIER or actor.terminal_id is None:
        return None
    return actor


def console(*roles: Role) -> Callable[[Request], Awaitable[Actor | None]]:
    """A dependency: the signed-in actor of a console request if their role is one of `roles`, else None
    (a console session is bound to no terminal; any other role, or none, gets the sign-in page)."""
    allowed = frozenset(roles)

    async def signed_in(request: Request) -> Actor | None:
        token = token_of(request)
        if token is None:
            return None
        try:
            actor = await actor_for(request, token, None)
        except Unauthorized:
            return None
        return actor if actor.role in allowed and actor.terminal_id is None else None

    return signed_in


station_manager = console(Role.STATION_MANAGER)
HQ_ROLES = frozenset({Role.HQ_SECURITY, Role.AUDITOR})  # who signs in to the HQ console (the admin works by the API)
hq = console(*HQ_ROLES)  # every HQ page's wall: a role the HQ sign-in refuses opens no HQ page either


def to_sign_in(request: Request, path: str = "/courier/login") -> RedirectResponse:
    """Back to the sign-in page (303: the browser follows with a GET)."""
    response = RedirectResponse(path, status_code=303)
    if token_of(request):
        end(response)
    return response


def _csrf_key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "csrf_key", None)
    if key is None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"parcelguard/pages-csrf/v1").derive(request.app.state.settings.load_root_key())
        request.app.state.csrf_key = key
    return key


def csrf_token(request: Request) -> str:
    """The CSRF token of this session, for a hidden field of every form that changes something."""
    token = token_of(request) or ""
    # base64url, not hex: a page's canary scan looks for runs of digits, and hex has long ones by chance
    return base64.urlsafe_b64encode(hmac.new(_csrf_key(request), token.encode(), "sha256").digest()).decode()


def csrf_ok(request: Request, sent: object) -> bool:
    return isinstance(sent, str) and bool(token_of(request)) and hmac.compare_digest(sent, csrf_token(request))
