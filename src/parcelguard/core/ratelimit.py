"""Fixed-window request counters kept in the database, so a limit holds across processes.

(Model only for now; the limiter is being written.)
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.db import Base


class RateCounter(Base):
    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)  # never a raw address or identifier
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # POSIX seconds
    count: Mapped[int] = mapped_column(default=0)
