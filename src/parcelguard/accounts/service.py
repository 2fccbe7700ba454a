"""Carriers, stations, staff accounts, sign-in and terminals. Knows nothing of HTTP.

Every query that reads a carrier-owned row is scoped by the caller's carrier: another carrier's
object is `NotFound`, never `Forbidden`, so its existence does not leak.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.accounts import auth_epoch
from parcelguard.accounts.models import AuthToken, Carrier, LoginThrottle, Station, Terminal, User
from parcelguard.core import auth
from parcelguard.core.auth import CARRIER_ROLES, STATION_ROLES, Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
WAYBILL_PREFIX = re.compile(r"^[A-Z]{2,4}$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
STATION_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
REGION_CODE = re.compile(r"^\d{6}$")
MIN_PASSWORD_LENGTH = 10


# -- carriers and stations ------------------------------------------------------------------------

def create_carrier(*, db_session: Session, slug: str, name: str, waybill_prefix: str) -> Carrier:
    if not SLUG.match(slug):
        raise Invalid("A carrier slug is 2-32 lowercase letters, digits or dashes.", code="slug_format", field="/slug")
    if not WAYBILL_PREFIX.match(waybill_prefix):
        raise Invalid("A waybill prefix is 2-4 capital letters.", code="waybill_prefix_format",
                      field="/waybill_prefix")
    taken = db_session.scalar(
        select(Carrier.id).where((Carrier.slug == slug) | (Carrier.waybill_prefix == waybill_prefix))
    )
    if taken is not None:
        raise Conflict("A carrier with this slug or waybill prefix exists.", code="carrier_exists")
    carrier = Carrier(slug=slug, name=name.strip(), waybill_prefix=waybill_prefix)
    db_session.add(carrier)
    db_session.flush()
    return carrier


def get_carrier_by_slug(*, db_session: Session, slug: str) -> Carrier | None:
    return db_session.scalar(select(Carrier).where(Carrier.slug == slug))


def carrier_ids(*, db_session: Session) -> list[uuid.UUID]:
    """Every carrier's id, in a stable order."""
    return list(db_session.scalars(select(Carrier.id).order_by(Carrier.slug)))


def get_carrier_by_prefix(*, db_session: Session, prefix: str) -> Carrier | None:
    """The carrier whose waybill numbers start with `prefix` (prefixes are unique among carriers)."""
    return db_session.scalar(select(Carrier).where(Carrier.waybill_prefix == prefix))


def station_regions(*, db_session: Session, station_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The region code (GB/T 2260) of each of these stations: where a parcel's scan happened."""
    rows = db_session.execute(select(Station.id, Station.region_code).where(Station.id.in_(list(station_ids))))
    return {station_id: code for station_id, code in rows}


def get_carrier(*, db_session: Session, carrier_id: uuid.UUID) -> Carrier:
    carrier = db_session.get(Carrier, carrier_id)
    if carrier is None:
        raise NotFound("No such carrier.", code="carrier_unknown")
    return carrier


def create_station(*, db_session: Session, carrier_id: uuid.UUID, code: str, name: str, region_code: str) -> Station:
    if not STATION_CODE.match(code):
        raise Invalid("A station code is 2-32 capital letters, digits or dashes.", code="station_code_format",
                      field="/code")
    if not REGION_CODE.match(region_code):
        raise Invalid("A region code is 6 digits (GB/T 2260).", code="region_code_format", field="/region_code")
    exists = db_session.scalar(select(Station.id).where(Station.carrier_id == carrier_id, Station.code == code))
    if exists is not None:
        raise Conflict("This carrier has a station with this code.", code="station_exists")
    station = Station(carrier_id=carrier_id, code=code, name=name.strip(), region_code=region_code)
    db_session.add(station)
    db_session.flush()
    return station


def list_stations(*, db_session: Session, carrier_id: uuid.UUID) -> list[Station]:
    return list(db_session.scalars(select(Station).where(Station.carrier_id == carrier_id).order_by(Station.code)))


def get_station(*, db_session: Session, carrier_id: uuid.UUID, station_id: uuid.UUID) -> Station:
    station = db_session.scalar(select(Station).where(Station.id == station_id, Station.carrier_id == carrier_id))
    if station is None:
        raise NotFound("No such station.", code="station_unknown")
    return station


def get_station_by_code(*, db_session: Session, carrier_id: uuid.UUID, code: str) -> Station:
    station = db_session.scalar(select(Station).where(Station.code == code, Station.carrier_id == carrier_id))
    if station is None:
        raise NotFound("No such station.", code="station_unknown")
    return station


# -- users ----------------------------------------------------------------------------------------

def create_user(
    *,
    db_session: Session,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    carrier_id: uuid.UUID | None = None,
    station_id: uuid.UUID | None = None,
) -> User:
    if not USERNAME.match(username):
        raise Invalid("A username is 3-64 lowercase letters, digits, dots, dashes or underscores.",
                      code="username_format", field="/username")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"A password has at least {MIN_PASSWORD_LENGTH} characters.", code="password_too_short",
                      field="/password")
    if role in CARRIER_ROLES and carrier_id is None:
        raise Invalid(f"A {role} account belongs to a carrier.", code="carrier_required", field="/carrier")
    if role not in CARRIER_ROLES and carrier_id is not None:
        raise Invalid(f"A {role} account belongs to no carrier.", code="carrier_not_allowed", field="/carrier")
    if role in STATION_ROLES:
        if station_id is None:
            raise Invalid(f"A {role} account belongs to a station.", code="station_required", field="/station")
        assert carrier_id is not None
        get_station(db_session=db_session, carrier_id=carrier_id, station_id=station_id)
    elif station_id is not None:
        raise Invalid(f"A {role} account belongs to no station.", code="station_not_allowed", field="/station")
    if db_session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("This username is taken.", code="username_taken", field="/username")
    user = User(
        username=username, password_hash=auth.hash_password(password), role=str(role),
        display_name=display_name.strip(), carrier_id=carrier_id, station_id=station_id,
    )
    db_session.add(user)
    db_session.flush()
    return user


