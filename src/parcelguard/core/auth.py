"""Who is asking: roles, the authenticated actor, password and token hashing, and the dependencies
routes stack (`CurrentActor`, then `require(Role.X)`).

The accounts domain resolves a bearer token to an `Actor`; core cannot import a domain, so the app
assembly registers that resolver on `app.state.authenticator` (an `Authenticator`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from parcelguard.core.clock import now
from parcelguard.core.errors import Forbidden, TooManyRequests, Unauthorized
from parcelguard.core.fresh_reads import FreshRead

TOKEN_URL = "/api/v1/auth/token"
TERMINAL_HEADER = "X-Terminal-Id"


class Role(StrEnum):
    COURIER = "courier"
    # A hub or station scanner (分拣): records parcels arriving and leaving; sees no personal data.
    SORTER = "sorter"
    STATION_MANAGER = "station_manager"
    HQ_SECURITY = "hq_security"
    AUDITOR = "auditor"
    ENTERPRISE = "enterprise"
    REGULATOR = "regulator"
    ADMIN = "admin"
    # The telephony provider's service account (one per carrier, never signs in): routes calls to
    # virtual numbers, through the gate with the purpose call_routing.
    TELEPHONY = "telephony"


# Roles that belong to a carrier (every other role stands outside any carrier).
CARRIER_ROLES = frozenset(Role) - {Role.REGULATOR}
# Service accounts: they act through the API's machine routes and never sign in.
SERVICE_ROLES = frozenset({Role.TELEPHONY})
# Roles that work at one station.
STATION_ROLES = frozenset({Role.COURIER, Role.SORTER, Role.STATION_MANAGER})


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
    token_expires_at: float = 0.0  # POSIX time
    # On the enterprise console (a platform of its own): the company the employee works for; None elsewhere.
    company_id: uuid.UUID | None = None


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


# -- sign-in throttling: a table of (username, failures, last_failure_at, locked_until) rows ---------

def refuse_if_locked(*, db_session: Session, throttle: type[Any], username: str, moment: datetime) -> Any:
    """Raise 429 `login_locked` (with `Retry-After`) while `username` is locked in the `throttle` table;
    answers its row, if any, for `forgive` after a good sign-in."""
    row = db_session.get(throttle, username)
    if row is not None and row.locked_until is not None and row.locked_until > moment:
        retry = int((row.locked_until - moment).total_seconds()) + 1
        raise TooManyRequests("Too many failed sign-ins; try again later.", code="login_locked",
                              headers={"Retry-After": str(retry)})
    return row


def count_failure(*, db_session: Session, throttle: type[Any], username: str, max_failures: int,
                  lockout: timedelta) -> None:
    """Count a failed sign-in in a transaction of its own, and lock the username for `lockout` after
    `max_failures` in a row. The request fails: its transaction ends first, so the count never waits on
    the request's own locks (on SQLite a writing request holds the write lock from its start). Keyed by
    username whether or not an account has it, so a lock reveals nothing."""
    moment = now()
    bind = db_session.get_bind()
    db_session.rollback()
    insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    with Session(bind=bind) as counter, counter.begin():
        counter.execute(insert(throttle).values(username=username, failures=1, last_failure_at=moment)
                        .on_conflict_do_update(index_elements=[throttle.username],
                                               set_={"failures": throttle.failures + 1, "last_failure_at": moment}))
        row = counter.get(throttle, username, populate_existing=True)
        assert row is not None
        if row.failures >= max_failures:
            row.failures = 0
            row.locked_until = moment + lockout


def check_password(*, db_session: Session, throttle: type[Any], throttle_row: Any, username: str, account: Any,
                   password: str, max_failures: int, lockout: timedelta) -> None:
    """The sign-in check both platforms share: `account` (None when no one has the username) must be
    active and its password right, else the failure is counted and the answer is 401 `login_failed`,
    the same answer in the same time whichever was wrong (a dummy hash is checked for a missing
    account). A good sign-in clears the username's failures and upgrades an outdated hash."""
    ok = verify_password(account.password_hash if account is not None else DUMMY_PASSWORD_HASH, password)
    if account is None or not ok or not account.active or getattr(account, "role", None) in SERVICE_ROLES:
        count_failure(db_session=db_session, throttle=throttle, username=username, max_failures=max_failures,
                      lockout=lockout)
        raise Unauthorized("The username or password is wrong.", code="login_failed")
    if throttle_row is not None:
        db_session.delete(throttle_row)
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)


def new_token() -> tuple[str, bytes]:
    """A fresh opaque bearer token and the SHA-256 digest that is all the database keeps of it."""
    token = "pgt_" + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


async def bearer_token(token: Annotated[str | None, Depends(_bearer)]) -> str:
    if not token:
        raise Unauthorized()
    return token


