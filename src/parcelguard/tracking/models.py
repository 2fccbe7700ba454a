"""Scan events (what happened to a parcel, where and by whom: no personal data) and the public lookup's
counters (how often a client looked up numbers, and how often they missed: for detection)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class ScanEvent(Base):
    __tablename__ = "scan_events"
    __table_args__ = (Index(None, "shipment_id", "at"), Index(None, "carrier_id", "actor_id", "at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"))
    event: Mapped[str] = mapped_column(String(24))  # tracking.service.Event
    # Why, for a delivery attempt or an exception (a code of `service.REASONS`); never free text.
    reason: Mapped[str | None] = mapped_column(String(24))
    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    terminal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("terminals.id"))
    station_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stations.id"))
    at: Mapped[datetime] = mapped_column(default=now)


class LookupCounter(Base):
    """Public tracking lookups of one client in one hour: all of them and the misses (unknown numbers and
    wrong phone tails). The key is an HMAC of the client's address, never the address."""

    __tablename__ = "lookup_counters"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # POSIX seconds
    lookups: Mapped[int] = mapped_column(default=0)
    misses: Mapped[int] = mapped_column(default=0)
