"""Shipments and their assignments to couriers.

The personal fields of a shipment are stored only as AES-GCM ciphertexts under the carrier's keys,
bound to (table, column, row): nothing but the gate (`audit.service.reveal`) turns them back into text.
Intake (issue 5) adds the waybill number, the real-name record and the contents to this table.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        Index(None, "carrier_id", "origin_station_id"),
        Index(None, "carrier_id", "destination_station_id"),
        Index(None, "carrier_id", "customer_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    origin_station_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stations.id"))
    destination_station_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stations.id"))
    # The enterprise account that shipped it, when one did.
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    sender_name: Mapped[bytes] = mapped_column(LargeBinary)
    sender_phone: Mapped[bytes] = mapped_column(LargeBinary)
    sender_address: Mapped[bytes] = mapped_column(LargeBinary)
    recipient_name: Mapped[bytes] = mapped_column(LargeBinary)
    recipient_phone: Mapped[bytes] = mapped_column(LargeBinary)
    recipient_address: Mapped[bytes] = mapped_column(LargeBinary)


class Assignment(Base):
    """A task given to a courier: pick a shipment up, or deliver it. Open until `closed_at`."""

    __tablename__ = "shipment_assignments"
    __table_args__ = (
        Index(None, "carrier_id", "courier_id", "opened_at"),
        Index(None, "shipment_id", "courier_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"))
    courier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    task: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(default=now)
    closed_at: Mapped[datetime | None]
