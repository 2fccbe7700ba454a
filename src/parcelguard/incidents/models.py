"""Incidents' tables (issue 14): an incident with its steps' times, the accounts and alerts it concerns, the
parcels its assessment found revealed, and the signed reports sent to the regulator. Ids, counts and texts an
officer wrote (refused when they look like personal data): no personal data."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class Incident(Base):
    """A suspected or known leak of users' personal data and what the carrier did about it. `status` follows
    the steps: open → contained → assessed → remedied → reported, or dismissed (not a leak, with a reason)."""

    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("carrier_id", "reference"), Index(None, "carrier_id", "opened_at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    reference: Mapped[str] = mapped_column(String(40))  # INC-<Beijing day>-<n>, what people say and the report names
    kind: Mapped[str] = mapped_column(String(64))  # the alert's kind, or `manual`
    source: Mapped[str] = mapped_column(String(16))  # alert | honeytoken | manual
    status: Mapped[str] = mapped_column(String(16), default="open")
    summary: Mapped[str] = mapped_column(String(2000))
    opened_at: Mapped[datetime] = mapped_column(default=now)
    opened_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))  # None: opened by the gate
    contained_at: Mapped[datetime | None]
    contained_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    assessed_at: Mapped[datetime | None]
    assessment: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # counts: `assessment.Assessment.stored()`
    remedied_at: Mapped[datetime | None]
    remedy_actions: Mapped[list[str] | None] = mapped_column(JSON)
    remedy_note: Mapped[str | None] = mapped_column(String(2000))
    reported_at: Mapped[datetime | None]
    dismissed_at: Mapped[datetime | None]
    dismiss_reason: Mapped[str | None] = mapped_column(String(2000))


class IncidentAccount(Base):
    """An account an incident concerns; `disabled_at` once containment disabled it (and revoked its tokens)."""

    __tablename__ = "incident_accounts"

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(default=now)
    disabled_at: Mapped[datetime | None]


class IncidentAlert(Base):
    """An alert an incident was opened from or took in: an alert belongs to one incident at most."""

    __tablename__ = "incident_alerts"

    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), index=True)


class IncidentSubject(Base):
    """A parcel the assessment found revealed by an account of the incident in its window: whom to notify."""

    __tablename__ = "incident_subjects"

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    shipment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reveals: Mapped[int]


class IncidentReport(Base):
    """A signed report to the regulator (`regulator.incident_protocol`): the exact canonical body and signature
    as sent, and the regulator's signed receipt once it answered. The uploader sends what has no receipt."""

    __tablename__ = "incident_reports"
    __table_args__ = (Index(None, "carrier_id", "receipt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the report id on the wire
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), unique=True)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[bytes] = mapped_column(LargeBinary)  # canonical JSON of the report without its signature
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    key_id: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    last_attempt_at: Mapped[datetime | None]
    receipt: Mapped[bytes | None] = mapped_column(LargeBinary)  # the receipt's wire JSON, as it came
    receipt_at: Mapped[datetime | None]
