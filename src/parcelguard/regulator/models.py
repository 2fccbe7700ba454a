"""The carrier side of the regulator feed: the outbox of sealed real-name records waiting to be sent,
and the batches the uploader sent.

Intake writes one row per record in the same transaction as the shipment; the uploader sends them in
signed batches and marks them delivered when the regulator's signed receipt names them (and the
record's sealed copy is deleted in the same transaction). A record the regulator rejects is set
aside with its reason and an alert; it is not sent again.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class OutboxEntry(Base):
    __tablename__ = "regulator_outbox"
    __table_args__ = (Index(None, "delivered_at", "id"),)

    # BIGINT on PostgreSQL; SQLite numbers rows only for a column declared INTEGER.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("realname_records.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    rejected_reason: Mapped[str | None] = mapped_column(String(64))


class UploadBatch(Base):
    """One batch the uploader sent, and how it ended: what `/metrics` counts."""

    __tablename__ = "regulator_upload_batches"
    __table_args__ = (Index(None, "carrier_id", "sent_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the batch id on the wire
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    sent_at: Mapped[datetime]
    records: Mapped[int]
    accepted: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    # receipted: a signed receipt came back and was applied; failed: no usable receipt (`error` says why)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(64))
    duration_ms: Mapped[int] = mapped_column(default=0)
