"""Signing in on a page: the courier's app (on a terminal) and each console (on none) go through this one
function, which is `accounts.service.sign_in` as `POST /api/v1/auth/token` runs it, plus the page's rules:
each app takes one role, and the answer is a session cookie or the errors next to their fields."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from parcelguard.accounts import service as accounts
from parcelguard.core.auth import Actor, Role, forget_cached_actors
from parcelguard.core.errors import DomainError
from parcelguard.web import i18n, session


def sign_in(request: Request, db_session: Session, *, role: Role | frozenset[Role], username: str, password: str,
            terminal: str | None, wrong_role: str, home: str,
            message_of: Callable[[Request, DomainError], str]) -> Response | dict[str, str]:
    """A redirect to `home` with the session cookie set, or the errors by field name. `terminal`: the
    terminal id the session is bound to (the courier's app), or None (a console: bound to none). Another
    role than `role` (or those of a set of roles) gets `wrong_role`'s message and no token."""
    roles = role if isinstance(role, frozenset) else frozenset({role})
    t = i18n.translator(i18n.choose(request).lang)
    errors: dict[str, str] = {}
    if not username.strip():
        errors["username"] = t("courier.login.username_missing")
    if not password:
        errors["password"] = t("courier.login.password_missing")
    if terminal is not None and not terminal.strip():
        errors["terminal"] = t("courier.login.terminal_missing")
    if errors:
        return errors
    settings = request.app.state.settings
    try:
        issued = accounts.sign_in(
            db_session=db_session, username=username, password=password,
            terminal_id=terminal.strip() if terminal is not None else None,
            token_ttl=timedelta(seconds=settings.token_ttl_seconds), max_failures=settings.login_max_failures,
            lockout=timedelta(seconds=settings.login_lockout_seconds))
    except DomainError as exc:
        db_session.rollback()
        return {"terminal" if exc.code.startswith("terminal_") else "password": message_of(request, exc)}
    if issued.user.role not in roles:
        db_session.rollback()  # no token for an account this app is not for
        return {"username": t(wrong_role)}
    db_session.commit()
    response = RedirectResponse(home, status_code=303)
    session.start(response, request, token=issued.token, expires_at=issued.expires_at,
                  terminal_id=str(issued.terminal_id) if issued.terminal_id else None)
    return response


def sign_out(request: Request, db_session: Session, actor: Actor | None, csrf: str, login: str) -> Response:
    """Revoke the session's token (`accounts.service.sign_out`, as `POST /api/v1/auth/logout`) when the form
    carries the session's CSRF token, and back to the sign-in page `login` without the cookie."""
    if actor is not None and session.csrf_ok(request, csrf):
        accounts.sign_out(db_session=db_session, actor=actor)
        forget_cached_actors(request, session.token_of(request))
    response = RedirectResponse(login, status_code=303)
    session.end(response)
    return response
