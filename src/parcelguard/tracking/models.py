"""Scan events: what happened to a parcel, where and by whom (no personal data)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class ScanEvent(Base):
    __tablename__ = "scan_events"
    __table_args__ = (Index(None, "shipment_id", "at"), Index(None, "carrier_id", "actor_id", "at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"))
    event: Mapped[str] = mapped_column(String(24))  # delivery (scanned to deliver) | delivered
    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    terminal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("terminals.id"))
    station_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stations.id"))
    at: Mapped[datetime] = mapped_column(default=now)
