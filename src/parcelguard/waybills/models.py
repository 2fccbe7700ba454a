"""The counter waybill numbers are drawn from (one per carrier), before `numbers` permutes it, and the
carrier's label settings."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class WaybillCounter(Base):
    __tablename__ = "waybill_counters"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger, default=1)


class WaybillSettings(Base):
    """A carrier's label settings as an admin last saved them: the masking policy and the sorting-code
    table, as JSON in the shape of `waybills.policy.LabelSettings`. No row means the documented defaults."""

    __tablename__ = "waybill_settings"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    saved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    saved_at: Mapped[datetime] = mapped_column(default=now)
