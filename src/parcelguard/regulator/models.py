"""The carrier side of the regulator feed: the outbox of sealed real-name records waiting to be sent.

Intake writes one row per record in the same transaction as the shipment; the uploader (issue 6)
sends them in signed batches and marks them delivered when the regulator's receipt names them.
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
