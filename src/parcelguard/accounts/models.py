"""Carriers (tenants), their stations (网点), staff accounts, bearer tokens, terminals and login throttling."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, UniqueConstraint, false
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
    # Reveals need the account's current confidentiality agreement and training (and its organisation's
    # security clause): on for every carrier made from 0013 on; off for those made before, until their staff's
    # obligations are on record (an upgrade must not stop every delivery at once).
    obligations_required: Mapped[bool] = mapped_column(default=True, server_default=false())
    # What adding staff whose document the industry blacklist lists does: `refuse` or `flag` (an alert).
    blacklist_policy: Mapped[str] = mapped_column(String(8), default="flag", server_default="flag")


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
    # A franchisee's (加盟商) or a third party's staff: the organisation's security clause bounds the account.
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partner_organisations.id"), index=True)
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


class PartnerOrganisation(Base):
    """A franchisee (加盟商) or a third party that enters waybill data, with its security clause on record: its
    accounts inherit the clause's scope (the purposes it covers) and its expiry (0013)."""

    __tablename__ = "partner_organisations"
    __table_args__ = (UniqueConstraint("carrier_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # franchisee | third_party
    name: Mapped[str] = mapped_column(String(200))
    clause_version: Mapped[str] = mapped_column(String(32))
    clause_signed_on: Mapped[date]
    clause_expires_on: Mapped[date]
    scope: Mapped[str] = mapped_column(String(200))  # the purposes the clause covers, comma-separated
    created_at: Mapped[datetime] = mapped_column(default=now)


class StaffObligation(Base):
    """A staff member's confidentiality agreement (保密协议) or training (培训) on record: which version, signed
    or passed on which day, until which day (0013). The newest of each kind counts."""

    __tablename__ = "staff_obligations"
    __table_args__ = (Index(None, "carrier_id", "user_id", "kind"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))  # confidentiality | training
    version: Mapped[str] = mapped_column(String(32))
    signed_on: Mapped[date]
    expires_on: Mapped[date]
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=now)


class AuthEpoch(Base):
    """One row: a counter every change of who may act (sign-out, a revoked terminal, a retired or contained
    account) increases in its own transaction. A process trusts an actor it cached only while the counter is
    where it was when the actor was looked up, so a revocation holds in every worker process at once."""

    __tablename__ = "auth_epoch"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # always 1
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
