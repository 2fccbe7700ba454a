"""Who is asking: roles, the authenticated actor, password and token hashing, and the dependencies
routes stack (`CurrentActor`, then `require(Role.X)`).

The accounts domain resolves a bearer token to an `Actor`; core cannot import a domain, so the app
assembly registers that resolver on `app.state.authenticator` (an `Authenticator`).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from parcelguard.core.db import SessionDep
from parcelguard.core.errors import Forbidden, Unauthorized

TOKEN_URL = "/api/v1/auth/token"
TERMINAL_HEADER = "X-Terminal-Id"


class Role(StrEnum):
    COURIER = "courier"
    STATION_MANAGER = "station_manager"
    HQ_SECURITY = "hq_security"
    AUDITOR = "auditor"
    ENTERPRISE = "enterprise"
    REGULATOR = "regulator"
    ADMIN = "admin"


# Roles that belong to a carrier (every other role stands outside any carrier).
CARRIER_ROLES = frozenset(Role) - {Role.REGULATOR}
# Roles that work at one station.
STATION_ROLES = frozenset({Role.COURIER, Role.STATION_MANAGER})


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller of a request."""

    user_id: uuid.UUID
    username: str
    role: Role
    carrier_id: uuid.UUID | None
    station_id: uuid.UUID | None
    token_id: uuid.UUID
    terminal_id: uuid.UUID | None = None


class Authenticator(Protocol):
    def __call__(self, *, db_session: Session, token: str, terminal_id: str | None) -> Actor: ...


# argon2id with the library's defaults (RFC 9106 second recommended option).
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# A hash that verifies nothing, so an unknown username costs as much time as a wrong password.
DUMMY_PASSWORD_HASH = _hasher.hash(secrets.token_urlsafe(16))


def new_token() -> tuple[str, bytes]:
    """A fresh opaque bearer token and the SHA-256 digest that is all the database keeps of it."""
    token = "pgt_" + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def current_actor(
    request: Request, db_session: SessionDep, token: Annotated[str | None, Depends(_bearer)]
) -> Actor:
    if not token:
        raise Unauthorized()
    authenticator: Authenticator = request.app.state.authenticator
    actor = authenticator(db_session=db_session, token=token, terminal_id=request.headers.get(TERMINAL_HEADER))
    request.state.actor_id = str(actor.user_id)
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require(*roles: Role) -> Any:
    """A dependency that lets only `roles` through: `actor: Annotated[Actor, require(Role.ADMIN)]`."""
    allowed = frozenset(roles)

    def check(actor: CurrentActor) -> Actor:
        if actor.role not in allowed:
            raise Forbidden("Your role may not do this.", code="role_not_allowed")
        return actor

    return Depends(check)
