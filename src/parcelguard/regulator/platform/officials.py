"""The regulator's officials: their accounts on the platform, sign-in and bearer tokens. No HTTP.

The platform keeps its own accounts (never the carrier platform's `accounts`, which it may not import)
with `core.auth`'s mechanisms: Argon2id password hashes, opaque tokens of which only a SHA-256 digest is
stored, a dummy hash for unknown usernames so timing does not tell, and failed sign-ins counted per
username in a transaction of their own. `authenticate` is the app's `core.auth.Authenticator`: every
official is an `Actor` with `Role.REGULATOR`, of no carrier and no station.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.core import auth
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, Invalid, NotFound, Unauthorized
from parcelguard.regulator.platform.models import Official, OfficialLoginThrottle, OfficialToken

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")  # as the carrier platform's accounts
MIN_PASSWORD_LENGTH = 10


def add_official(*, db_session: Session, username: str, display_name: str, password: str) -> Official:
    """A new official, active, with the role `regulator`."""
    if not USERNAME.match(username):
        raise Invalid("A username is 3-64 lowercase letters, digits, dots, dashes or underscores.",
                      code="username_format", field="/username")
    display_name = display_name.strip()
    if not 0 < len(display_name) <= 200:
        raise Invalid("A display name is 1 to 200 characters.", code="display_name_format", field="/display_name")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"A password has at least {MIN_PASSWORD_LENGTH} characters.", code="password_too_short",
                      field="/password")
    if db_session.scalar(select(Official.id).where(Official.username == username)) is not None:
        raise Conflict("This username is taken.", code="username_taken", field="/username")
    official = Official(username=username, display_name=display_name, password_hash=auth.hash_password(password),
                        active=True, created_at=now())
    db_session.add(official)
    db_session.flush()
    return official


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    official: Official


def sign_in(*, db_session: Session, username: str, password: str, token_ttl: timedelta, max_failures: int,
            lockout: timedelta) -> IssuedToken:
    """Check a password and issue a bearer token. After `max_failures` failures in a row a username is
    locked for `lockout` (429 `login_locked`), whether or not an official has it."""
    username = username.strip().lower()
    moment = now()
    throttle = auth.refuse_if_locked(db_session=db_session, throttle=OfficialLoginThrottle, username=username,
                                     moment=moment)
    official = db_session.scalar(select(Official).where(Official.username == username))
    auth.check_password(db_session=db_session, throttle=OfficialLoginThrottle, throttle_row=throttle,
                        username=username, account=official, password=password, max_failures=max_failures,
                        lockout=lockout)
    assert official is not None
    token, digest = auth.new_token()
    expires_at = moment + token_ttl
    db_session.add(OfficialToken(official_id=official.id, token_hash=digest, issued_at=moment, expires_at=expires_at))
    db_session.flush()
    return IssuedToken(token=token, expires_at=expires_at, official=official)


_ACTOR_QUERY = (
    select(OfficialToken.id, OfficialToken.expires_at, OfficialToken.revoked_at, Official.id, Official.username,
           Official.active)
    .join(Official, Official.id == OfficialToken.official_id)
)


def authenticate(*, db_session: Session, token: str, terminal_id: str | None) -> Actor:
    """The official behind a bearer token (`core.auth.Authenticator`; officials use no terminal, so
    `terminal_id` is not consulted). One indexed query."""
    row = db_session.execute(_ACTOR_QUERY.where(OfficialToken.token_hash == auth.token_digest(token))).first()
    if row is None:
        raise Unauthorized("The token is not valid.", code="token_invalid")
    token_id, expires_at, revoked_at, official_id, username, active = row
    if revoked_at is not None:
        raise Unauthorized("The token has been revoked.", code="token_revoked")
    if expires_at <= now():
        raise Unauthorized("The token has expired.", code="token_expired")
    if not active:
        raise Unauthorized("The account is disabled.", code="account_disabled")
    return Actor(user_id=official_id, username=username, role=Role.REGULATOR, carrier_id=None, station_id=None,
                 token_id=token_id, token_expires_at=expires_at.timestamp())


def sign_out(*, db_session: Session, actor: Actor) -> None:
    token = db_session.get(OfficialToken, actor.token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = now()


def get_official(*, db_session: Session, official_id: uuid.UUID) -> Official | None:
    return db_session.get(Official, official_id)


def disable_official(*, db_session: Session, username: str) -> None:
    """An official who may no longer sign in; their tokens stop working at once (the app keeps no cache)."""
    official = db_session.scalar(select(Official).where(Official.username == username.strip().lower()))
    if official is None:
        raise NotFound("No official has this username.", code="official_unknown")
    official.active = False
    db_session.flush()
