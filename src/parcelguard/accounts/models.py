"""Carriers (tenants), their stations (网点), staff accounts, bearer tokens, terminals and login throttling."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class Carrier(Base):
    """An express carrier: the tenant every carrier-owned row belongs to."""

    __tablename__ = "carriers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    waybill_prefix: Mapped[str] = mapped_column(String(4), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Settings an admin changes (`PATCH /api/v1/carrier/settings`), each change logged.
    # Refuse an intake whose sender document is the taking courier's own (the alert is raised either way).
    refuse_courier_own_id: Mapped[bool] = mapped_column(default=False, server_default=false())


class Station(Base):
    """A station (网点): where couriers are based and parcels are collected and delivered."""

    __tablename__ = "stations"
    __table_args__ = (UniqueConstraint("carrier_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(default=now)


class User(Base):
    """A person who signs in: carrier staff, an enterprise shipper, or a regulator official."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("carriers.id"), index=True)
    station_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stations.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class AuthToken(Base):
    """A bearer token; only its SHA-256 digest is stored, so a database dump signs nobody in."""

    __tablename__ = "auth_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    carrier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("carriers.id"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    terminal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("terminals.id"))
    issued_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Terminal(Base):
    """A courier's handheld terminal or phone, registered by a station manager; revocable."""

    __tablename__ = "terminals"
    __table_args__ = (UniqueConstraint("carrier_id", "serial"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), index=True)
    station_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stations.id"), index=True)
    serial: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    registered_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    registered_at: Mapped[datetime] = mapped_column(default=now)
    revoked_at: Mapped[datetime | None]
    # The networked thermal printer (ZPL over raw TCP, port 9100 by default) this terminal prints labels
    # on, as `host:port`: a literal address of the station's own network, set by its manager.
    printer: Mapped[str | None] = mapped_column(String(64))


class LoginThrottle(Base):
    """Failed sign-ins per username, counted in the database so a lock holds across processes.

    Keyed by username whether or not an account has it, so a lock does not reveal which exist.
    """

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