class ActorCache:
    """Tokens this process authenticated in the last `ttl` seconds, so a busy terminal's requests
    do not each cost the token lookup.

    With an epoch reader (`app.state.auth_epoch`: the carrier platform's, a counter every revocation increases in
    its own transaction) an entry counts only while the epoch it was looked up under is current: a revocation
    holds in every worker process at once, for one primary-key read per request. Without one (the platforms that
    run one process), revocation clears the entry at once in the process that revokes and other processes notice
    within `ttl` seconds. A token's own expiry is always honoured. A `ttl` of 0 turns the cache off.
    """

    def __init__(self, ttl: float, max_entries: int = 50_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[Actor, str | None, float, int]] = {}

    def get(self, digest: bytes, terminal_header: str | None, epoch: int = 0) -> Actor | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        actor, header, until, cached_epoch = entry
        if header != terminal_header or until <= time.time() or cached_epoch != epoch:
            return None
        return actor

    def put(self, digest: bytes, actor: Actor, terminal_header: str | None, token_expires_at: float,
            epoch: int = 0) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (actor, terminal_header, min(time.time() + self.ttl, token_expires_at), epoch)

    def forget(self, digest: bytes | None = None) -> None:
        """Forget one token, or every token (`None`), e.g. when a terminal is revoked."""
        if digest is None:
            self._entries.clear()
        else:
            self._entries.pop(digest, None)


class EpochReader(Protocol):
    def __call__(self, *, db_session: Session | Connection) -> int: ...


def _lookup(state: Any, token: str, terminal_header: str | None) -> Actor:
    authenticator: Authenticator = state.authenticator
    with state.sessionmaker() as db_session:
        actor = authenticator(db_session=db_session, token=token, terminal_id=terminal_header)
        db_session.rollback()
    return actor


def _read_epoch(state: Any) -> int:
    """The auth epoch now, on a bare connection: no session (an AUTOCOMMIT connection measured slower: the pool
    resets its isolation level on return)."""
    read_epoch: EpochReader = state.auth_epoch
    with state.engine.connect() as connection:
        epoch = read_epoch(db_session=connection)
        connection.rollback()
    return epoch


def _epoch_reads(state: Any) -> FreshRead[int]:
    reads = getattr(state, "auth_epoch_reads", None)
    if reads is None:
        reads = state.auth_epoch_reads = FreshRead(lambda: _read_epoch(state))
    return reads


async def _lookup_under_epoch(state: Any, digest: bytes, token: str, terminal_header: str | None) -> Actor:
    """The cached actor if the auth epoch has not moved since it was cached, else the token looked up (and
    cached under the epoch read before the lookup, so a revocation committed meanwhile is not missed). The
    epoch is read after this request came, in a read shared with the requests waiting for it at once
    (`core.fresh_reads`)."""
    cache: ActorCache = state.actor_cache
    epoch = await _epoch_reads(state).read()
    actor = cache.get(digest, terminal_header, epoch)
    if actor is None:
        actor = await run_in_threadpool(_lookup, state, token, terminal_header)
        cache.put(digest, actor, terminal_header, actor.token_expires_at, epoch)
    return actor


async def current_actor(request: Request, token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    """The actor behind the bearer token: from the actor cache, or looked up in a short read-only
    session of its own on a worker thread (the request's own transaction is unaffected)."""
    if not token:
        raise Unauthorized()
    return await actor_for(request, token, request.headers.get(TERMINAL_HEADER))


async def actor_for(request: Request, token: str, terminal_header: str | None) -> Actor:
    """The actor behind `token` presented with `terminal_header`, however the request carried them (the
    API's Authorization and X-Terminal-Id headers, or the pages' session cookies): the same cache, the
    same lookup, the same refusals (Unauthorized with its code)."""
    state = request.app.state
    cache: ActorCache = state.actor_cache
    digest = token_digest(token)
    if getattr(state, "auth_epoch", None) is not None and cache.ttl > 0:
        actor = await _lookup_under_epoch(state, digest, token, terminal_header)
    else:
        actor = cache.get(digest, terminal_header)
        if actor is None:
            actor = await run_in_threadpool(_lookup, state, token, terminal_header)
            cache.put(digest, actor, terminal_header, actor.token_expires_at)
    request.state.actor_id = str(actor.user_id)
    return actor


def forget_cached_actors(request: Request, token: str | None = None) -> None:
    """Drop cached authentications after a revocation: one token's, or all of them, in this process (on the
    carrier platform the auth epoch the revocation bumped does so in every process)."""
    request.app.state.actor_cache.forget(token_digest(token) if token else None)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require(*roles: Role) -> Any:
    """A dependency that lets only `roles` through: `actor: Annotated[Actor, require(Role.ADMIN)]`."""
    allowed = frozenset(roles)

    async def check(actor: CurrentActor) -> Actor:
        if actor.role not in allowed:
            raise Forbidden("Your role may not do this.", code="role_not_allowed")
        return actor

    return Depends(check)
