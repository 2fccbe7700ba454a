"""Virtual numbers (隐私号, the AXN-with-extension model): a carrier's pool of protected numbers, the
binding of each shipment to a (number, extension) pair, and the call records the telephony provider
pushes.

A pair is unique among live bindings (`released_at IS NULL`), enforced by a partial unique index, so
two shipments can never share one whatever the concurrency. A binding is live until delivery plus the
grace period (`expires_at`, set at delivery), then released and the pair reused. A call record keeps
the outcome and times only: never the caller's or the callee's number.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from parcelguard.core.clock import now
from parcelguard.core.db import Base


class PrivacyNumber(Base):
    """A protected number (E.164) of a carrier's pool. A number belongs to one carrier."""

    __tablename__ = "privacy_numbers"

    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    added_at: Mapped[datetime] = mapped_column(default=now)


class NumberBinding(Base):
    __tablename__ = "number_bindings"
    __table_args__ = (
        # The pair is unique among live bindings: the database, not the allocator, guarantees it.
        Index("uq_number_bindings_live_pair", "number", "extension", unique=True,
              sqlite_where=text("released_at IS NULL"), postgresql_where=text("released_at IS NULL")),
        Index("uq_number_bindings_live_shipment", "shipment_id", unique=True,
              sqlite_where=text("released_at IS NULL"), postgresql_where=text("released_at IS NULL")),
        # What the release sweep reads: live bindings only, so released history does not slow it down.
        Index("ix_number_bindings_live_expiry", "carrier_id", "expires_at",
              sqlite_where=text("released_at IS NULL"), postgresql_where=text("released_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    shipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shipments.id"), index=True)
    number: Mapped[str] = mapped_column(ForeignKey("privacy_numbers.number"))
    extension: Mapped[str] = mapped_column(String(4))
    bound_at: Mapped[datetime] = mapped_column(default=now)
    # None until delivery; then delivery time + grace period. Past it, the binding routes no call.
    expires_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]


class ProviderSecret(Base):
    """A generation of the secret the carrier's telephony provider signs with. The secret itself is never
    stored: it is derived from the carrier's keys and the generation (`service.provider_secrets`). A
    carrier without rows signs with generation 0. The current generation has no `retires_at`; the one it
    replaced keeps working until its `retires_at` (the overlap a provider needs to switch), older ones
    are dead."""

    __tablename__ = "provider_secrets"

    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"), primary_key=True)
    generation: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(default=now)
    retires_at: Mapped[datetime | None]


class CallRecord(Base):
    """One call through a binding, as the provider reported it (stored once per provider call id)."""

    __tablename__ = "call_records"
    __table_args__ = (UniqueConstraint("carrier_id", "provider_call_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    carrier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carriers.id"))
    provider_call_id: Mapped[str] = mapped_column(String(64))
    binding_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("number_bindings.id"), index=True)
    shipment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("shipments.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # answered | busy | no_answer | powered_off | unreachable | number_invalid
    outcome: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(default=now)
