"""Detection's tables (issue 14): a carrier's tuned thresholds, the record of each run, and the access report
written when a staff member leaves. Counts, statistics and ids only: no personal data, no copy of the log (the
log itself is `audit_entries`, read where it lies)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class DetectionSettings(Base):
    """A carrier's own thresholds (`detection.thresholds.Thresholds` as JSON); no row: the defaults in code."""

    __tablename__ = "detection_settings"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=now)


class DetectionRun(Base):
    """One run over a window of a carrier's log: when, over what, how long, and what it found."""

    __tablename__ = "detection_runs"
    __table_args__ = (Index(None, "carrier_id", "started_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | command_line | api
    started_at: Mapped[datetime] = mapped_column(default=now)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    history_start: Mapped[datetime]
    actors: Mapped[int] = mapped_column(default=0)  # accounts with entries in the window
    findings: Mapped[int] = mapped_column(default=0)
    alerts_raised: Mapped[int] = mapped_column(default=0)  # new alerts (a finding already alerted is not new)
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class DepartureReport(Base):
    """The audit of a leaver's access (寄递服务用户个人信息安全管理规定: audit on staff departure), written when
    the account is retired: their last 90 days in the carrier's log, as counts (`breakdown`: by purpose, and by
    Beijing day and purpose)."""

    __tablename__ = "departure_reports"
    __table_args__ = (Index(None, "carrier_id", "user_id"), Index(None, "carrier_id", "created_at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(32))
    retired_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    entries: Mapped[int] = mapped_column(default=0)  # every entry of theirs: reveals, refusals, changes
    reveals: Mapped[int] = mapped_column(default=0)  # allowed reveals of shipments
    distinct_subjects: Mapped[int] = mapped_column(default=0)
    denied: Mapped[int] = mapped_column(default=0)
    off_shift: Mapped[int] = mapped_column(default=0)
    untasked: Mapped[int] = mapped_column(default=0)
    last_index: Mapped[int | None] = mapped_column(BigInteger)  # their newest entry in the period
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSON)
