"""A company's carrier connections: which carriers it has a contract with, how the console reaches each
(an adapter and the carrier's API address) and the company's credentials there, sealed under the platform's key
(`keys.EnterpriseKeys`, bound to the connection). The credentials are never answered back. No HTTP.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, FieldError, Invalid, NotFound
from parcelguard.enterprise.adapters import registry
from parcelguard.enterprise.platform.keys import EnterpriseKeys
from parcelguard.enterprise.platform.models import CarrierConnection
from parcelguard.enterprise.rates.model import is_carrier_code

# The adapters the console knows (docs/enterprise.md, "Adapters"): a parcelguard carrier platform over its API.
ADAPTERS = frozenset(registry.ADAPTERS)


@dataclass(frozen=True)
class Credentials:
    """The company's account at the carrier (an enterprise account under its agreement)."""

    username: str
    password: str


def _checked(*, code: str | None, name: str | None, adapter: str | None, base_url: str | None,
             credentials: Credentials | None) -> None:
    """422 `connection_invalid` naming each bad field given (None: not given), all at once."""
    errors = []
    if code is not None and not is_carrier_code(code):
        errors.append(FieldError(pointer="/code", code="carrier_code_format",
                                 detail="A carrier code is 1 to 16 letters, digits, dashes or underscores (SF, ZTO, JD)."))
    if name is not None and not 0 < len(name.strip()) <= 200:
        errors.append(FieldError(pointer="/name", code="name_format", detail="A name is 1 to 200 characters."))
    if adapter is not None and adapter not in ADAPTERS:
        errors.append(FieldError(pointer="/adapter", code="adapter_unknown",
                                 detail="Known adapters: " + ", ".join(sorted(ADAPTERS)) + "."))
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment \
                or len(base_url) > 500:
            errors.append(FieldError(pointer="/base_url", code="base_url_format",
                                     detail="The carrier's API address, as http(s)://host[:port][/path]."))
    if credentials is not None and (not credentials.username or not credentials.password
                                    or len(credentials.username) > 64 or len(credentials.password) > 200):
        errors.append(FieldError(pointer="/credentials", code="credentials_format",
                                 detail="The company's username (at most 64) and password (at most 200) there."))
    if errors:
        raise Invalid("The connection is not valid.", code="connection_invalid", errors=errors)


def _seal(keys: EnterpriseKeys, connection: CarrierConnection, credentials: Credentials) -> None:
    connection.credentials = keys.seal_credentials(connection.id, json.dumps(
        {"username": credentials.username, "password": credentials.password}).encode())


def add(*, db_session: Session, keys: EnterpriseKeys, company_id: uuid.UUID, code: str, name: str, adapter: str,
        base_url: str, credentials: Credentials) -> CarrierConnection:
    """A new connection (422 naming each bad field, all at once; 409 for a code the company has already)."""
    _checked(code=code, name=name, adapter=adapter, base_url=base_url, credentials=credentials)
    if db_session.scalar(select(CarrierConnection.id).where(CarrierConnection.company_id == company_id,
                                                            CarrierConnection.code == code)) is not None:
        raise Conflict("The company has a connection with this code.", code="connection_code_taken", field="/code")
    connection = CarrierConnection(id=uuid.uuid4(), company_id=company_id, code=code, name=name.strip(),
                                   adapter=adapter, base_url=base_url.rstrip("/"), credentials=b"", active=True,
                                   created_at=now())
    _seal(keys, connection, credentials)
    db_session.add(connection)
    db_session.flush()
    return connection


def change(*, db_session: Session, keys: EnterpriseKeys, company_id: uuid.UUID, connection_id: uuid.UUID,
           name: str | None = None, base_url: str | None = None, credentials: Credentials | None = None,
           active: bool | None = None) -> CarrierConnection:
    """The company's connection with what is given changed (a carrier's new address, the company's new password
    there, a connection paused or resumed); the code and the adapter stay. 422 naming each bad field and nothing
    changed; 404 for another company's. A paused connection quotes nothing and takes no order."""
    _checked(code=None, name=name, adapter=None, base_url=base_url, credentials=credentials)
    connection = get(db_session=db_session, company_id=company_id, connection_id=connection_id)
    if name is not None:
        connection.name = name.strip()
    if base_url is not None:
        connection.base_url = base_url.rstrip("/")
    if credentials is not None:
        _seal(keys, connection, credentials)
    if active is not None:
        connection.active = active
    db_session.flush()
    return connection


def listed(*, db_session: Session, company_id: uuid.UUID) -> list[CarrierConnection]:
    return list(db_session.scalars(select(CarrierConnection).where(CarrierConnection.company_id == company_id)
                                   .order_by(CarrierConnection.code)))


@dataclass(frozen=True)
class Named:
    id: uuid.UUID
    code: str
    name: str


def active(*, db_session: Session, company_id: uuid.UUID) -> list[Named]:
    """The company's active connections by id, code and name only (what a quote shows; no credentials read)."""
    rows = db_session.execute(select(CarrierConnection.id, CarrierConnection.code, CarrierConnection.name).where(
        CarrierConnection.company_id == company_id, CarrierConnection.active.is_(True))
        .order_by(CarrierConnection.code))
    return [Named(*row) for row in rows]


def get(*, db_session: Session, company_id: uuid.UUID, connection_id: uuid.UUID) -> CarrierConnection:
    """The company's connection (404 `connection_unknown` for another company's, as for none)."""
    found = db_session.get(CarrierConnection, connection_id)
    if found is None or found.company_id != company_id:
        raise NotFound("The company has no connection with this id.", code="connection_unknown")
    return found


def usable(*, db_session: Session, company_id: uuid.UUID, connection_id: uuid.UUID) -> CarrierConnection:
    """The company's connection to ship with: 409 `connection_paused` when its admin paused it."""
    found = get(db_session=db_session, company_id=company_id, connection_id=connection_id)
    if not found.active:
        raise Conflict("This carrier connection is paused.", code="connection_paused", field="/connection_id")
    return found


def credentials_of(keys: EnterpriseKeys, connection: CarrierConnection) -> Credentials:
    opened = json.loads(keys.open_credentials(connection.id, connection.credentials))
    return Credentials(username=opened["username"], password=opened["password"])
