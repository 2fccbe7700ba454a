"""Retention's tables (issue 15): a carrier's own retention per data class (no row: the class's default), and the
signed destruction records. No personal data."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class RetentionSetting(Base):
    """A carrier's retention of one data class, in months (at least the class's minimum)."""

    __tablename__ = "retention_settings"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    data_class: Mapped[str] = mapped_column(String(64), primary_key=True)
    months: Mapped[int]
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=now)


class DestructionRecord(Base):
    """One class's month destroyed: the canonical JSON body (`retention.records`), its Ed25519 signature by the
    carrier's `retention` key, and the index of its entry in the carrier's audit log."""

    __tablename__ = "destruction_records"
    __table_args__ = (Index(None, "carrier_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    run_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=now)
    data_class: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    key_id: Mapped[int] = mapped_column(BigInteger)
    audit_index: Mapped[int] = mapped_column(BigInteger)


class LegalHold(Base):
    """A parcel held for an investigation case: its values were moved to the class `legal_hold` in the month
    `moved_period`, which is not shredded while the hold is in force (`released_at` None)."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index(None, "carrier_id", "released_at"), Index(None, "case_id"), Index(None, "shipment_id"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("investigation_cases.id"))
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"))
    moved_period: Mapped[str] = mapped_column(String(16))
    placed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime] = mapped_column(default=now)
    released_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[datetime | None]


class RetentionProgress(Base):
    """Where a class's row deletion (`retention.deletion`) got to for a carrier: every month before
    `deleted_before` is done, so a daily run does not look at those months again."""

    __tablename__ = "retention_progress"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    data_class: Mapped[str] = mapped_column(String(64), primary_key=True)
    deleted_before: Mapped[datetime]