def get_user(*, db_session: Session, carrier_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """A user of this carrier; another carrier's user is as unknown as a missing one."""
    user = db_session.scalar(select(User).where(User.id == user_id, User.carrier_id == carrier_id))
    if user is None:
        raise NotFound("No such user.", code="user_unknown")
    return user


def get_user_by_username(*, db_session: Session, username: str) -> User | None:
    return db_session.scalar(select(User).where(User.username == username))


# -- sign-in --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User
    terminal_id: uuid.UUID | None


def sign_in(
    *,
    db_session: Session,
    username: str,
    password: str,
    terminal_id: str | None,
    token_ttl: timedelta,
    max_failures: int,
    lockout: timedelta,
) -> IssuedToken:
    """Check a password and issue a bearer token, bound to a terminal when one is named.

    Failures count per username in a transaction of their own, so they hold even though this
    request fails and rolls back; after `max_failures` the username is locked for `lockout`.
    """
    username = username.strip().lower()
    moment = now()
    throttle = auth.refuse_if_locked(db_session=db_session, throttle=LoginThrottle, username=username, moment=moment)
    user = get_user_by_username(db_session=db_session, username=username)
    auth.check_password(db_session=db_session, throttle=LoginThrottle, throttle_row=throttle, username=username,
                        account=user, password=password, max_failures=max_failures, lockout=lockout)
    assert user is not None

    terminal: Terminal | None = None
    if terminal_id:
        terminal = _usable_terminal(db_session=db_session, user=user, terminal_id=terminal_id)
    token, digest = auth.new_token()
    expires_at = moment + token_ttl
    db_session.add(AuthToken(
        user_id=user.id, carrier_id=user.carrier_id, token_hash=digest, issued_at=moment, expires_at=expires_at,
        terminal_id=terminal.id if terminal else None,
    ))
    db_session.flush()
    return IssuedToken(token=token, expires_at=expires_at, user=user, terminal_id=terminal.id if terminal else None)


def _usable_terminal(*, db_session: Session, user: User, terminal_id: str) -> Terminal:
    try:
        tid = uuid.UUID(terminal_id)
    except ValueError:
        raise Unauthorized("This terminal is not registered.", code="terminal_unknown") from None
    terminal = db_session.get(Terminal, tid)
    if terminal is None or terminal.carrier_id != user.carrier_id:
        raise Unauthorized("This terminal is not registered.", code="terminal_unknown")
    if terminal.revoked_at is not None:
        raise Unauthorized("This terminal has been revoked.", code="terminal_revoked")
    if user.station_id is not None and terminal.station_id != user.station_id:
        raise Unauthorized("This terminal belongs to another station.", code="terminal_other_station")
    return terminal


_ACTOR_QUERY = (
    select(
        AuthToken.id, AuthToken.expires_at, AuthToken.revoked_at, AuthToken.terminal_id,
        User.id, User.username, User.role, User.carrier_id, User.station_id, User.active,
        Terminal.revoked_at,
    )
    .join(User, User.id == AuthToken.user_id)
    .outerjoin(Terminal, Terminal.id == AuthToken.terminal_id)
)


def authenticate(*, db_session: Session, token: str, terminal_id: str | None) -> Actor:
    """The actor behind a bearer token (core.auth.Authenticator). One indexed query per request."""
    row = db_session.execute(_ACTOR_QUERY.where(AuthToken.token_hash == auth.token_digest(token))).first()
    if row is None:
        raise Unauthorized("The token is not valid.", code="token_invalid")
    (token_id, expires_at, revoked_at, bound_terminal, user_id, username, role, carrier_id, station_id,
     active, terminal_revoked_at) = row
    if revoked_at is not None:
        raise Unauthorized("The token has been revoked.", code="token_revoked")
    if expires_at <= now():
        raise Unauthorized("The token has expired.", code="token_expired")
    if not active:
        raise Unauthorized("The account is disabled.", code="account_disabled")
    if bound_terminal is not None:
        if terminal_id != str(bound_terminal):
            raise Unauthorized("This token works only from the terminal it was issued to.",
                               code="terminal_mismatch")
        if terminal_revoked_at is not None:
            raise Unauthorized("This terminal has been revoked.", code="terminal_revoked")
    return Actor(
        user_id=user_id, username=username, role=Role(role), carrier_id=carrier_id, station_id=station_id,
        token_id=token_id, terminal_id=bound_terminal, token_expires_at=expires_at.timestamp(),
    )


def sign_out(*, db_session: Session, actor: Actor) -> None:
    token = db_session.get(AuthToken, actor.token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = now()
        auth_epoch.bump(db_session=db_session)


# -- terminals ------------------------------------------------------------------------------------

def register_terminal(
    *, db_session: Session, actor: Actor, serial: str, label: str, station_id: uuid.UUID | None = None
) -> Terminal:
    """A station manager registers a terminal at their station (HQ roles name the station)."""
    carrier_id = _carrier_of(actor)
    if actor.role == Role.STATION_MANAGER:
        if station_id is not None and station_id != actor.station_id:
            raise NotFound("No such station.", code="station_unknown", field="/station_id")
        station_id = actor.station_id
    if station_id is None:
        raise Invalid("Name the station the terminal works at.", code="station_required", field="/station_id")
    get_station(db_session=db_session, carrier_id=carrier_id, station_id=station_id)
    serial = serial.strip()
    exists = db_session.scalar(select(Terminal.id).where(Terminal.carrier_id == carrier_id, Terminal.serial == serial))
    if exists is not None:
        raise Conflict("A terminal with this serial is registered.", code="terminal_exists", field="/serial")
    terminal = Terminal(carrier_id=carrier_id, station_id=station_id, serial=serial, label=label.strip(),
                        registered_by=actor.user_id)
    db_session.add(terminal)
    db_session.flush()
    return terminal


def list_terminals(*, db_session: Session, actor: Actor) -> list[Terminal]:
    stmt = select(Terminal).where(Terminal.carrier_id == _carrier_of(actor)).order_by(Terminal.registered_at)
    if actor.role == Role.STATION_MANAGER:
        stmt = stmt.where(Terminal.station_id == actor.station_id)
    return list(db_session.scalars(stmt))


def get_terminal(*, db_session: Session, actor: Actor, terminal_id: uuid.UUID) -> Terminal:
    stmt = select(Terminal).where(Terminal.id == terminal_id, Terminal.carrier_id == _carrier_of(actor))
    if actor.role == Role.STATION_MANAGER:
        stmt = stmt.where(Terminal.station_id == actor.station_id)
    terminal = db_session.scalar(stmt)
    if terminal is None:
        raise NotFound("No such terminal.", code="terminal_unknown")
    return terminal


def set_printer(*, db_session: Session, actor: Actor, terminal_id: uuid.UUID, address: str | None) -> Terminal:
    """Name the thermal printer a terminal prints labels on (None: none). The address is checked here
    (`check_printer_address`), the station's manager sets it for their own station's terminals."""
    terminal = get_terminal(db_session=db_session, actor=actor, terminal_id=terminal_id)
    terminal.printer = None if address is None else check_printer_address(address)
    db_session.flush()
    return terminal


def printer_of(*, db_session: Session, actor: Actor) -> str | None:
    """The printer of the terminal the actor signed in on, if it has one."""
    if actor.terminal_id is None or actor.carrier_id is None:
        return None
    return db_session.scalar(select(Terminal.printer).where(Terminal.id == actor.terminal_id,
                                                            Terminal.carrier_id == actor.carrier_id))


DEFAULT_PRINTER_PORT = 9100  # raw printing (JetDirect), what Zebra and most label printers listen on


def check_printer_address(address: str) -> str:
    """`host[:port]` with a literal IP address of a private, loopback or link-local network: a station's
    printer sits on the station's LAN, and the server must not be told to open connections anywhere else.
    Answers it as `host:port` (an IPv6 address in brackets)."""
    text = address.strip()
    host, port = text, DEFAULT_PRINTER_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") if rest.startswith(":") else ("" if not rest else "x")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        port_text = ""
    try:
        ip = ipaddress.ip_address(host)
        port = int(port_text) if port_text else DEFAULT_PRINTER_PORT
    except ValueError:
        raise Invalid("A printer is an IP address with an optional port, e.g. 192.168.1.50:9100.",
                      code="printer_address_invalid", field="/address") from None
    if not 1 <= port <= 65535:
        raise Invalid("The port is 1 to 65535.", code="printer_address_invalid", field="/address")
    if ip.is_global or ip.is_multicast or ip.is_unspecified:
        raise Invalid("A printer's address is one of the station's own network (private, loopback or link-local).",
                      code="printer_address_public", field="/address")
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def revoke_terminal(*, db_session: Session, actor: Actor, terminal_id: uuid.UUID) -> Terminal:
    terminal = get_terminal(db_session=db_session, actor=actor, terminal_id=terminal_id)
    if terminal.revoked_at is None:
        terminal.revoked_at = now()
        auth_epoch.bump(db_session=db_session)
    return terminal


def _carrier_of(actor: Actor) -> uuid.UUID:
    if actor.carrier_id is None:
        raise Forbidden("This account belongs to no carrier.", code="carrier_required")
    return actor.carrier_id
