"""Webhooks of enterprise shippers: where a customer wants to hear of its parcels' status changes, and
each delivery of such a notice with its attempts (the visible delivery log). No personal data: a notice
names the parcel by its waybill number and says its status, the event and the city."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index(None, "carrier_id", "customer_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))  # the enterprise account
    url: Mapped[str] = mapped_column(String(500))
    # The signing secret is derived from the carrier's stable key, the endpoint and this generation: never
    # stored, shown once at creation and at each rotation.
    generation: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=now)
    disabled_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One notice to one endpoint: pending until the endpoint answers 2xx (delivered) or the attempts run
    out (failed); `next_attempt_at` is when the sender tries next (backoff with full jitter)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index(None, "status", "next_attempt_at"), Index(None, "endpoint_id", "created_at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id"))
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))  # shipment.status_changed
    payload: Mapped[str] = mapped_column(Text)  # the JSON body sent, exactly
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=now)
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(64))  # a code: timeout, connect_failed, http_503, ...
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
