"""The counter waybill numbers are drawn from (one per carrier), before `numbers` permutes it."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.db import Base


class WaybillCounter(Base):
    __tablename__ = "waybill_counters"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger, default=1)
